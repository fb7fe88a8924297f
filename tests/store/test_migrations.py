"""The migrations build exactly the schema the models describe, on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from distributor.store import Base, Database
from distributor.store.partitions import is_partition_name
from tests.conftest import new_database_url


def test_migrations_match_the_models_and_can_be_repeated(backend, postgres, tmp_path):
    db = Database(new_database_url(backend, postgres, tmp_path))
    db.upgrade()
    db.upgrade()  # `distributor db upgrade` is idempotent
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": include_name})
        assert compare_metadata(context, Base.metadata) == []
    db.dispose()


def include_name(name, type_, parent_names) -> bool:
    """PostgreSQL's partitions of the ledger are not models (migration 0012)."""
    return not (type_ == "table" and is_partition_name(name))


def test_the_quick_schema_check_knows_the_newest_migration():
    from alembic.script import ScriptDirectory

    from distributor.store.db import HEAD
    from distributor.store.migrate import alembic_config

    assert HEAD == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_an_idn_address_stored_by_an_older_version_gets_its_ascii_domain(backend, postgres, tmp_path):
    from sqlalchemy import text

    from distributor.store.migrate import upgrade

    db = Database(new_database_url(backend, postgres, tmp_path))
    upgrade(db.engine, "0003")
    with db.engine.begin() as connection:
        connection.execute(text("INSERT INTO subscribers (email, name, created_at) VALUES "
                                "('leser@bücher.de', '', CURRENT_TIMESTAMP), "
                                "('both@bücher.de', '', CURRENT_TIMESTAMP), "
                                "('both@xn--bcher-kva.de', '', CURRENT_TIMESTAMP)"))
    db.upgrade()
    with db.engine.connect() as connection:
        emails = sorted(connection.execute(text("SELECT email FROM subscribers")).scalars())
    assert emails == ["both@bücher.de", "both@xn--bcher-kva.de", "leser@xn--bcher-kva.de"]
    db.dispose()


def test_every_migration_can_be_undone_and_done_again(backend, postgres, tmp_path):
    """`alembic downgrade base` walks every downgrade to an empty database; the upgrade
    after it builds the same schema again (a release can be rolled back)."""
    from alembic import command
    from sqlalchemy import inspect

    from distributor.store.migrate import alembic_config

    db = Database(new_database_url(backend, postgres, tmp_path))
    db.upgrade()
    command.downgrade(alembic_config(db.engine), "base")
    with db.engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
    db.upgrade()
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": include_name})
        assert compare_metadata(context, Base.metadata) == []
    db.dispose()

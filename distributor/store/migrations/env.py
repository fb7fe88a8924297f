"""Alembic environment: the engine comes from distributor.store.migrate."""

from alembic import context

from distributor.store.partitions import is_partition_name
from distributor.store.tables import Base


def include_name(name, type_, parent_names) -> bool:
    return not (type_ == "table" and is_partition_name(name))


engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,
    )
    context.run_migrations()

"""Engine and sessions. SQLite runs in WAL mode with a busy timeout so that the
API, several workers and beat can share one file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from distributor.errors import ConfigError, Unavailable

# The newest migration: the versions folder's files are named NNNN_what.py, NNNN the revision.
HEAD = max(path.name[:4] for path in
           (Path(__file__).parent / "migrations" / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except Exception:
        raise ConfigError("DISTRIBUTOR_DATABASE_URL: not a database URL") from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        return create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10)
    except Exception as exc:  # unknown dialect or driver
        raise ConfigError(f"DISTRIBUTOR_DATABASE_URL: {type(exc).__name__}") from None


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Database:
    """One engine and its session factory for this process."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with self.sessions() as session, session.begin():
            yield session

    def ping(self) -> None:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except OperationalError as exc:
            raise Unavailable(f"database does not answer: {exc.orig.__class__.__name__}") from None

    def upgrade(self) -> None:
        from distributor.store.migrate import upgrade  # Alembic loads only when it must

        upgrade(self.engine)

    def ensure_schema(self) -> None:
        """Upgrade unless the schema is already at the newest migration: a cheap check,
        so that commands on a local SQLite file do not load Alembic every time."""
        try:
            with self.engine.connect() as connection:
                current = connection.execute(text("SELECT version_num FROM alembic_version"))
                if current.scalar() == HEAD:
                    return
        except SQLAlchemyError:
            pass  # no schema yet
        self.upgrade()

    def dispose(self) -> None:
        self.engine.dispose()

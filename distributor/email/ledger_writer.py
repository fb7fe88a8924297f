"""Each reader's ledger row, written through the database driver itself, and committed
together with the rows other threads of this process are writing at that moment.

The row is written and committed right after the server's 250, once per recipient,
on every worker thread at once. Two things made that write cost more than sending
the email (SQLite, two bulk processes of eight threads, measured):

- SQLAlchemy's handling of a statement, cheap alone, once eight threads took turns
  holding the GIL: these two statements go to the driver's cursor as they are
  (worker CPU per message 342 -> 247 µs at eight threads in one process);
- one commit per row: every commit takes the database's write lock, and a thread
  that finds it taken sleeps in SQLite's busy handler. Rows are group-committed:
  a thread that arrives while another is committing queues its row, and the next
  of them commits every queued row in one transaction (230 -> 190 µs in the full
  worker, with 2 to 3 rows a transaction).

Each thread still returns only once its own row is committed, so the promise of
DESIGN.md holds as before: a killed worker repeats at most the one message in flight
on each thread. Errors come out as SQLAlchemy's, and only for the row that caused
them: a transaction that fails is written again row by row.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from distributor.states import DeliveryState
from distributor.store import Delivery

_INSERT = ("INSERT INTO deliveries (send_id, subscriber_id, state, attempts, error, at) "
           "VALUES (?, ?, ?, 1, ?, ?)")
_RETRIED = ("UPDATE deliveries SET state = ?, attempts = attempts + 1, error = ?, at = ? "
            "WHERE send_id = ? AND subscriber_id = ?")


@dataclass(eq=False)
class _Row:
    statement: str
    parameters: tuple
    done: bool = False  # its transaction ended: committed unless `error`
    error: BaseException | None = None


class _GroupCommit:
    """The rows of one database's writers in this process. The first thread to arrive
    while nobody writes leads: it takes every queued row, writes them in one
    transaction on its own connection, and wakes the others; a thread whose row is
    still queued when it wakes leads the next transaction."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.queued: list[_Row] = []
        self.writing = False
        self.transactions = self.rows = 0  # what it wrote so far, to see it group

    def write(self, cursor, begin: str, errors: type[Exception], row: _Row) -> None:
        with self.changed:
            self.queued.append(row)
            while self.writing and not row.done:
                self.changed.wait()
            group: list[_Row] = []
            if not row.done:  # lead: take every queued row, this one among them
                self.writing, group, self.queued = True, self.queued, []
        if group:
            try:
                _commit(cursor, begin, errors, group)
            except BaseException as exc:  # interrupted: no row of the group may pass as written
                for written in group:
                    written.error = written.error or exc
                raise
            finally:
                with self.changed:
                    for written in group:
                        written.done = True
                    self.transactions, self.rows = self.transactions + 1, self.rows + len(group)
                    self.writing = False
                    self.changed.notify_all()
        if row.error is not None:
            raise row.error


def _commit(cursor, begin: str, errors: type[Exception], group: list[_Row]) -> None:
    """Commit the rows in one transaction; if that fails, each by itself, so that an
    error reaches only the writer of the row that caused it."""
    if len(group) > 1:
        try:
            cursor.execute(begin)
            for row in group:
                cursor.execute(row.statement, row.parameters)
            cursor.execute("COMMIT")
            return
        except Exception:
            try:
                cursor.execute("ROLLBACK")
            except Exception:
                pass  # no transaction was open (BEGIN itself failed)
    for row in group:
        try:
            cursor.execute(row.statement, row.parameters)
        except errors as exc:
            row.error = DBAPIError.instance(row.statement, row.parameters, exc, errors,
                                            hide_parameters=True)
        except Exception as exc:  # not the database's, yet this row's alone
            row.error = exc


_groups: weakref.WeakKeyDictionary[Engine, _GroupCommit] = weakref.WeakKeyDictionary()
_groups_lock = threading.Lock()


def _group_for(engine: Engine) -> _GroupCommit:
    with _groups_lock:
        group = _groups.get(engine)
        if group is None:
            group = _groups[engine] = _GroupCommit()
        return group


class LedgerWriter:
    """Writes ledger rows on one connection (it autocommits: a row that goes alone is
    one round trip, not an INSERT and then a COMMIT)."""

    def __init__(self, connection: Connection):
        self.connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        dialect = self.connection.dialect
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self._insert, self._retried = (sql.replace("?", mark) for sql in (_INSERT, _RETRIED))
        self._at = (Delivery.__table__.c.at.type.dialect_impl(dialect).bind_processor(dialect)
                    or (lambda value: value))
        # SQLite: take the write lock at BEGIN, where the busy timeout waits for it.
        self._begin = "BEGIN IMMEDIATE" if dialect.name == "sqlite" else "BEGIN"
        self._cursor = self.connection.connection.dbapi_connection.cursor()
        self._errors = dialect.loaded_dbapi.Error
        self._group = _group_for(self.connection.engine)

    def record(self, send_id: int, subscriber_id: int, state: DeliveryState, error: str | None,
               retried: bool) -> None:
        """Returns once the row is committed."""
        at = self._at(datetime.now(UTC))
        if retried:
            row = _Row(self._retried, (str(state), error, at, send_id, subscriber_id))
        else:
            row = _Row(self._insert, (send_id, subscriber_id, str(state), error, at))
        self._group.write(self._cursor, self._begin, self._errors, row)

    def close(self) -> None:
        try:
            self._cursor.close()
        finally:
            self.connection.close()

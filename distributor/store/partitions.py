"""PostgreSQL: the deliveries ledger partitioned by ranges of send id (migration 0012).

Sends are numbered in time order, so each range of STEP send ids is a stretch of time.
Partitions are made AHEAD ranges beyond the newest send (by `distributor db prune` and
beat's daily prune); a row whose range has none lands in deliveries_default. A range
whose sends all ended before the retention cutoff is dropped whole by the ledger
(email/ledger.py): no row-by-row delete, no table bloat. SQLite has none of this.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, text

STEP = 1000
AHEAD = 2
_NAME = re.compile(r"^deliveries_s(\d+)$")


@dataclass(frozen=True)
class Partition:
    name: str
    low: int  # send ids low <= id < high
    high: int


def is_partition_name(name: str | None) -> bool:
    """deliveries_s<N> and deliveries_default: the database's, not the models' (alembic
    autogenerate is told to leave them alone)."""
    return bool(name and (_NAME.match(name) or name == "deliveries_default"))


def is_partitioned(connection: Connection) -> bool:
    if connection.dialect.name != "postgresql":
        return False
    return connection.execute(text(
        "SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass('deliveries')")).scalar() is True


def partitions(connection: Connection) -> list[Partition]:
    names = connection.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'deliveries'::regclass")).scalars()
    found = [Partition(n, int(m.group(1)), int(m.group(1)) + STEP)
             for n in names if (m := _NAME.match(n))]
    return sorted(found, key=lambda p: p.low)


def newest_send(connection: Connection) -> int:
    return connection.execute(text("SELECT coalesce(max(id), 0) FROM sends")).scalar()


def ensure_ahead(connection: Connection) -> list[str]:
    """Make the ranges up to AHEAD beyond the newest send. Never a range at or below it:
    its rows may already sit in the default partition."""
    top = newest_send(connection)
    existing = partitions(connection)
    start = max(existing[-1].high if existing else 0, (top // STEP + 1) * STEP)
    made = []
    for low in range(start, (top // STEP + 1 + AHEAD) * STEP, STEP):
        name = f"deliveries_s{low}"
        connection.execute(text(f"CREATE TABLE {name} PARTITION OF deliveries "
                                f"FOR VALUES FROM ({low}) TO ({low + STEP})"))
        made.append(name)
    return made


def closed(connection: Connection) -> list[Partition]:
    """Partitions no new send can land in: a later send exists."""
    top = newest_send(connection)
    return [p for p in partitions(connection) if p.high <= top]


def drop(connection: Connection, partition: Partition, keep_states: tuple[str, ...]) -> int:
    """Detach and drop a partition, first moving its rows in `keep_states` to the default
    partition. Returns how many rows were kept. One transaction: the caller's."""
    connection.execute(text(f"CREATE TEMPORARY TABLE kept_deliveries AS "
                            f"SELECT * FROM {partition.name} WHERE state IN :states")
                       .bindparams(bindparam("states", expanding=True)),
                       {"states": list(keep_states)})
    connection.execute(text(f"ALTER TABLE deliveries DETACH PARTITION {partition.name}"))
    kept = connection.execute(text("INSERT INTO deliveries SELECT * FROM kept_deliveries")).rowcount
    connection.execute(text(f"DROP TABLE {partition.name}"))
    connection.execute(text("DROP TABLE kept_deliveries"))
    return kept

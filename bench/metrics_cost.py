"""What the database part of a `/metrics` scrape costs while a big send runs
(`python -m bench --only metrics`): one running send whose ledger holds ROWS rows
(COPY into a throwaway database on the local PostgreSQL, 1 in 10,000 deferred), the
scrape's ledger reads timed, median of 20; then again without the partial index on
deferred rows (migration 0013), to show what it saves."""

from __future__ import annotations

import statistics
import time

import psycopg

from bench import scale
from bench.common import Workspace
from distributor.monitor.metrics import LedgerCollector
from distributor.store import Database

SCRAPES = 20


def _timed(collector: LedgerCollector) -> float:
    samples = []
    for _ in range(SCRAPES):
        started = time.perf_counter()
        list(collector._from_ledger())
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def run(rows: int = 1_000_000, server_url: str | None = None) -> dict:
    url, drop = scale._database(server_url or scale.DEFAULT_SERVER)
    space = Workspace()
    db = None
    try:
        db = Database(url)
        db.upgrade()
        with psycopg.connect(scale._libpq(url)) as connection:
            connection.execute(
                "INSERT INTO lists (name, kind, schedule, timezone, sections, double_opt_in, "
                "max_age, local_time, created_at) VALUES ('daily', 'digest', '0 7 * * *', "
                "'UTC', '[]', false, 86400, false, now())")
            connection.execute(
                "INSERT INTO sends (kind, list_id, state, planned, article_ids, created_at) "
                "SELECT 'digest', id, 'running', %s, '[]', now() FROM lists", (rows,))
            send_id = connection.execute("SELECT max(id) FROM sends").fetchone()[0]
            with connection.cursor().copy(
                    "COPY deliveries (send_id, subscriber_id, state, attempts, at) "
                    "FROM STDIN") as copy:
                for n in range(rows):
                    copy.write_row((send_id, n + 1, "deferred" if n % 10_000 == 0 else "sent",
                                    1, "2026-01-01T00:00:00Z"))
            connection.commit()
        with psycopg.connect(scale._libpq(url), autocommit=True) as connection:
            connection.execute("ANALYZE")
        collector = LedgerCollector(db, space.configure("maildir:/dev/null", url))
        with_index = _timed(collector)
        with psycopg.connect(scale._libpq(url), autocommit=True) as connection:
            connection.execute("DROP INDEX ix_deliveries_deferred")
        without_index = _timed(collector)
    finally:
        space.cleanup()
        if db is not None:
            db.dispose()
        drop()
    return {"rows": rows, "with_index_ms": with_index, "without_index_ms": without_index}

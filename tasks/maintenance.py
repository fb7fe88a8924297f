import logging
from datetime import UTC, datetime

from redis import RedisError

from distributor.email import ledger
from distributor.monitor.queues import record_beat, silent_holders
from distributor.outbox import leases, wake
from tasks import runtime
from tasks.app import app
from tasks.dispatch import CeleryDispatcher

log = logging.getLogger("distributor.sweeper")


@app.task(name="maintenance.sweep")
def sweep() -> dict:
    try:  # the last beat run, for `distributor status` and the dashboard
        record_beat(runtime.redis_client(), prefix=runtime.settings().broker_prefix)
    except RedisError as exc:
        log.warning("beat heartbeat not recorded: %s", type(exc).__name__)
    batches, posts = wake.sweep(runtime.db(), CeleryDispatcher(app), datetime.now(UTC),
                                  runtime.sweep_grace())
    if batches or posts:
        log.info("sweeper re-enqueued batches=%s posts=%s", batches, posts)
    return {"batches": batches, "posts": posts}


@app.task(name="maintenance.reclaim")
def reclaim() -> dict:
    """Beat, every few seconds: the leases of workers whose heartbeat stopped are void."""
    silent = silent_holders(runtime.redis_client(), leases.HOLDER_SILENCE,
                            prefix=runtime.settings().broker_prefix)
    batches, posts = wake.reclaim(runtime.db(), CeleryDispatcher(app), datetime.now(UTC), silent)
    if batches or posts:
        log.info("reclaimed from silent workers batches=%s posts=%s", batches, posts)
    return {"batches": batches, "posts": posts}


@app.task(name="maintenance.prune")
def prune() -> dict:
    """Beat, daily: roll up the ledger rows of sends past the retention window."""
    result = ledger.prune(runtime.db(), runtime.settings().ledger_retention, datetime.now(UTC))
    if result.sends:
        log.info("pruned ledger rows=%s of sends=%s", result.rows, result.sends)
    return {"sends": result.sends, "rows": result.rows}

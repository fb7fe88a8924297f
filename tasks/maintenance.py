import logging
from datetime import UTC, datetime

from distributor import outbox
from tasks import runtime
from tasks.app import app
from tasks.dispatch import CeleryDispatcher

log = logging.getLogger("distributor.sweeper")


@app.task(name="maintenance.sweep")
def sweep() -> dict:
    batches, posts = outbox.sweep(runtime.db(), CeleryDispatcher(app), datetime.now(UTC),
                                  runtime.sweep_grace())
    if batches or posts:
        log.info("sweeper re-enqueued batches=%s posts=%s", batches, posts)
    return {"batches": batches, "posts": posts}

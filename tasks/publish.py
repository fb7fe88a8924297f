from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from distributor.outbox import wake
from tasks import runtime
from tasks.app import app
from tasks.dispatch import CeleryDispatcher


@app.task(name="publish.fan_out", autoretry_for=(SQLAlchemyError,), retry_backoff=True,
          max_retries=10)
def fan_out(article_id: int) -> dict:
    posts, batches = wake.fan_out(runtime.db(), CeleryDispatcher(app), article_id,
                                    datetime.now(UTC))
    return {"posts": posts, "batches": batches}


@app.task(name="publish.release")
def release() -> dict:
    """Beat, every 30 s: hand the workers what an embargo held until now."""
    posts, batches = wake.release(runtime.db(), CeleryDispatcher(app), datetime.now(UTC))
    return {"posts": posts, "batches": batches}

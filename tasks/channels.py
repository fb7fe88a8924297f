import logging

from sqlalchemy.exc import SQLAlchemyError

from distributor.channels.post import run_post
from distributor.monitor.counters import count_post
from distributor.states import Outcome
from tasks import runtime
from tasks.app import app
from tasks.dispatch import CeleryDispatcher

log = logging.getLogger("distributor.channels")


@app.task(name="channels.post", autoretry_for=(SQLAlchemyError,), retry_backoff=True,
          max_retries=10)
def post(post_id: int) -> dict:
    result = run_post(runtime.db(), runtime.settings(), runtime.http(), post_id,
                      limiter=runtime.limiter())
    log.info("post=%s state=%s%s", post_id, result.state,
             f" error={result.error}" if result.error else "")
    if result.state not in (Outcome.RETRY, Outcome.BUSY):
        count_post(runtime.redis_client(), runtime.settings().broker_prefix, runtime.db(), post_id,
                   str(result.state))
    if result.state == Outcome.RETRY:
        CeleryDispatcher(app).post(post_id, countdown=result.retry_in)
    return {"state": result.state}

import logging

from sqlalchemy.exc import SQLAlchemyError

from distributor.email.batch import run_batch
from distributor.email.confirm import send_confirmation
from distributor.errors import TransientError
from distributor.states import Outcome
from tasks import runtime
from tasks.app import app
from tasks.dispatch import CeleryDispatcher

log = logging.getLogger("distributor.email")


@app.task(name="email.send_batch", autoretry_for=(SQLAlchemyError,), retry_backoff=True,
          max_retries=10)
def send_batch(batch_id: int) -> dict:
    result = run_batch(runtime.db(), runtime.settings(), runtime.transport(), batch_id)
    log.info("batch=%s state=%s sent=%s deferred=%s failed=%s skipped=%s%s", batch_id,
             result.state, result.sent, result.deferred, result.failed, result.skipped,
             f" error={result.error}" if result.error else "")
    if result.state == Outcome.RETRY:
        CeleryDispatcher(app).send_batch(batch_id, countdown=result.retry_in)
    return {"state": result.state, "sent": result.sent}


@app.task(name="email.confirm", autoretry_for=(SQLAlchemyError, TransientError),
          retry_backoff=30, max_retries=8)
def confirm(subscription_id: int) -> bool:
    return send_confirmation(runtime.db(), runtime.settings(), runtime.transport(),
                             subscription_id)

import logging
from datetime import UTC, datetime

from distributor import outbox
from distributor.digest import due_lists, trigger_digest
from tasks import runtime
from tasks.app import app
from tasks.dispatch import CeleryDispatcher

log = logging.getLogger("distributor.digests")


@app.task(name="digests.tick")
def tick() -> int:
    """Beat, every minute: start each digest whose scheduled time has come."""
    due = due_lists(runtime.db(), datetime.now(UTC))
    for list_name, when in due:
        send.delay(list_name, when.isoformat())
    return len(due)


@app.task(name="digests.send")
def send(list_name: str, scheduled_for: str | None = None, since: str | None = None) -> dict:
    result = trigger_digest(
        runtime.db(), runtime.settings(), list_name,
        scheduled_for=datetime.fromisoformat(scheduled_for) if scheduled_for else None,
        since=datetime.fromisoformat(since) if since else None)
    log.info("digest list=%s state=%s send=%s articles=%s recipients=%s", list_name,
             result.state, result.send_id, result.articles, result.recipients)
    if result.state == "planned":
        outbox.enqueue_send(runtime.db(), CeleryDispatcher(app), result.send_id,
                            datetime.now(UTC))
    return {"state": result.state, "send_id": result.send_id}

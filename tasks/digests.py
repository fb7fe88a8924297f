import logging
from datetime import UTC, datetime

from distributor.email.digests import due_lists, send_now
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
    result = send_now(
        runtime.db(), runtime.settings(), CeleryDispatcher(app), list_name,
        scheduled_for=datetime.fromisoformat(scheduled_for) if scheduled_for else None,
        since=datetime.fromisoformat(since) if since else None)
    log.info("digest list=%s state=%s send=%s articles=%s recipients=%s", list_name,
             result.state, result.send_id, result.articles, result.recipients)
    return {"state": result.state, "send_id": result.send_id}

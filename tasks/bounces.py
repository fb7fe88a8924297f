"""The bounce mailbox: `bounces.poll` (beat, every `[bounces] every`) reads it once.
A refused login or an unreachable server is recorded for status and /health and
waits for the next beat; it never stops other work."""

import logging

from distributor.email.mailbox import poll_mailbox
from distributor.errors import MailboxError
from distributor.monitor.counters import count_bounces
from tasks import runtime
from tasks.app import app

log = logging.getLogger("distributor.bounces")


@app.task(name="bounces.poll", soft_time_limit=300, time_limit=330)
def poll() -> dict:
    settings = runtime.settings()
    if settings.bounces.imap is None:
        return {"mailbox": None}
    try:
        polled = poll_mailbox(runtime.db(), settings)
    except MailboxError as exc:
        log.warning("bounce mailbox: %s", exc)
        return {"error": str(exc)}
    count_bounces(runtime.redis_client(), settings.broker_prefix, polled.taken.by_list)
    return polled.as_dict()

"""Feed polling. `feeds.tick` (beat, every 30 s) asks for a `feeds.poll` of each
feed whose interval has elapsed; the poll claims the feed's row, so duplicate
ticks or a concurrent `distributor feeds poll` never poll one feed twice."""

import logging
from datetime import UTC, datetime

from distributor.inbound import feeds
from tasks import runtime
from tasks.app import app, queue_name
from tasks.dispatch import CeleryDispatcher

log = logging.getLogger("distributor.feeds")


@app.task(name="feeds.tick")
def tick() -> int:
    due = feeds.due_feeds(runtime.db(), runtime.settings(), datetime.now(UTC))
    for feed in due:
        app.send_task("feeds.poll", args=[feed.url],
                      queue=queue_name(runtime.settings(), "maintenance"))
    return len(due)


@app.task(name="feeds.poll", soft_time_limit=300, time_limit=330)
def poll(url: str) -> dict:
    feed = feeds.feed_config(runtime.settings(), url)
    if feed is None:  # removed from the config since the tick
        return {"url": feeds.display_url(url), "status": "not configured"}
    result = feeds.poll_feed(runtime.db(), runtime.settings(), feed, runtime.http(),
                             CeleryDispatcher(app))
    return result.as_dict()

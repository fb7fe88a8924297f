"""Running totals for /metrics, kept in Redis by the workers where results are recorded,
so a scrape reads three small hashes instead of aggregating the whole ledger.

They count results as they happen: a failure retried from the dashboard that then
goes out counts once as failed and once as sent. They live as long as Redis keeps its
data; Prometheus treats a restart from zero as a counter reset."""

from __future__ import annotations

import logging

import redis
from sqlalchemy import select

from distributor.store import ChannelPost, Database

log = logging.getLogger("distributor.metrics")
EMAILS = "distributor:metrics:emails"  # field: list \x1f result
POSTS = "distributor:metrics:posts"  # field: channel \x1f result
RETRIES = "distributor:metrics:retries"  # field: kind \x1f name
BOUNCES = "distributor:metrics:bounces"  # field: list \x1f bounce kind
SEP = "\x1f"


def count_emails(client: redis.Redis, prefix: str, list_name: str | None,
                 tally: dict[str, int], retries: int) -> None:
    """Add one batch run's final results (sent, failed, bounced, skipped) and retries."""
    if not list_name or not (tally or retries):
        return
    pipe = client.pipeline(transaction=False)
    for result, count in tally.items():
        if count:
            pipe.hincrby(prefix + EMAILS, f"{list_name}{SEP}{result}", count)
    if retries:
        pipe.hincrby(prefix + RETRIES, f"email{SEP}{list_name}", retries)
    _run(pipe)


def count_post(client: redis.Redis, prefix: str, db: Database, post_id: int, result: str) -> None:
    """Add one channel post's final result, and its attempts beyond the first."""
    with db.session() as session:
        row = session.execute(select(ChannelPost.channel, ChannelPost.attempts)
                              .where(ChannelPost.id == post_id)).first()
    if row is None:
        return
    channel, attempts = row
    pipe = client.pipeline(transaction=False)
    pipe.hincrby(prefix + POSTS, f"{channel}{SEP}{result}", 1)
    if attempts and attempts > 1:
        pipe.hincrby(prefix + RETRIES, f"channel{SEP}{channel}", attempts - 1)
    _run(pipe)


def count_bounces(client: redis.Redis, prefix: str, tally: dict[tuple[str, str], int]) -> None:
    """Add recorded bounces and complaints: {(list, kind): n}."""
    if not tally:
        return
    pipe = client.pipeline(transaction=False)
    for (list_name, kind), count in tally.items():
        pipe.hincrby(prefix + BOUNCES, f"{list_name}{SEP}{kind}", count)
    _run(pipe)


def _run(pipe) -> None:
    try:
        pipe.execute()
    except (redis.RedisError, OSError) as exc:  # the result is in the ledger; only the figure is lost
        log.warning("metrics counters not updated: %s", type(exc).__name__)


def read_counters(client: redis.Redis, prefix: str = "") -> dict[str, dict[tuple[str, str], int]]:
    """{"emails": {(list, result): n}, "posts": {(channel, result): n}, "retries": {(kind, name): n},
    "bounces": {(list, kind): n}}"""
    pipe = client.pipeline(transaction=False)
    for key in (EMAILS, POSTS, RETRIES, BOUNCES):
        pipe.hgetall(prefix + key)
    figures = {}
    for name, raw in zip(("emails", "posts", "retries", "bounces"), pipe.execute(), strict=True):
        figures[name] = {}
        for field_name, value in raw.items():
            first, _, second = field_name.decode().partition(SEP)
            figures[name][(first, second)] = int(value)
    return figures

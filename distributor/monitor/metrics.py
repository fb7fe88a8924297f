"""Prometheus metrics read at scrape time from the ledger and Redis.

Nothing is counted in process memory, so the figures are the same whichever API
process answers and however many worker processes did the work."""

from __future__ import annotations

import logging
import time

import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from sqlalchemy import case, func, select
from sqlalchemy.exc import SQLAlchemyError

from distributor.config import Settings
from distributor.monitor.queues import (
    broker_client,
    last_beat,
    queue_depths,
    worker_heartbeats,
)
from distributor.states import OPEN, SendState
from distributor.store import ChannelPost, Database, Delivery, MailingList, Send

log = logging.getLogger("distributor.metrics")
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200)


class LedgerCollector:
    """A custom collector: each scrape runs a few GROUP BY queries and Redis reads."""

    def __init__(self, db: Database, settings: Settings):
        self.db = db
        self.settings = settings

    def collect(self):
        yield from self._from_ledger()
        yield from self._from_redis()

    def _from_ledger(self):
        up = GaugeMetricFamily("distributor_database_up", "1 when the database answered")
        try:
            with self.db.session() as session:
                emails = session.execute(
                    select(MailingList.name, Delivery.state, func.count(),
                           func.sum(case((Delivery.attempts > 1, Delivery.attempts - 1), else_=0)))
                    .join(Send, Send.id == Delivery.send_id)
                    .join(MailingList, MailingList.id == Send.list_id)
                    .group_by(MailingList.name, Delivery.state)).all()
                posts = session.execute(
                    select(ChannelPost.channel, ChannelPost.state, func.count(),
                           func.sum(case((ChannelPost.attempts > 1, ChannelPost.attempts - 1),
                                         else_=0)))
                    .group_by(ChannelPost.channel, ChannelPost.state)).all()
                durations = session.execute(
                    select(MailingList.name, Send.created_at, Send.finished_at)
                    .join(MailingList, MailingList.id == Send.list_id)
                    .where(Send.state == SendState.DONE, Send.finished_at.is_not(None))).all()
                sends = session.execute(select(Send.state, func.count())
                                        .group_by(Send.state)).all()
        except SQLAlchemyError as exc:
            log.warning("metrics: database does not answer: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up

        # Counters hold final results only (they must not go down); what may still
        # change (deferred emails, posts planned/running/retrying) is a gauge.
        sent = CounterMetricFamily("distributor_emails", "Emails by list and final result "
                                   "(sent, failed, bounced, skipped)", labels=["list", "result"])
        deferred = GaugeMetricFamily("distributor_emails_deferred",
                                     "Recipients waiting for another try (SMTP 4xx)",
                                     labels=["list"])
        retries = CounterMetricFamily("distributor_retries", "Extra attempts beyond the first",
                                      labels=["kind", "name"])
        for list_name, state, count, extra in emails:
            if state == "deferred":
                deferred.add_metric([list_name], count)
            else:
                sent.add_metric([list_name, state], count)
            if extra:
                retries.add_metric(["email", list_name], extra)
        yield sent
        yield deferred

        channel = CounterMetricFamily("distributor_channel_posts", "Channel posts by channel "
                                      "and final result (sent, accepted, failed, …)",
                                      labels=["channel", "result"])
        pending = GaugeMetricFamily("distributor_channel_posts_open", "Channel posts not "
                                    "finished yet, by state", labels=["channel", "state"])
        extra_by_channel: dict[str, int] = {}
        for name, state, count, extra in posts:
            family = pending if state in OPEN else channel
            family.add_metric([name, state], count)
            extra_by_channel[name] = extra_by_channel.get(name, 0) + max(0, extra or 0)
        for name, extra in extra_by_channel.items():
            retries.add_metric(["channel", name], extra)
        yield channel
        yield pending
        yield retries

        states = GaugeMetricFamily("distributor_sends", "Email sends by state", labels=["state"])
        for state, count in sends:
            states.add_metric([state], count)
        yield states

        yield _histogram(durations)

    def _from_redis(self):
        up = GaugeMetricFamily("distributor_broker_up", "1 when the broker (Redis) answered")
        client = broker_client(self.settings)
        try:
            depths = queue_depths(client, self.settings.broker_prefix)
            beats = worker_heartbeats(client, self.settings.broker_prefix)
            beat = last_beat(client, self.settings.broker_prefix)
        except (redis.RedisError, OSError) as exc:
            log.warning("metrics: broker does not answer: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        finally:
            client.close()
        up.add_metric([], 1)
        yield up
        waiting = GaugeMetricFamily("distributor_queue_depth", "Messages waiting in a queue",
                                    labels=["queue"])
        unacked = GaugeMetricFamily("distributor_queue_unacked",
                                    "Messages taken by a worker, not yet acknowledged",
                                    labels=["queue"])
        for queue in depths:
            waiting.add_metric([queue["name"]], queue["waiting"])
            unacked.add_metric([queue["name"]], queue["unacked"])
        yield waiting
        yield unacked
        now = time.time()
        online = GaugeMetricFamily("distributor_workers_online",
                                   "Workers whose heartbeat is under a minute old")
        online.add_metric([], sum(1 for ts in beats.values() if now - ts < 60))
        yield online
        if beat is not None:
            last = GaugeMetricFamily("distributor_beat_last_run_timestamp_seconds",
                                     "Unix time of the last sweeper run started by beat")
            last.add_metric([], beat)
            yield last


def _histogram(rows) -> HistogramMetricFamily:
    family = HistogramMetricFamily("distributor_send_duration_seconds",
                                   "Time from planning a send to its last email, finished sends",
                                   labels=["list"])
    per_list: dict[str, list[float]] = {}
    for list_name, created, finished in rows:
        per_list.setdefault(list_name, []).append(max(0.0, (finished - created).total_seconds()))
    for list_name, values in sorted(per_list.items()):
        buckets = [(str(float(b)), sum(1 for v in values if v <= b)) for b in DURATION_BUCKETS]
        buckets.append(("+Inf", len(values)))
        family.add_metric([list_name], buckets, sum(values))
    return family


def make_registry(db: Database, settings: Settings) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LedgerCollector(db, settings))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)

"""Prometheus metrics read at scrape time from Redis (running counters, queues,
heartbeats) and a few small or indexed database reads (open work, the sends table).

Nothing is counted in process memory, so the figures are the same whichever API
process answers and however many worker processes did the work. A scrape never
aggregates the per-recipient ledger: its cost does not grow with it."""

from __future__ import annotations

import logging
import time

import redis
from kombu.exceptions import KombuError
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from distributor.config import Settings
from distributor.email.mailbox import mailbox_status
from distributor.monitor.counters import read_counters
from distributor.monitor.queues import (
    broker_client,
    broker_queue_depths,
    last_beat,
    worker_heartbeats,
)
from distributor.states import OPEN, SendState
from distributor.store import DEFERRED_ROW, ChannelPost, Database, Delivery, MailingList, Send

log = logging.getLogger("distributor.metrics")
SEND_UNFINISHED = (SendState.PLANNED, SendState.RUNNING, SendState.PAUSED)
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200)


class LedgerCollector:
    """A custom collector: each scrape reads Redis and a few indexed queries."""

    def __init__(self, db: Database, settings: Settings, client: redis.Redis | None = None):
        self.db = db
        self.settings = settings
        self.client = client  # shared by the API; else one connection per scrape

    def collect(self):
        yield from self._from_ledger()
        yield from self._from_redis()

    def _from_ledger(self):
        # Only small or indexed reads: open work and the sends table. Final results come
        # from the running counters in Redis (monitor/counters.py), never from the ledger.
        up = GaugeMetricFamily("distributor_database_up", "1 when the database answered")
        try:
            with self.db.session() as session:
                deferred_rows = session.execute(
                    select(MailingList.name, func.count())
                    .select_from(Send)
                    .join(MailingList, MailingList.id == Send.list_id)
                    .join(Delivery, Delivery.send_id == Send.id)
                    .where(Send.state.in_(SEND_UNFINISHED), DEFERRED_ROW)
                    .group_by(MailingList.name)).all()
                open_posts = session.execute(
                    select(ChannelPost.channel, ChannelPost.state, func.count())
                    .where(ChannelPost.state.in_(OPEN))
                    .group_by(ChannelPost.channel, ChannelPost.state)).all()
                durations = session.execute(
                    select(MailingList.name, Send.created_at, Send.finished_at)
                    .join(MailingList, MailingList.id == Send.list_id)
                    .where(Send.state == SendState.DONE, Send.finished_at.is_not(None))).all()
                sends = session.execute(select(Send.state, func.count())
                                        .group_by(Send.state)).all()
            mailboxes = mailbox_status(self.db)
        except SQLAlchemyError as exc:
            log.warning("metrics: database does not answer: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up

        deferred = GaugeMetricFamily("distributor_emails_deferred",
                                     "Recipients waiting for another try (SMTP 4xx)",
                                     labels=["list"])
        for list_name, count in deferred_rows:
            deferred.add_metric([list_name], count)
        yield deferred

        pending = GaugeMetricFamily("distributor_channel_posts_open", "Channel posts not "
                                    "finished yet, by state", labels=["channel", "state"])
        for name, state, count in open_posts:
            pending.add_metric([name, state], count)
        yield pending

        states = GaugeMetricFamily("distributor_sends", "Email sends by state", labels=["state"])
        for state, count in sends:
            states.add_metric([state], count)
        yield states

        yield _histogram(durations)
        yield from _mailboxes(mailboxes)

    def _counters(self, figures):
        sent = CounterMetricFamily("distributor_emails", "Emails by list and final result "
                                   "(sent, failed, bounced, skipped)", labels=["list", "result"])
        for (list_name, result), count in sorted(figures["emails"].items()):
            sent.add_metric([list_name, result], count)
        yield sent
        channel = CounterMetricFamily("distributor_channel_posts", "Channel posts by channel "
                                      "and final result (sent, accepted, failed, …)",
                                      labels=["channel", "result"])
        for (name, result), count in sorted(figures["posts"].items()):
            channel.add_metric([name, result], count)
        yield channel
        retries = CounterMetricFamily("distributor_retries", "Extra attempts beyond the first",
                                      labels=["kind", "name"])
        for (kind, name), count in sorted(figures["retries"].items()):
            retries.add_metric([kind, name], count)
        yield retries
        bounces = CounterMetricFamily(
            "distributor_bounce_events", "Bounces and complaints recorded, by list and kind "
            "(hard, soft, complaint); over distributor_emails_total{result=\"sent\"} they "
            "give the list's bounce and complaint rates", labels=["list", "kind"])
        for (list_name, kind), count in sorted(figures["bounces"].items()):
            bounces.add_metric([list_name, kind], count)
        yield bounces

    def _from_redis(self):
        up = GaugeMetricFamily("distributor_broker_up", "1 when the broker (Redis) answered")
        client = self.client or broker_client(self.settings)
        try:
            depths = broker_queue_depths(self.settings, client)
            beats = worker_heartbeats(client, self.settings.broker_prefix)
            beat = last_beat(client, self.settings.broker_prefix)
            figures = read_counters(client, self.settings.broker_prefix)
        except (redis.RedisError, OSError, KombuError) as exc:
            log.warning("metrics: broker does not answer: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        finally:
            if client is not self.client:
                client.close()
        up.add_metric([], 1)
        yield up
        yield from self._counters(figures)
        waiting = GaugeMetricFamily("distributor_queue_depth", "Messages waiting in a queue",
                                    labels=["queue"])
        unacked = GaugeMetricFamily("distributor_queue_unacked",
                                    "Messages taken by a worker, not yet acknowledged",
                                    labels=["queue"])
        for queue in depths:
            waiting.add_metric([queue["name"]], queue["waiting"])
            if queue["unacked"] is not None:  # None: RabbitMQ does not say
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


def _mailboxes(mailboxes):
    up = GaugeMetricFamily("distributor_bounce_mailbox_up", "1 when the last poll of the "
                           "bounce mailbox logged in and read it", labels=["mailbox"])
    unparsed = GaugeMetricFamily("distributor_bounce_mailbox_unparsed", "Messages the poller "
                                 "could not read, left in the mailbox", labels=["mailbox"])
    for m in mailboxes:
        up.add_metric([m["mailbox"]], 0 if m["error"] else 1)
        unparsed.add_metric([m["mailbox"]], m["unparsed"])
    yield up
    yield unparsed


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


def make_registry(db: Database, settings: Settings,
                  client: redis.Redis | None = None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LedgerCollector(db, settings, client))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)

"""The Celery app. Redis carries wake-ups; the database says what is owed.

Every task: explicit name, its own queue, acks late, rejected back to the queue
when its worker dies, prefetch 1, time limits under the visibility timeout.
"""

from __future__ import annotations

import os
import uuid

from celery import Celery
from celery.signals import (
    celeryd_after_setup,
    setup_logging,
    task_postrun,
    task_prerun,
    worker_process_init,
    worker_shutdown,
)
from kombu import Exchange, Queue

from distributor.config import Settings
from distributor.logs import bind, unbind
from distributor.logs import setup_logging as configure_logging
from distributor.monitor.heartbeat import WorkerHeartbeat
from distributor.monitor.queues import broker_client
from distributor.outbox import leases
from distributor.outbox.wake import QUEUES
from distributor.store.redis_client import SentinelAddress, is_sentinel
from tasks import runtime

VISIBILITY_TIMEOUT = 3600
MAX_COUNTDOWN = 3000  # ETAs beyond the visibility timeout would be delivered twice
RECLAIM_EVERY = 5.0  # seconds: how often beat looks for leases of workers that died


def queue_name(settings: Settings, name: str) -> str:
    """A queue as the broker knows it. On Redis, kombu puts DISTRIBUTOR_BROKER_PREFIX
    before every key itself; on RabbitMQ the prefix goes before each queue's name."""
    return settings.broker_prefix + name if settings.broker_is_amqp else name


def _queue(settings: Settings, name: str) -> Queue:
    if not settings.broker_is_amqp:
        return Queue(name)
    # Quorum queues: replicated over the RabbitMQ cluster, so a broker node can fail.
    # A topic exchange lets Celery delay retries with RabbitMQ's native delayed delivery
    # (quorum queues cannot hold an ETA message unacked on the worker).
    full = queue_name(settings, name)
    return Queue(full, Exchange(full, type="topic"), routing_key=full,
                 queue_arguments={"x-queue-type": "quorum"})


def broker_options(settings: Settings) -> tuple[str, dict]:
    """The broker URL as kombu reads it, and the transport options for it."""
    if settings.broker_is_amqp:
        return settings.broker_url, {"confirm_publish": True}
    options = {
        "visibility_timeout": VISIBILITY_TIMEOUT,
        "socket_timeout": 5,
        "socket_connect_timeout": 5,
        **({"global_keyprefix": settings.broker_prefix} if settings.broker_prefix else {}),
    }
    if is_sentinel(settings.broker_url):
        options["master_name"] = settings.sentinel_master
        options["sentinel_kwargs"] = {"socket_timeout": 5, "socket_connect_timeout": 5}
        return SentinelAddress.parse(settings.broker_url).kombu_url(), options
    return settings.broker_url, options


def make_app(settings: Settings) -> Celery:
    url, transport_options = broker_options(settings)
    app = Celery("distributor", broker=url, set_as_current=False)
    app.conf.update(
        task_queues=[_queue(settings, name) for name in QUEUES],
        task_default_queue=queue_name(settings, "publish"),
        task_routes={f"{name}.*": {"queue": queue_name(settings, name)} for name in QUEUES},
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_soft_time_limit=600,
        task_time_limit=660,
        task_serializer="json",
        accept_content=["json"],
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        worker_send_task_events=True,
        task_send_sent_event=True,
        worker_hijack_root_logger=False,
        beat_schedule={
            "sweep": {"task": "maintenance.sweep", "schedule": settings.sweep_every},
            "reclaim": {"task": "maintenance.reclaim", "schedule": RECLAIM_EVERY},
            "release": {"task": "publish.release", "schedule": settings.release_every},
            "prune": {"task": "maintenance.prune", "schedule": 86400.0},
            "digests": {"task": "digests.tick", "schedule": settings.digest_tick_every},
            "feeds": {"task": "feeds.tick", "schedule": 30.0,
                      "options": {"queue": queue_name(settings, "maintenance")}},
            **({"bounces": {"task": "bounces.poll", "schedule": settings.bounces.every,
                            "options": {"queue": queue_name(settings, "maintenance")}}}
               if settings.bounces.imap else {}),
        },
        timezone="UTC",
    )
    return app


def _app() -> Celery:
    return make_app(runtime.settings())


app = _app()


@worker_process_init.connect
def _fresh_connections(**_) -> None:
    runtime.reset()
    leases.holder.forget()  # a prefork child: its parent's heartbeat is not its own


@setup_logging.connect
def _logging(loglevel=None, **_) -> None:
    """Our one log format (text or JSON lines, secrets redacted) instead of celery's."""
    configure_logging(runtime.settings(), level=loglevel)


_heartbeat = None


@celeryd_after_setup.connect
def _start_heartbeat(sender=None, **_) -> None:
    """Leave a heartbeat in Redis so /health and /metrics see this worker: from before
    it takes its first task (worker_ready may come after that)."""
    global _heartbeat
    hostname = sender if isinstance(sender, str) else getattr(sender, "hostname", "worker")
    settings = runtime.settings()
    leases.holder.start(f"{hostname}/{os.getpid()}/{uuid.uuid4().hex[:8]}")
    _heartbeat = WorkerHeartbeat(broker_client(settings, timeout=5), hostname,
                                 prefix=settings.broker_prefix, holder=leases.holder).start()


@worker_shutdown.connect
def _stop_heartbeat(**_) -> None:
    if _heartbeat is not None:
        _heartbeat.stop()


# The id each task works on, by task name: added to every log line the task writes.
_TASK_IDS = {"channels.post": "post_id", "email.send_batch": "batch_id",
             "publish.fan_out": "article_id"}


@task_prerun.connect
def _bind_log_context(task_id=None, task=None, args=None, **_) -> None:
    name = getattr(task, "name", None)
    key = _TASK_IDS.get(name)
    ids = {key: args[0]} if key and args else {}
    task.request.distributor_log_token = bind(task=name, task_id=task_id, **ids)


@task_postrun.connect
def _unbind_log_context(task=None, **_) -> None:
    token = getattr(task.request, "distributor_log_token", None)
    if token is not None:
        unbind(token)

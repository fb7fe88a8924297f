"""The Celery app. Redis carries wake-ups; the database says what is owed.

Every task: explicit name, its own queue, acks late, rejected back to the queue
when its worker dies, prefetch 1, time limits under the visibility timeout.
"""

from __future__ import annotations

from celery import Celery
from celery.signals import worker_process_init
from kombu import Queue

from distributor.config import Settings

QUEUES = ("publish", "email", "channels", "digests", "maintenance")
VISIBILITY_TIMEOUT = 3600
MAX_COUNTDOWN = 3000  # ETAs beyond the visibility timeout would be delivered twice


def make_app(settings: Settings) -> Celery:
    app = Celery("distributor", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_queues=[Queue(name) for name in QUEUES],
        task_default_queue="publish",
        task_routes={f"{name}.*": {"queue": name} for name in QUEUES},
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_soft_time_limit=600,
        task_time_limit=660,
        task_serializer="json",
        accept_content=["json"],
        broker_transport_options={
            "visibility_timeout": VISIBILITY_TIMEOUT,
            "socket_timeout": 5,
            "socket_connect_timeout": 5,
        },
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        worker_send_task_events=True,
        task_send_sent_event=True,
        worker_hijack_root_logger=False,
        beat_schedule={
            "sweep": {"task": "maintenance.sweep", "schedule": settings.sweep_every},
            "feeds": {"task": "feeds.tick", "schedule": 30.0, "options": {"queue": "maintenance"}},
        },
        timezone="UTC",
    )
    return app


def _app() -> Celery:
    from tasks import runtime

    return make_app(runtime.settings())


app = _app()


@worker_process_init.connect
def _fresh_connections(**_) -> None:
    from tasks import runtime

    runtime.reset()

"""The Dispatcher of distributor.outbox.wake, over Celery. Tasks are sent by name,
so callers need not import the task modules. Broker errors (kombu's, py-amqp's,
redis-py's, the socket's) are translated here into errors.Unavailable, nowhere else."""

from __future__ import annotations

from celery import Celery
from kombu.exceptions import ChannelError, KombuError
from kombu.exceptions import ConnectionError as AmqpConnectionError
from redis import RedisError

from distributor.errors import Unavailable
from tasks.app import MAX_COUNTDOWN


class CeleryDispatcher:
    def __init__(self, app: Celery):
        self.app = app
        self.native_delays = str(app.conf.broker_url).startswith("amqp")

    def _send(self, name: str, args: list, countdown: float | None = None) -> None:
        if countdown is not None:
            countdown = max(0.0, min(countdown, MAX_COUNTDOWN))
            if self.native_delays and 0 < countdown < 1:
                countdown = 1.0  # RabbitMQ's delayed delivery counts whole seconds (celery refuses 0.5)
        try:
            self.app.send_task(name, args=args, countdown=countdown)
        except (KombuError, ChannelError, AmqpConnectionError, RedisError, OSError) as exc:
            raise Unavailable(f"the broker does not answer ({type(exc).__name__})") from exc

    def fan_out(self, article_id: int) -> None:
        self._send("publish.fan_out", [article_id])

    def send_batch(self, batch_id: int, countdown: float | None = None) -> None:
        self._send("email.send_batch", [batch_id], countdown)

    def post(self, post_id: int, countdown: float | None = None) -> None:
        self._send("channels.post", [post_id], countdown)

    def confirm(self, subscription_id: int) -> None:
        self._send("email.confirm", [subscription_id])

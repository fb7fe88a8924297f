"""The Dispatcher of distributor.dispatch, over Celery: tasks are sent by name,
so callers need not import the task modules."""

from __future__ import annotations

from celery import Celery

from tasks.app import MAX_COUNTDOWN


class CeleryDispatcher:
    def __init__(self, app: Celery):
        self.app = app

    def _send(self, name: str, args: list, countdown: float | None = None) -> None:
        if countdown is not None:
            countdown = max(0.0, min(countdown, MAX_COUNTDOWN))
        self.app.send_task(name, args=args, countdown=countdown)

    def fan_out(self, article_id: int) -> None:
        self._send("publish.fan_out", [article_id])

    def send_batch(self, batch_id: int, countdown: float | None = None) -> None:
        self._send("email.send_batch", [batch_id], countdown)

    def post(self, post_id: int, countdown: float | None = None) -> None:
        self._send("channels.post", [post_id], countdown)

    def send_digest(self, list_name: str, since: str | None = None) -> None:
        self._send("digests.send", [list_name, None, since])

    def confirm(self, subscription_id: int) -> None:
        self._send("email.confirm", [subscription_id])

"""How the domain asks for work to happen, without knowing about Celery.
tasks/dispatch.py implements it over the broker; tests may pass their own."""

from __future__ import annotations

from typing import Protocol

# The queues work travels on, one per kind of task ("<queue>.<task>" names route to them).
QUEUES = ("publish", "email", "channels", "digests", "maintenance")


class Dispatcher(Protocol):
    def fan_out(self, article_id: int) -> None: ...

    def send_batch(self, batch_id: int, countdown: float | None = None) -> None: ...

    def post(self, post_id: int, countdown: float | None = None) -> None: ...

    def confirm(self, subscription_id: int) -> None: ...

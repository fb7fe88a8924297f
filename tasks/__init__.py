"""Thin Celery tasks over distributor's domain functions. `celery -A tasks worker`."""

from tasks.app import app  # noqa: I001  (the app first, then the tasks that register on it)
from tasks import bounces, channels, digests, email, feeds, maintenance, publish  # noqa: E402,F401

__all__ = ["app"]

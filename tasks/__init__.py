"""Thin Celery tasks over distributor's domain functions. `celery -A tasks worker`."""

from tasks.app import app
from tasks import publish, email, channels, maintenance  # noqa: E402,F401  (registers tasks)
from tasks import feeds  # noqa: E402,F401

__all__ = ["app"]

"""Thin Celery tasks over distributor's domain functions. `celery -A tasks worker`."""

from tasks import channels, digests, email, maintenance, publish  # noqa: E402,F401 (registers)
from tasks.app import app

__all__ = ["app"]

"""A worker's heartbeat in Redis: a daemon thread writes the time every few
seconds into the distributor:workers sorted set, so /health and /metrics
know a worker is alive without asking it (and without Celery in the API), and
into distributor:holders under the process's lease-holder name, so the sweeper
voids the leases of a worker that died (outbox/leases.py)."""

from __future__ import annotations

import logging
import threading

import redis

from distributor.monitor.queues import forget_worker, record_worker
from distributor.outbox.leases import Holder

log = logging.getLogger("distributor.heartbeat")


class WorkerHeartbeat:
    def __init__(self, client: redis.Redis, hostname: str, every: float = 3.0,
                 prefix: str = "", holder: Holder | None = None):
        self.client = client
        self.holder = holder
        self.prefix = prefix
        self.hostname = hostname
        self.every = every
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="distributor-heartbeat",
                                       daemon=True)

    def start(self) -> WorkerHeartbeat:
        self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                record_worker(self.client, self.hostname, prefix=self.prefix,
                              holder=self.holder and self.holder.name)
                if self.holder:
                    self.holder.beat()
            except (redis.RedisError, OSError) as exc:
                log.warning("worker heartbeat not recorded: %s", type(exc).__name__)
            self.stopping.wait(self.every)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=2)
        try:
            forget_worker(self.client, self.hostname, prefix=self.prefix)
        except (redis.RedisError, OSError):
            pass

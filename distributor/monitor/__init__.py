"""What the operators watch: queue depths and unacked messages in Redis, workers
(Celery control ping and their Redis heartbeats), progress of sends from the
ledger, troubled channel posts, the last beat run and each digest list's next run.

queues.py     Redis: queue depths, heartbeats of beat and workers, control ping
progress.py   the ledger: per-send progress, channel posts failed or waiting
schedule.py   digest lists and their next run (croniter, in the list's timezone)
snapshot.py   all of the above as one JSON-ready dict (`status --json`, /v1/status)
metrics.py    a Prometheus collector reading the same sources at scrape time
"""

from distributor.monitor.queues import QUEUES, broker_client, queue_depths
from distributor.monitor.snapshot import snapshot

__all__ = ["QUEUES", "broker_client", "queue_depths", "snapshot"]

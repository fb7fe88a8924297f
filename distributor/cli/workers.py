"""`distributor worker`: every core by default, and a lane of its own for breaking news.

Celery's thread pool runs in one process, so one worker uses one core for the Python
work of rendering and SMTP. By default `distributor worker` therefore starts one
Celery worker per core for the bulk queues (email, digests) and one more for the
fast lane (publish, channels, maintenance), so a million-reader send never makes a
channel post wait. It stays in the foreground: SIGTERM or Ctrl-C stops every child
cleanly (each finishes or hands back its task); if a child dies, the others are
stopped too and the exit status says so, for systemd or compose to restart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import click

from distributor.cli.base import Context, pass_ctx

FAST_LANE = ("publish", "channels", "maintenance")
BULK = ("email", "digests")
STOP_WAIT = 60.0  # seconds a child gets to finish after SIGTERM before it is killed


@dataclass(frozen=True)
class Child:
    name: str
    queues: tuple[str, ...]
    threads: int


def plan(processes: int, threads: int, queues: tuple[str, ...] | None = None) -> list[Child]:
    """The Celery workers to run. Given queues: that many processes sharing them."""
    if queues:
        return [Child(f"worker{n + 1}", queues, threads) for n in range(processes)]
    return [Child("fast", FAST_LANE, threads),
            *(Child(f"bulk{n + 1}", BULK, threads) for n in range(processes))]


def cores() -> int:
    """The cores this process may run on (a container's cpuset, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def celery_command(child: Child, loglevel: str, extra: tuple[str, ...],
                   prefix: str = "") -> list[str]:
    """`prefix`: put before each queue name (DISTRIBUTOR_BROKER_PREFIX on RabbitMQ)."""
    return [sys.executable, "-m", "celery", "-A", "tasks", "worker",
            "-Q", ",".join(prefix + q for q in child.queues), "--pool", "threads", "-c", str(child.threads),
            "-n", f"{child.name}@%h", "-E", "--loglevel", loglevel, *extra]


def supervise(commands: dict[str, list[str]], stop_wait: float = STOP_WAIT) -> int:
    """Run the commands until a signal or the first one to exit; then stop the rest."""
    children = {name: subprocess.Popen(command) for name, command in commands.items()}
    stopping = False

    def stop(*_) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    status = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                click.echo(f"{name} exited with status {child.returncode}; stopping the others",
                           err=True)
                status, stopping = child.returncode or 1, True
                break
        else:
            time.sleep(0.2)
    for child in children.values():
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + stop_wait
    for child in children.values():
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return status


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--processes", "-p", type=click.IntRange(1, 64),
              help="Bulk worker processes (default: one per core).")
@click.option("--concurrency", "-c", type=click.IntRange(1, 256),
              help="Threads per process (default: DISTRIBUTOR_WORKER_CONCURRENCY).")
@click.option("--queues", "-Q",
              help="Only these queues (comma-separated), in one process unless --processes; "
                   "without it the fast lane takes publish,channels,maintenance and the bulk "
                   "processes email,digests.")
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@pass_ctx
def worker(obj: Context, processes: int | None, concurrency: int | None, queues: str | None,
           celery_args: tuple[str, ...]) -> None:
    """Run the workers in the foreground: by default one process per core for email,
    plus one for channel posts and publishing, each with a thread pool suited to SMTP
    and HTTP I/O. Extra arguments go to every `celery worker`. Stops cleanly on
    SIGTERM or Ctrl-C."""
    settings = obj.settings
    wanted = tuple(q.strip() for q in queues.split(",") if q.strip()) if queues else None
    count = processes or (1 if wanted else cores())  # -Q alone: one process, as celery's own
    children = plan(count, concurrency or settings.worker_concurrency, wanted)
    click.echo("starting " + "; ".join(f"{c.name}: {','.join(c.queues)} × {c.threads} threads"
                                       for c in children), err=True)
    prefix = settings.broker_prefix if settings.broker_is_amqp else ""
    commands = {c.name: celery_command(c, settings.log_level, celery_args, prefix)
                for c in children}
    sys.exit(supervise(commands))

"""Several hosts around one PostgreSQL, one Redis and one SMTP peer: two network
namespaces ("hosts") joined to them over veth links, two workers in each. One host is
lost mid-send (every process in it SIGKILLed at once). Counted at the receiver: lost 0,
at most one repeat per worker thread on the lost host; the surviving host's sweeper
(beat runs there) finishes the send."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from distributor.inbound.publish import publish as publish_article
from distributor.states import SendState
from distributor.store import Send
from tests.conftest import ROOT, Worker
from tests.faults.conftest import report, tally, wait_all_delivered
from tests.netns import Hosts, NetnsUnavailable, TcpForwarder
from tests.peers import SMTPHandler, free_port, wait_for

pytestmark = pytest.mark.multihost

WORKERS_PER_HOST, THREADS = 2, 2


@pytest.fixture()
def hosts(backend):
    if backend != "postgresql":
        pytest.skip("the hosts share one PostgreSQL: this runs in the postgresql pass")
    try:
        made = Hosts(2).start()
    except NetnsUnavailable as exc:
        pytest.skip(f"no network namespaces here: {exc}")
    yield made
    made.stop()


def _start_redis(address: str, tmp) -> tuple[subprocess.Popen, str]:
    """A Redis for the hosts, as across a network: on the bridge, with a password (Redis
    refuses clients from other hosts without one: protected mode)."""
    port, password = free_port(), uuid.uuid4().hex
    process = subprocess.Popen(
        ["redis-server", "--bind", address, "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", str(tmp), "--requirepass", password],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, f"redis://:{password}@{address}:{port}/0"


@pytest.mark.timeout(300)
def test_a_host_lost_mid_send_loses_nothing_and_the_other_host_finishes(
        fault_stack, hosts, tmp_path):
    redis_process, redis_url = _start_redis(hosts.address, tmp_path)
    receiver = SMTPHandler()
    smtp = Controller(receiver, hostname=hosts.address, port=free_port())
    smtp.start()
    forwarder = None
    try:
        stack = fault_stack(broker_url=redis_url,
                            smtp_url=f"smtp://{hosts.address}:{smtp.port}", batch_size="100")
        database = urlsplit(stack.settings.database_url.get_secret_value())
        forwarder = TcpForwarder(hosts.address, (database.hostname, database.port or 5432))
        netloc = database.netloc.rsplit("@", 1)
        netloc[-1] = f"{hosts.address}:{forwarder.address[1]}"
        worker_env = {**stack.env, "DISTRIBUTOR_DATABASE_URL": urlunsplit(
            database._replace(netloc="@".join(netloc)))}
        emails = stack.seed("multihost", 3000)
        for host in range(2):
            for _ in range(WORKERS_PER_HOST):
                worker = Worker(worker_env, tmp_path, concurrency=THREADS)
                worker.args = hosts.command(host, worker.args)
                stack.processes.append(worker.start())
        stack.processes.append(subprocess.Popen(  # beat, with its sweeper, on the survivor
            hosts.command(1, [sys.executable, "-m", "celery", "-A", "tasks", "beat", "-s",
                              str(tmp_path / "beat-schedule"), "-l", "warning"]),
            env={**os.environ, **worker_env, "PYTHONPATH": str(ROOT)},
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        started = time.monotonic()
        publish_article(stack.db, stack.settings, stack.dispatcher, {
            "url": f"https://news.example.org/multihost-{time.time_ns()}", "title": "Host lost"})
        wait_for(lambda: tally(smtp, emails)[0] >= 600, timeout=90, what="600 deliveries")
        killed = hosts.kill_all(0)
        wait_all_delivered(smtp, emails, timeout=180)
        delivered, lost, duplicates = tally(smtp, emails)
        report("host lost", recipients=len(emails), delivered=delivered, lost=lost,
               duplicates=duplicates, processes_killed=killed,
               seconds=round(time.monotonic() - started, 1))
        assert lost == 0 and duplicates <= WORKERS_PER_HOST * THREADS
        wait_for(lambda: _send_states(stack) == {SendState.DONE}, timeout=60,
                 what="the surviving host to finish the send")
    finally:
        if forwarder:
            forwarder.close()
        smtp.stop()
        redis_process.terminate()
        redis_process.wait(10)


def _send_states(stack) -> set[str]:
    with stack.db.session() as session:
        return set(session.scalars(select(Send.state)))

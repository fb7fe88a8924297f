"""`distributor digest send LIST --wait` returns when the worker has sent the digest,
with the figures; by then the SMTP server has one email per reader."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from distributor.audience.lists import create_list
from distributor.audience.subscribers import add_subscriber
from distributor.inbound.article import ingest
from tests.conftest import ROOT


def test_digest_send_wait_returns_when_every_reader_has_it(stack):
    name = stack.unique("waited")
    create_list(stack.db, name, instant=False, schedule="0 7 * * *")
    readers = [f"{stack.unique('reader')}@example.com" for _ in range(3)]
    for reader in readers:
        add_subscriber(stack.db, reader, name)
    ingest(stack.db, stack.settings, {"url": f"https://news.example.org/{name}",
                                      "title": "For the waited digest"})
    command = subprocess.run(
        [sys.executable, "-c", "from distributor.cli import main; main()",
         "digest", "send", name, "--since", "2000-01-01", "--wait", "--json"],
        env={**os.environ, **stack.env, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
        capture_output=True, text=True, timeout=90)
    assert command.returncode == 0, command.stderr
    report = json.loads(command.stdout)
    assert report["state"] == "done" and report["sent"] == 3 and report["failed"] == 0
    assert stack.smtp.handler.counts(readers) == {r: 1 for r in readers}

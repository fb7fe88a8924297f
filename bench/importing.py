"""Importing a 100,000-row CSV with `distributor subscribers import`: time and peak RSS."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.common import ROOT, PeakRSS, Workspace


def run(rows: int = 100_000) -> dict:
    space = Workspace()
    try:
        space.configure(f"maildir:{space.path / 'outbox'}")
        csv = space.path / "subscribers.csv"
        with csv.open("w") as handle:
            handle.write("email,name,lists\n")
            for n in range(rows):
                handle.write(f"reader{n}@example.com,Reader {n},daily;breaking\n")
        env = {**os.environ, **space.env, "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-c", "from distributor.cli import main; main()"]
        for name in ("daily", "breaking"):
            subprocess.run([*command, "lists", "create", name, "--instant"], env=env,
                           cwd=space.path, check=True, capture_output=True)
        figures = {}
        for run_name in ("first", "again"):
            started = time.monotonic()
            process = subprocess.Popen([*command, "subscribers", "import", str(csv)], env=env,
                                       cwd=space.path, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL)
            with PeakRSS(process.pid) as rss:
                output = process.communicate()[0].decode().strip()
            figures[run_name] = {"seconds": time.monotonic() - started, "peak_rss_mb": rss.mb,
                                 "output": output}
        return {"rows": rows, **figures}
    finally:
        space.cleanup()

#!/usr/bin/env python3
"""`make run`: the API (port 8000), the workers (one per core plus a fast lane) and beat,
in the foreground.
Ctrl-C (or SIGTERM) stops all three; if one dies, the others are stopped too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
PROCESSES = {
    "api": [str(BIN / "distributor"), "api", "--host", os.environ.get("HOST", "127.0.0.1"),
            "--port", os.environ.get("PORT", "8000")],
    "worker": [str(BIN / "distributor"), "worker"],
    "beat": [str(BIN / "distributor"), "beat"],
}


def main() -> int:
    children = {name: subprocess.Popen(args) for name, args in PROCESSES.items()}
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"distributor running: API on http://{PROCESSES['api'][3]}:{PROCESSES['api'][5]}, "
          "workers, beat. Ctrl-C stops all.", file=sys.stderr)
    status = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                print(f"{name} exited with status {child.returncode}; stopping the others",
                      file=sys.stderr)
                status = child.returncode or 1
                stopping = True
        time.sleep(0.2)
    for child in children.values():
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + 15
    for child in children.values():
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    return status


if __name__ == "__main__":
    sys.exit(main())

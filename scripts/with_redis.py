#!/usr/bin/env python3
"""Run a command with a Redis to talk to.

If a Redis answers at DISTRIBUTOR_BROKER_URL (default redis://localhost:6379/0) the
command runs as is. Otherwise, when redis-server is on PATH, a throwaway one is
started on a free port with no persistence, DISTRIBUTOR_BROKER_URL points at it for
the command, and it is stopped afterwards. Otherwise: one line saying what to install.
Standard library only: it runs before the virtualenv exists.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlsplit

DEFAULT = "redis://localhost:6379/0"


def answers(url: str) -> bool:
    parts = urlsplit(url.split(";")[0])  # sentinel://h1:26379;sentinel://h2:…: the first
    try:
        with socket.create_connection((parts.hostname or "localhost", parts.port or 6379),
                                      timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError:
        return False
    return reply.startswith((b"+PONG", b"-NOAUTH"))


def free_port(wanted: int = 0) -> int:
    """`wanted` when it is free (so other terminals reach this Redis with the same URL),
    else any free port."""
    for port in (wanted, 0) if wanted else (0,):
        with socket.socket() as sock:
            # As redis-server binds: a port left in TIME_WAIT by the Redis of a `make run`
            # stopped a moment ago is free for it, so a restart keeps the same address.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise OSError("no free port")


def run(command: list[str], env: dict[str, str]) -> int:
    """Run the command to its end; Ctrl-C and SIGTERM go to it, not to a traceback here."""
    child = subprocess.Popen(command, env=env)
    signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:
            continue  # the terminal sent SIGINT to the child too; wait for it to finish


def main() -> int:
    command = sys.argv[1:]
    if not command:
        print("usage: with_redis.py COMMAND...", file=sys.stderr)
        return 2
    # The Redis is the broker's, unless DISTRIBUTOR_REDIS_URL names another (it must beside
    # an amqp:// broker, which is left alone).
    variable = "DISTRIBUTOR_BROKER_URL"
    if os.environ.get("DISTRIBUTOR_REDIS_URL") or os.environ.get(variable, "").startswith("amqp"):
        variable = "DISTRIBUTOR_REDIS_URL"
    url = os.environ.get(variable) or DEFAULT
    if answers(url):
        return run(command, os.environ)
    server = shutil.which("redis-server")
    if server is None:
        print(f"No Redis answers at {url} and redis-server is not installed: install it "
              "(Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) "
              f"or set {variable} to a running Redis.", file=sys.stderr)
        return 1
    parts = urlsplit(url.split(";")[0])
    local_host = parts.hostname in ("localhost", "127.0.0.1", None)
    port = free_port(parts.port or 6379 if local_host else 0)
    workdir = tempfile.mkdtemp(prefix="distributor-redis-")
    redis = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir, "--logfile", os.path.join(workdir, "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    local = f"redis://127.0.0.1:{port}{parts.path or '/0'}"
    deadline = time.monotonic() + 10
    while not answers(local):
        if time.monotonic() > deadline or redis.poll() is not None:
            print(f"redis-server did not start (see {workdir}/redis.log)", file=sys.stderr)
            redis.kill()
            return 1
        time.sleep(0.05)
    print(f"no Redis at {url}; started a throwaway redis-server at {local}", file=sys.stderr)
    try:
        return run(command, {**os.environ, variable: local})
    finally:
        redis.terminate()
        redis.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

"""Several "hosts" on one machine: Linux network namespaces joined by veth links to a
bridge on the test's side. Each namespace has its own network stack (its own loopback,
no route to the host's 127.0.0.1), so a worker started in it reaches Redis, the SMTP
peer and PostgreSQL only over its link, as a worker on another machine would. The
services the test starts listen on the bridge address; PostgreSQL (which listens on
the host's loopback) is reached through a TCP forwarder on that address.

Needs root and iproute2 (`ip netns`, `ip link ... type veth|bridge`)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import uuid


class NetnsUnavailable(Exception):
    """Why namespaces cannot be made here (the test is skipped with this reason)."""


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)
    if done.returncode != 0:
        raise NetnsUnavailable(f"`ip {' '.join(args)}` failed: {done.stderr.strip()}")


class Hosts:
    """A bridge with address <net>.1 and `count` namespaces at <net>.2, <net>.3, …"""

    def __init__(self, count: int = 2):
        tag = uuid.uuid4().hex[:6]
        self.bridge = f"d19br{tag}"
        self.net = f"10.{random.randint(64, 250)}.{random.randint(1, 250)}"
        self.address = f"{self.net}.1"
        self.names = [f"d19-{tag}-{n}" for n in range(count)]
        self.links = [f"d19v{tag}{n}" for n in range(count)]
        self.made: list[tuple[str, ...]] = []

    def start(self) -> Hosts:
        if shutil.which("ip") is None:
            raise NetnsUnavailable("iproute2 (`ip`) is not installed")
        if os.geteuid() != 0:
            raise NetnsUnavailable("network namespaces need root")
        _ip("link", "add", self.bridge, "type", "bridge")
        self.made.append(("link", "del", self.bridge))
        _ip("addr", "add", f"{self.address}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for n, (name, link) in enumerate(zip(self.names, self.links, strict=True)):
            _ip("netns", "add", name)
            self.made.append(("netns", "del", name))
            _ip("link", "add", link, "type", "veth", "peer", "name", link + "p")
            self.made.append(("link", "del", link))
            _ip("link", "set", link + "p", "netns", name)
            _ip("link", "set", link, "master", self.bridge)
            _ip("link", "set", link, "up")
            _ip("-n", name, "addr", "add", f"{self.net}.{n + 2}/24", "dev", link + "p")
            _ip("-n", name, "link", "set", link + "p", "up")
            _ip("-n", name, "link", "set", "lo", "up")
        return self

    def command(self, n: int, args: list[str]) -> list[str]:
        """`args` run inside namespace n."""
        return ["ip", "netns", "exec", self.names[n], *args]

    def kill_all(self, n: int) -> int:
        """SIGKILL every process in namespace n at once: the host is gone."""
        done = subprocess.run(["ip", "netns", "pids", self.names[n]], capture_output=True,
                              text=True, timeout=20)
        pids = [int(p) for p in done.stdout.split()]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(pids)

    def stop(self) -> None:
        for n in range(len(self.names)):
            if ("netns", "del", self.names[n]) in self.made:
                self.kill_all(n)
        for step in reversed(self.made):
            subprocess.run(["ip", *step], capture_output=True, timeout=20)
        self.made.clear()

    def __enter__(self) -> Hosts:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


class TcpForwarder:
    """Accept on (host, port) and pipe each connection to `target`: how the namespaces
    reach a server that listens on the host's loopback only."""

    def __init__(self, host: str, target: tuple[str, int]):
        self.target = target
        self.server = socket.create_server((host, 0))
        self.address = self.server.getsockname()
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.running:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                end.close()

    def close(self) -> None:
        self.running = False
        self.server.close()

"""A real Redis Sentinel deployment on loopback, started by a test: a primary, one
replica and three sentinels (quorum 2), each its own redis-server process on a free
port, without persistence. Sentinel's rules are Redis's own (https://redis.io/docs/
latest/operate/oss_and_stack/management/sentinel/): a primary unreachable for
`down-after-milliseconds` is subjectively down; when `quorum` sentinels agree it is
objectively down, one sentinel is elected leader and promotes the replica."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import redis

from tests.peers import OwnRedis, free_port, wait_for

MASTER = "mymaster"


def sentinel_command(config: Path) -> list[str] | None:
    """redis-sentinel is redis-server started in sentinel mode (the Debian package only
    adds a symlink and a service): either does. The config file comes first."""
    if shutil.which("redis-sentinel"):
        return ["redis-sentinel", str(config)]
    if shutil.which("redis-server"):
        return ["redis-server", str(config), "--sentinel"]
    return None


class SentinelSet:
    def __init__(self, directory: Path, master: str = MASTER, down_after_ms: int = 1000):
        self.dir = directory
        self.master = master
        self.down_after_ms = down_after_ms
        self.primary = OwnRedis(directory, durable=False, name="primary")
        self.replica = OwnRedis(directory, durable=False, name="replica",
                                extra=("--replicaof", "127.0.0.1", str(self.primary.port)))
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.processes: dict[str, subprocess.Popen] = {}

    def url(self, db: int = 0) -> str:
        return ";".join(f"sentinel://127.0.0.1:{p}" for p in self.sentinel_ports) + f"/{db}"

    def _start(self, name: str, args: list[str]) -> None:
        log = (self.dir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                                cwd=self.dir)

    def start(self) -> SentinelSet:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.primary.start()
        self.replica.start()
        wait_for(lambda: self._replicating(), timeout=20, what="the replica to sync")
        for n, port in enumerate(self.sentinel_ports):
            config = self.dir / f"sentinel-{n}.conf"  # Sentinel rewrites its own file
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.dir}\n"
                f"sentinel monitor {self.master} 127.0.0.1 {self.primary.port} 2\n"
                f"sentinel down-after-milliseconds {self.master} {self.down_after_ms}\n"
                f"sentinel failover-timeout {self.master} 10000\n"
                f"sentinel parallel-syncs {self.master} 1\n")
            self._start(f"sentinel-{n}", sentinel_command(config))
        wait_for(lambda: all(self._sentinel_sees_all(p) for p in self.sentinel_ports),
                 timeout=30, what="the sentinels to find the replica and each other")
        return self

    def _replicating(self) -> bool:
        try:
            info = redis.Redis(port=self.replica.port, socket_timeout=1).info("replication")
        except redis.RedisError:
            return False
        return info.get("master_link_status") == "up"

    def _sentinel_sees_all(self, port: int) -> bool:
        try:
            client = redis.Redis(port=port, socket_timeout=1, decode_responses=True)
            state = client.sentinel_master(self.master)
        except redis.RedisError:
            return False
        return state.get("num-slaves", 0) >= 1 and state.get("num-other-sentinels", 0) >= 2

    def current_primary(self) -> tuple[str, int] | None:
        """Where the sentinels say the primary is now."""
        for port in self.sentinel_ports:
            try:
                client = redis.Redis(port=port, socket_timeout=1, decode_responses=True)
                host, primary = client.sentinel_get_master_addr_by_name(self.master)
                return host, int(primary)
            except (redis.RedisError, TypeError, ValueError):
                continue
        return None

    def kill_primary(self) -> None:
        self.primary.kill()

    def wait_for_failover(self, timeout: float = 60) -> tuple[str, int]:
        wait_for(lambda: (self.current_primary() or ("", 0))[1] == self.replica.port, timeout=timeout,
                 interval=0.2, what="the sentinels to promote the replica")
        return "127.0.0.1", self.replica.port

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        self.replica.stop()
        self.primary.stop()

    def __enter__(self) -> SentinelSet:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

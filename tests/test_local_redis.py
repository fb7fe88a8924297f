"""Local use of Redis (`make run`, `make demo`): a restarted throwaway Redis keeps its
address, and the demo keeps to its own keys."""

from __future__ import annotations

import importlib.util
import socket

from tests.conftest import ROOT


def _with_redis():
    spec = importlib.util.spec_from_file_location("with_redis", ROOT / "scripts" / "with_redis.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_port_in_time_wait_is_taken_again(tmp_path):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as redis-server does
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first: its port lingers in TIME_WAIT
    server.close()
    client.close()
    assert _with_redis().free_port(port) == port


def test_the_demo_uses_its_own_key_prefix():
    text = (ROOT / "scripts" / "demo.py").read_text()
    assert '"DISTRIBUTOR_BROKER_PREFIX": "distributor-demo:"' in text

"""SMTP clients side by side: the same prepared digest, the same number of connections
in one process, to the same sink, counted at the sink. What matters on a busy worker is
the client's own CPU per message (the GIL is the limit), so that is reported with the
rate: smtplib's sendmail, aiosmtplib (asyncio, one event loop), and distributor's own
transaction (email/smtp_client.py: pipelined, the message sent as prepared)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from bench.common import SMTPSink

SENDER = "news@news.example.org"


def _threads(connections: int, count: int, open_connection: Callable, send: Callable,
             close: Callable) -> None:
    shares = [count // connections + (n < count % connections) for n in range(connections)]

    def run(share: int) -> None:
        connection = open_connection()
        for n in range(share):
            send(connection, f"r{n}@example.com")
        close(connection)

    workers = [threading.Thread(target=run, args=(share,)) for share in shares]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def smtplib_way(port: int, message: bytes, connections: int, count: int) -> None:
    import smtplib
    _threads(connections, count, lambda: smtplib.SMTP("127.0.0.1", port, timeout=60),
             lambda smtp, rcpt: smtp.sendmail(SENDER, [rcpt], message),
             lambda smtp: smtp.quit())


def aiosmtplib_way(port: int, message: bytes, connections: int, count: int) -> None:
    import aiosmtplib

    async def one(share: int) -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=60, start_tls=False)
        await smtp.connect()
        for n in range(share):
            await smtp.sendmail(SENDER, [f"r{n}@example.com"], message)
        await smtp.quit()

    async def main() -> None:
        await asyncio.gather(*(one(count // connections + (n < count % connections))
                               for n in range(connections)))

    asyncio.run(main())


def distributor_way(port: int, message: bytes, connections: int, count: int) -> None:
    from distributor.email.transport import open_transport
    transport = open_transport(f"smtp://127.0.0.1:{port}", 60)
    _threads(connections, count, transport.connect,
             lambda connection, rcpt: connection.send(SENDER, rcpt, message),
             lambda connection: connection.close())


def measure(sink: SMTPSink, way: Callable, message: bytes, connections: int,
            count: int) -> dict:
    before = sink.count()
    wall, cpu = time.monotonic(), time.process_time()
    way(sink.port, message, connections, count)
    cpu = time.process_time() - cpu
    finished = sink.wait_for(before + count, 60)
    delivered = sink.count() - before
    return {"delivered": delivered, "per_second": delivered / (finished - wall),
            "cpu_us": cpu / count * 1e6}


def run(message: bytes, connections: int = 8, count: int = 10_000, rounds: int = 3) -> dict:
    """{name: [round results]} for each client available here, rounds interleaved."""
    ways = {"smtplib": smtplib_way, "distributor (smtp_client.py)": distributor_way}
    try:
        import aiosmtplib  # noqa: F401  (not a dependency: measured when installed)
        ways["aiosmtplib"] = aiosmtplib_way
    except ImportError:
        pass
    results: dict[str, list[dict]] = {name: [] for name in ways}
    sink = SMTPSink()
    try:
        for _ in range(rounds):
            for name, way in ways.items():
                results[name].append(measure(sink, way, message, connections, count))
    finally:
        sink.stop()
    results["sink"] = sink.kind  # type: ignore[assignment]
    return results

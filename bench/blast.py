"""One process of the smtplib ceiling: python -m bench.blast PORT THREADS COUNT FILE sends
COUNT copies of the message in FILE over THREADS persistent smtplib connections, as one
worker process of the system under test would with as many threads."""

from __future__ import annotations

import smtplib
import sys
import threading
from pathlib import Path


def blast(port: int, threads: int, count: int, message: bytes) -> None:
    shares = [count // threads + (1 if n < count % threads else 0) for n in range(threads)]

    def send(share: int) -> None:
        smtp = smtplib.SMTP("127.0.0.1", port, timeout=60)
        for n in range(share):
            smtp.sendmail("news@news.example.org", [f"r{n}@example.com"], message)
        smtp.quit()

    workers = [threading.Thread(target=send, args=(share,)) for share in shares if share]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


if __name__ == "__main__":
    port, threads, count, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    blast(port, threads, count, Path(path).read_bytes())

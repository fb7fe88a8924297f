"""An SMTP server that accepts, counts and discards everything, for machines without
Postfix: python -m bench.sink PORT COUNT_FILE (the count is written there as it grows)."""

import sys
import time
from pathlib import Path

from aiosmtpd.controller import Controller


class Discard:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += len(envelope.rcpt_tos)
        return "250 OK"


if __name__ == "__main__":
    handler, out = Discard(), Path(sys.argv[2])
    controller = Controller(handler, hostname="127.0.0.1", port=int(sys.argv[1]))
    controller.start()
    while True:  # until SIGTERM
        out.write_text(str(handler.count))
        time.sleep(0.1)

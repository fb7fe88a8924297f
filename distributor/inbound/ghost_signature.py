"""Ghost's own webhook signature, so Ghost can push without a relay:

    X-Ghost-Signature: sha256=<hex HMAC-SHA256(secret, body + t)>, t=<unix ms>

The key is the secret exactly as typed into Ghost's webhook form; distributor uses
DISTRIBUTOR_WEBHOOK_SECRET (the whole whsec_… string) for it. No replay guard: Ghost
retries a failed delivery with the same header, and a replayed body is a known guid,
which sends nothing; the timestamp bounds how late a copy may come."""

from __future__ import annotations

import hashlib
import hmac
import re
import time

HEADER = "x-ghost-signature"
_FORMAT = re.compile(r"\s*sha256=([0-9a-fA-F]{64})\s*,\s*t=(\d{1,16})\s*")


def verify_ghost(secret: str, header: str, body: bytes, tolerance: int = 300,
                 now: float | None = None) -> None:
    """Raise ValueError unless `header` signs `body` with `secret`, recently."""
    match = _FORMAT.fullmatch(header or "")
    if not match:
        raise ValueError("X-Ghost-Signature is not 'sha256=<hex>, t=<ms>'")
    given, stamp = match.group(1).lower(), match.group(2)
    if abs((now or time.time()) - int(stamp) / 1000) > tolerance:
        raise ValueError("X-Ghost-Signature timestamp is too old or in the future")
    expected = hmac.new(secret.encode(), body + stamp.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise ValueError("X-Ghost-Signature does not match")

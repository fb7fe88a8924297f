"""How long to wait before the next try: exponential, capped, with jitter so that
many retries do not arrive together."""

from __future__ import annotations

import random


def backoff(attempts: int, base: float, cap: float = 1800.0) -> float:
    """Wait for try number `attempts + 1`: base·2^(attempts-1), capped, jittered over its
    upper half."""
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return random.uniform(delay / 2, delay)

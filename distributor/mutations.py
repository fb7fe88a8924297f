"""Switches for `make prove` (scripts/prove.py) only. DISTRIBUTOR_TEST_DISABLE names
safety mechanisms to turn off (comma-separated), so that the fault tests can show
that each one is what keeps its promise: a test must fail without it. Read once at
import; no setting, no CLI and no config file reaches it, and a process that has
one set says so on stderr when it starts."""

from __future__ import annotations

import os
import sys

MECHANISMS = {
    "ledger": "a batch skips the readers already in the ledger",
    "batch-lease": "a batch is run by one task at a time",
    "post-lease": "a channel post is run by one task at a time",
    "sweeper": "beat re-enqueues open work whose wake-up was lost",
    "reclaim": "beat frees the leases of workers whose heartbeat stopped",
    "idempotency-key": "every try of a post carries the same webhook-id",
    "replay-cache": "the API refuses a signed request whose webhook-id it has seen",
}

DISABLED = frozenset(name.strip() for name in
                     os.environ.get("DISTRIBUTOR_TEST_DISABLE", "").split(",") if name.strip())
if DISABLED:
    unknown = DISABLED - MECHANISMS.keys()
    if unknown:
        raise SystemExit(f"DISTRIBUTOR_TEST_DISABLE: unknown mechanism(s) {sorted(unknown)}; "
                         f"known: {', '.join(MECHANISMS)}")
    print(f"distributor: TEST ONLY: disabled {', '.join(sorted(DISABLED))}", file=sys.stderr)


def disabled(mechanism: str) -> bool:
    return mechanism in DISABLED

#!/usr/bin/env python3
"""`make prove`: each safety mechanism must be caught by a test that fails without it.

For every mechanism in distributor/mutations.py, run the proof tests with that one
mechanism switched off (DISTRIBUTOR_TEST_DISABLE, honoured by no other path) and
report the first test that failed. A mechanism no test catches is a promise nothing
proves: the script then exits 1. SQLite only (the mechanisms do not depend on the
database; the suite itself runs both). `--only NAME` proves one mechanism; `--json`
prints the result as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from distributor.mutations import MECHANISMS  # noqa: E402  (after the path is set)

# Cheapest first: pytest stops at the first failure (-x).
PROOFS = [
    "tests/api/test_publish.py::test_a_standard_webhooks_signature_is_accepted_once",
    "tests/faults/test_delivery_faults.py",
    "tests/faults/test_email_faults.py",
]
FAILED = re.compile(r"^FAILED (\S+)", re.MULTILINE)


def prove(mechanism: str) -> dict:
    env = {**os.environ, "DISTRIBUTOR_TEST_DISABLE": mechanism}
    env.pop("DISTRIBUTOR_TEST_POSTGRES_URL", None)
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-rf", "-p",
                          "no:cacheprovider", *PROOFS], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=1800)
    caught = FAILED.findall(run.stdout)
    result = {"mechanism": mechanism, "what": MECHANISMS[mechanism],
              "caught_by": caught[0] if caught else None,
              "seconds": round(time.monotonic() - started, 1)}
    if not caught and run.returncode not in (0, 1):  # an error, not a verdict
        result["error"] = (run.stdout + run.stderr)[-2000:]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(MECHANISMS), action="append",
                        help="prove this mechanism only (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    results = []
    for mechanism in args.only or MECHANISMS:
        result = prove(mechanism)
        results.append(result)
        if not args.json:
            verdict = result["caught_by"] or "NOT CAUGHT"
            print(f"{mechanism:16} {verdict}  ({result['seconds']} s)", flush=True)
            if result.get("error"):
                print(result["error"], file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=2))
    missed = [r["mechanism"] for r in results if not r["caught_by"]]
    if missed and not args.json:
        print(f"not caught: {', '.join(missed)}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

"""How fast the command line answers: wall time of `distributor --version` and of
`distributor lists list` on a ready SQLite file, median of ten runs each. Bytecode is
cached (in a folder of its own) as on an installed copy: pip compiles it at install, and
PYTHONDONTWRITEBYTECODE, set on some machines, would otherwise make every run compile
our modules afresh."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 10


def _wall(command: list[str], env: dict[str, str], cwd: str) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def run() -> dict[str, float]:
    distributor = str(Path(sys.executable).parent / "distributor")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DISTRIBUTOR_DATABASE_URL": f"sqlite:///{tmp}/cli.db",
               "DISTRIBUTOR_SECRET_KEY": "bench-secret-key-0123456789", "DISTRIBUTOR_VAR_DIR": tmp,
               "PYTHONPYCACHEPREFIX": f"{tmp}/bytecode"}
        env.pop("DISTRIBUTOR_CONFIG", None)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        _wall([distributor, "lists", "list"], env, tmp)  # makes the schema and the bytecode
        figures = {}
        for name, args in (("version", ["--version"]), ("lists_list", ["lists", "list"])):
            figures[name] = statistics.median(_wall([distributor, *args], env, tmp)
                                              for _ in range(RUNS))
    return figures

#!/usr/bin/env python3
"""`make demo`: one article, end to end, on the embedded defaults.

SQLite and a maildir under .demo/, a local webhook receiver started here, a real
Celery worker on Redis. Creates an instant list with three subscribers, publishes
examples/article.json, waits until everything went, prints where it landed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from distributor.monitor.deliveries import is_settled

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / ".demo"
BIN = Path(sys.executable).parent


def receiver(out: Path) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            name = f"{self.headers.get('webhook-id', 'post')}.json"
            (out / name).write_bytes(body)
            (out / (name + ".headers")).write_text(
                "".join(f"{k}: {v}\n" for k, v in self.headers.items()))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run(*args: str, env: dict[str, str], stdin: bytes | None = None) -> str:
    result = subprocess.run([str(BIN / "distributor"), *args], env=env, input=stdin,
                            capture_output=True, cwd=DEMO)
    if result.returncode != 0:
        sys.exit(f"demo: `distributor {' '.join(args)}` failed:\n{result.stderr.decode()}")
    return result.stdout.decode().strip()


def main() -> int:
    started = time.monotonic()
    shutil.rmtree(DEMO, ignore_errors=True)
    (DEMO / "webhooks").mkdir(parents=True)
    hooks = receiver(DEMO / "webhooks")
    (DEMO / "distributor.toml").write_text(f"""
[publisher]
name = "StratNews Global (demo)"
address = "B-12, Press Enclave, New Delhi 110017, India"

[[channels]]
name = "demo-hook"
type = "webhook"
url = "http://127.0.0.1:{hooks.server_address[1]}/hooks/news"
secret = "whsec_ZGVtby13ZWJob29rLXNpZ25pbmctc2VjcmV0"
""")
    env = {**os.environ,
           "DISTRIBUTOR_DATABASE_URL": f"sqlite:///{DEMO / 'distributor.db'}",
           "DISTRIBUTOR_SMTP_URL": f"maildir:{DEMO / 'outbox'}",
           "DISTRIBUTOR_CONFIG": str(DEMO / "distributor.toml"),
           "DISTRIBUTOR_VAR_DIR": str(DEMO / "var"),
           # Its own keys: a `make run` worker on the same Redis never takes the demo's tasks.
           "DISTRIBUTOR_BROKER_PREFIX": "distributor-demo:",
           "DISTRIBUTOR_FROM": "StratNews Global <newsletter@stratnews.example>"}
    run("db", "upgrade", env=env)
    run("lists", "create", "breaking", "--instant", env=env)
    for email, name in (("asha.rao@example.com", "Asha Rao"),
                        ("vikram.sethi@example.com", "Vikram Sethi"),
                        ("meera.iyer@example.com", "Meera Iyer")):
        run("subscribers", "add", email, "--list", "breaking", "--name", name, env=env)

    log = (DEMO / "worker.log").open("wb")
    worker = subprocess.Popen([str(BIN / "distributor"), "worker", "-c", "2"], env=env,
                              cwd=DEMO, stdout=log, stderr=subprocess.STDOUT)
    try:
        guid = run("publish", str(ROOT / "examples" / "article.json"), env=env)
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            report = json.loads(run("deliveries", guid, "--json", env=env))
            if is_settled(report):
                break
            if worker.poll() is not None:
                sys.exit(f"demo: the worker exited; see {DEMO / 'worker.log'}")
            time.sleep(0.3)
        else:
            sys.exit(f"demo: not finished after 45 s; see {DEMO / 'worker.log'}")
    finally:
        worker.terminate()
        worker.wait(15)
        hooks.shutdown()

    emails = sorted((DEMO / "outbox" / "new").iterdir())
    posts = sorted(p for p in (DEMO / "webhooks").iterdir() if p.suffix == ".json")
    print(f"published {guid}")
    for s in report["sends"]:
        print(f"  list {s['list']}: {s['sent']} of {s['planned']} emails sent ({s['state']})")
    for p in report["channels"]:
        print(f"  channel {p['channel']}: {p['state']}")
    print(f"\n{len(emails)} emails landed in {DEMO / 'outbox' / 'new'}:")
    for path in emails:
        print(f"  {path}")
    print(f"\n{len(posts)} signed webhook payload(s) landed in {DEMO / 'webhooks'}:")
    for path in posts:
        print(f"  {path}")
    print(f"\ndone in {time.monotonic() - started:.1f} s")
    ok = len(emails) == 3 and len(posts) == 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""/health and /metrics, read from the ledger and Redis."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from distributor.api import create_app
from distributor.bootstrap import load_settings
from distributor.outbox import wake
from distributor.store import ChannelPost, Delivery
from tests.peers import free_port, wait_for


def app_client(monitored, **env) -> TestClient:
    settings = load_settings({**monitored.env, **env}) if env else monitored.settings
    return TestClient(create_app(settings, monitored.db, monitored.dispatcher))


def sample(text: str, name: str, **labels) -> float | None:
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name + ("{" if labels else " ")):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_health_turns_503_fast_when_the_broker_port_is_closed(monitored):
    client = app_client(monitored, DISTRIBUTOR_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0")
    answer = client.get("/health")
    assert answer.status_code == 503
    assert any("broker does not answer" in p for p in answer.json()["problems"])


def test_health_wants_a_live_worker(monitored, start_worker):
    client = app_client(monitored)
    lonely = client.get("/health")
    assert lonely.status_code == 503
    assert lonely.json()["problems"] == [
        "no worker alive: none left a heartbeat within the last minute"]
    worker = start_worker(monitored.env)
    assert wait_for(lambda: client.get("/health").status_code == 200, timeout=15,
                    what="/health to see the worker")
    worker.stop()  # a clean shutdown takes its heartbeat with it
    assert client.get("/health").status_code == 503


def test_metrics_counts_match_the_ledger_after_a_send(monitored, start_worker):
    start_worker(monitored.env)
    article_id = monitored.publish()
    wake.fan_out(monitored.db, monitored.dispatcher, article_id, datetime.now(UTC))
    client = app_client(monitored)

    def settled():
        text = client.get("/metrics").text
        emails = sample(text, "distributor_emails_total", list="breaking", result="sent")
        posts = sample(text, "distributor_channel_posts_total", channel="newsroom-hook",
                       result="sent")
        duration = sample(text, "distributor_send_duration_seconds_count", list="breaking")
        return text if (emails, posts, duration) == (3, 1, 1) else None

    text = wait_for(settled, timeout=30, what="the metrics to show the send and the post")
    with monitored.db.session() as session:
        sent = session.scalar(select(func.count()).select_from(Delivery)
                              .where(Delivery.state == "sent"))
        posts = session.scalar(select(func.count()).select_from(ChannelPost)
                               .where(ChannelPost.state == "sent"))
    assert sample(text, "distributor_emails_total", list="breaking", result="sent") == sent == 3
    assert sample(text, "distributor_channel_posts_total", channel="newsroom-hook",
                  result="sent") == posts == 1
    assert sample(text, "distributor_queue_depth", queue="email") == 0
    assert sample(text, "distributor_workers_online") == 1
    assert sample(text, "distributor_send_duration_seconds_count", list="breaking") == 1
    assert sample(text, "distributor_broker_up") == 1
    assert re.search(r"^# TYPE distributor_emails(_total)? counter$", text, re.M)


def test_an_unreachable_mail_server_shows_in_health_deliveries_and_status(monitored):
    from distributor.email.batch import run_batch
    from distributor.email.transport import open_transport
    from distributor.monitor import snapshot
    from distributor.monitor.deliveries import deliveries
    from distributor.monitor.failures import list_failures
    from distributor.store import Article, Batch

    port = free_port()
    article_id = monitored.publish()
    with monitored.db.session() as session:
        guid = session.get(Article, article_id).guid
        batch_id = session.scalar(select(Batch.id))
    result = run_batch(monitored.db, monitored.settings,
                       open_transport(f"smtp://127.0.0.1:{port}", 2), batch_id)
    why = f"SMTP connect to 127.0.0.1:{port} failed: ConnectionRefusedError"
    assert why in result.error
    assert why in deliveries(monitored.db, guid)["sends"][0]["error"]
    assert why in snapshot(monitored.db, None, monitored.settings)["sends"][0]["error"]
    assert any(why in (f["error"] or "") for f in list_failures(monitored.db))
    answer = app_client(monitored).get("/health")
    assert answer.status_code == 503
    assert any(p.startswith("mail transport failing: ") and why in p
               for p in answer.json()["problems"])

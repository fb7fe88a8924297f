"""Publishing an article, end to end: real Redis, a real Celery worker, a real SMTP
conversation and a real HTTP webhook receiver."""

from __future__ import annotations

import json

from distributor.audience.lists import create_list
from distributor.audience.subscribers import add_subscriber
from distributor.channels.adapters.webhook import verify
from distributor.inbound.article import ingest
from distributor.inbound.publish import publish as publish_article
from distributor.monitor.deliveries import deliveries, is_settled
from tests.conftest import WEBHOOK_SECRET
from tests.peers import wait_for


def article(stack, section="South Asia and Beyond", **fields):
    guid = stack.unique("https://news.example.org/story")
    return {"url": guid, "title": "North Korean Workers Return To Russia",
            "summary": "Three hundred workers arrived in Vladivostok.",
            "section": section, "author": "Ashwin Ahmad",
            "image_url": "https://news.example.org/img/port.jpg", **fields}


def publish(stack, data) -> str:
    return publish_article(stack.db, stack.settings, stack.dispatcher, data).guid


def wait_settled(stack, guid):
    return wait_for(lambda: (r := deliveries(stack.db, guid)) and is_settled(r) and r,
                    timeout=30, what=f"{guid} to settle")


def test_publishing_sends_one_signed_webhook_and_one_email_per_subscriber(stack):
    breaking = stack.unique("breaking")
    create_list(stack.db, breaking, instant=True)
    readers = [f"{stack.unique('reader')}@example.com" for _ in range(3)]
    for i, email in enumerate(readers):
        add_subscriber(stack.db, email, breaking, name=f"Reader {i}")

    guid = publish(stack, article(stack))
    report = wait_settled(stack, guid)

    hooks = [r for r in stack.http.to("/hooks/all") if r.json()["article"]["guid"] == guid]
    assert len(hooks) == 1
    hook = hooks[0]
    assert verify(WEBHOOK_SECRET, hook.headers, hook.body) == hook.headers["webhook-id"]
    assert hook.json()["article"]["title"] == "North Korean Workers Return To Russia"

    for email in readers:
        got = stack.smtp.handler.to(email)
        assert len(got) == 1, f"{email} got {len(got)} emails"
        message = got[0].message
        assert message["Subject"] == "North Korean Workers Return To Russia"
        assert message["List-Id"].endswith(f"<{breaking}.news.example.org>")
        assert message["List-Unsubscribe"].startswith("<https://news.example.org/unsubscribe/")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["Message-ID"] and message["Date"]
        assert message.get_content_type() == "multipart/alternative"
        parts = {p.get_content_type(): p.get_content() for p in message.iter_parts()}
        assert "Read the full story" in parts["text/plain"]
        assert email in parts["text/plain"]
        assert "1 Test Road, Delhi" in parts["text/html"]
        assert 'href="https://news.example.org/unsubscribe/' in parts["text/html"]
    send = next(s for s in report["sends"] if s["list"] == breaking)
    assert (send["planned"], send["sent"], send["state"]) == (3, 3, "done")


def test_publishing_the_same_guid_again_sends_nothing(stack):
    breaking = stack.unique("again")
    create_list(stack.db, breaking, instant=True)
    email = f"{stack.unique('once')}@example.com"
    add_subscriber(stack.db, email, breaking)
    data = article(stack)
    guid = publish(stack, data)
    wait_settled(stack, guid)

    result = ingest(stack.db, stack.settings, json.dumps(data))
    assert not result.created
    stack.dispatcher.fan_out(result.article_id)  # even a repeated wake-up sends nothing more
    wait_settled(stack, guid)
    wait_for(lambda: len(stack.smtp.handler.to(email)) >= 1, what="the first email")
    import time

    time.sleep(1.0)
    assert len(stack.smtp.handler.to(email)) == 1
    assert len([r for r in stack.http.to("/hooks/all")
                if r.json()["article"]["guid"] == guid]) == 1


def test_a_list_for_another_section_gets_nothing(stack):
    asia = stack.unique("asia")
    business = stack.unique("business")
    create_list(stack.db, asia, instant=True, sections=["south asia and beyond"])
    create_list(stack.db, business, instant=True, sections=["Business"])
    asia_reader = f"{stack.unique('asia')}@example.com"
    business_reader = f"{stack.unique('biz')}@example.com"
    add_subscriber(stack.db, asia_reader, asia)
    add_subscriber(stack.db, business_reader, business)

    guid = publish(stack, article(stack))
    report = wait_settled(stack, guid)

    assert len(stack.smtp.handler.to(asia_reader)) == 1
    assert stack.smtp.handler.to(business_reader) == []
    assert business not in {s["list"] for s in report["sends"]}
    assert {p["channel"] for p in report["channels"]} == {"ops-hook", "asia-hook"}

    other = publish(stack, article(stack, section="Business"))
    report = wait_settled(stack, other)
    assert {p["channel"] for p in report["channels"]} == {"ops-hook"}
    assert len(stack.smtp.handler.to(business_reader)) == 1


def test_work_whose_wake_up_was_lost_is_sent_by_the_sweeper(stack):
    """Redis lost the fan-out message: the database still knows what is owed."""
    from datetime import UTC, datetime, timedelta

    from distributor.outbox import wake

    lost = stack.unique("lost")
    create_list(stack.db, lost, instant=True)
    email = f"{stack.unique('swept')}@example.com"
    add_subscriber(stack.db, email, lost)
    result = ingest(stack.db, stack.settings, article(stack))  # stored, never enqueued

    later = datetime.now(UTC) + timedelta(seconds=10)
    batches, posts = wake.sweep(stack.db, stack.dispatcher, later, timedelta(seconds=5))
    assert batches >= 1 and posts >= 1
    wait_settled(stack, result.guid)
    assert len(stack.smtp.handler.to(email)) == 1


def test_no_secret_reaches_the_worker_log(stack):
    """Runs last in this module: the log holds every task the stack has run so far."""
    from tests.conftest import API_TOKEN, SECRET_KEY, WEBHOOK_SECRET

    log = stack.worker.output()
    assert "succeeded" in log  # the log is real and has seen work
    for secret in (SECRET_KEY, API_TOKEN, WEBHOOK_SECRET, WEBHOOK_SECRET.removeprefix("whsec_")):
        assert secret not in log

"""The email side end to end: digests with sections and preferences, unsubscribes,
bounces and suppression, two schedulers. Real worker, real Redis, real SMTP."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from distributor.api import create_app
from distributor.audience.lists import create_list
from distributor.audience.subscribers import add_subscriber, remove_subscriber
from distributor.audience.tokens import email_digest
from distributor.email.digests import trigger_digest
from distributor.inbound.article import ingest
from distributor.monitor.deliveries import send_counts
from distributor.outbox import wake
from distributor.store import MailingList, Send, Subscriber, Subscription, Suppression
from tests.peers import wait_for


def publish(stack, section: str, title: str) -> None:
    url = stack.unique(f"https://news.example.org/{section.replace(' ', '-')}")
    ingest(stack.db, stack.settings, {"url": url, "title": title, "section": section,
                                      "summary": f"Summary of {title}."})


def send_digest_and_wait(stack, list_name: str) -> dict:
    result = trigger_digest(stack.db, stack.settings, list_name)
    assert result.state == "planned", result
    wake.enqueue_send(stack.db, stack.dispatcher, result.send_id, datetime.now(UTC))

    def finished():
        with stack.db.session() as session:
            send = session.get(Send, result.send_id)
            return send.state not in ("planned", "running") and send
    send = wait_for(finished, timeout=30, what="the digest to finish")
    with stack.db.session() as session:
        return {"state": send.state, **send_counts(session, [send.id])[send.id]}


def addresses(stack, n: int, tag: str) -> list[str]:
    return [f"{stack.unique(tag)}@example.com" for _ in range(n)]


def test_a_digest_reaches_each_active_subscriber_once_by_section(stack):
    s1, s2, s3 = (stack.unique(name) for name in ("Asia", "Defence", "Economy"))
    name = stack.unique("daily")
    create_list(stack.db, name, instant=False, schedule="0 7 * * *", timezone="Asia/Kolkata",
                sections=[s1, s2, s3])
    everyone, gone, bounced, suppressed = addresses(stack, 4, "digest")
    picky = f"{stack.unique('picky')}@example.com"
    for email in (everyone, gone, bounced, suppressed):
        add_subscriber(stack.db, email, name)
    add_subscriber(stack.db, picky, name, sections=[s2])
    remove_subscriber(stack.db, gone, name)
    with stack.db.session() as session:
        session.execute(update(Subscription).where(Subscription.subscriber_id.in_(
            select(Subscriber.id).where(Subscriber.email == bounced))).values(status="bounced"))
        session.add(Suppression(email_hash=email_digest(suppressed), reason="complained"))
    for section in (s1, s2, s3):
        publish(stack, section, f"First from {section}")
        publish(stack, section, f"Second from {section}")

    counts = send_digest_and_wait(stack, name)

    assert stack.smtp.handler.to(gone) == [] and stack.smtp.handler.to(bounced) == []
    assert stack.smtp.handler.to(suppressed) == []
    [full] = stack.smtp.handler.to(everyone)
    text = full.message.get_body(("plain",)).get_content()
    positions = [text.index(s.upper()) for s in (s1, s2, s3)]
    assert positions == sorted(positions), "sections in the list's order"
    assert text.index(f"Second from {s1}") < text.index(f"First from {s1}"), "newest first"
    assert full.message["List-Id"].startswith(name)
    [narrow] = stack.smtp.handler.to(picky)
    narrow_text = narrow.message.get_body(("plain",)).get_content()
    assert s2.upper() in narrow_text and s1.upper() not in narrow_text
    assert counts["sent"] == 2 and counts.get("skipped") == 1

    # Straight after, nothing is new: the digest is skipped, nobody gets a second one.
    assert trigger_digest(stack.db, stack.settings, name).state == "skipped"
    time.sleep(0.5)
    assert len(stack.smtp.handler.to(everyone)) == 1


def test_one_click_unsubscribe_takes_effect_for_the_next_send(stack):
    name = stack.unique("alerts")
    section = stack.unique("Section")
    create_list(stack.db, name, instant=True, sections=[section])
    leaver, stayer = addresses(stack, 2, "unsub")
    add_subscriber(stack.db, leaver, name)
    add_subscriber(stack.db, stayer, name)
    first = ingest(stack.db, stack.settings, {"url": stack.unique("https://n.example/u"),
                                              "title": "First", "section": section})
    stack.dispatcher.fan_out(first.article_id)
    wait_for(lambda: stack.smtp.handler.to(leaver), what="the first alert")
    header = stack.smtp.handler.to(leaver)[0].message["List-Unsubscribe"]
    token = re.search(r"/unsubscribe/([^>]+)>", header).group(1)

    client = TestClient(create_app(stack.settings, stack.db, stack.dispatcher))
    forged = client.post(f"/unsubscribe/{token[:-3]}abc",
                         data={"List-Unsubscribe": "One-Click"})
    assert forged.status_code == 400
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and "<form" in page.text
    done = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and name in done.text

    second = ingest(stack.db, stack.settings, {"url": stack.unique("https://n.example/u"),
                                               "title": "Second", "section": section})
    stack.dispatcher.fan_out(second.article_id)
    wait_for(lambda: len(stack.smtp.handler.to(stayer)) == 2, what="the second alert")
    time.sleep(0.3)
    assert len(stack.smtp.handler.to(leaver)) == 1


def test_a_refused_address_is_bounced_and_suppressed_while_others_get_theirs(stack):
    name = stack.unique("bounce")
    section = stack.unique("Section")
    create_list(stack.db, name, instant=True, sections=[section])
    good = addresses(stack, 3, "good")
    bad = f"{stack.unique('bad')}@example.com"
    stack.smtp.handler.rcpt_replies[bad] = "550 5.1.1 mailbox unavailable"
    for email in (good[0], bad, *good[1:]):
        add_subscriber(stack.db, email, name)
    result = ingest(stack.db, stack.settings, {"url": stack.unique("https://n.example/b"),
                                               "title": "Bounce test", "section": section})
    stack.dispatcher.fan_out(result.article_id)
    wait_for(lambda: all(stack.smtp.handler.to(e) for e in good), what="the good addresses")
    with stack.db.session() as session:
        wait_for(lambda: session.scalar(select(Suppression.reason).where(
            Suppression.email_hash == email_digest(bad))) == "bounced", what="suppression")
        status = session.scalar(select(Subscription.status).join(
            Subscriber, Subscriber.id == Subscription.subscriber_id).where(
            Subscriber.email == bad))
    assert status == "bounced"
    assert all(len(stack.smtp.handler.to(e)) == 1 for e in good)


def test_two_beat_schedulers_running_together_send_one_digest(stack):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT  # noqa: F401  (the beat processes import tasks from here)

    name = stack.unique("minutely")
    section = stack.unique("Beat")
    create_list(stack.db, name, instant=False, schedule="* * * * *", sections=[section])
    reader = f"{stack.unique('beat')}@example.com"
    add_subscriber(stack.db, reader, name)
    with stack.db.session() as session:
        session.execute(update(MailingList).where(MailingList.name == name).values(
            created_at=datetime(2026, 1, 1, tzinfo=UTC)))
    publish(stack, section, "Due now")

    env = {**os.environ, **stack.env, "DISTRIBUTOR_DIGEST_TICK_EVERY": "0.5",
           "DISTRIBUTOR_SWEEP_EVERY": "3600", "PYTHONPATH": str(ROOT)}
    beats = [subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks", "beat", "-s",
         str(stack.tmp / f"beat-{n}-{name}"), "-l", "warning"],
        env=env, cwd=stack.tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for n in range(2)]
    try:
        wait_for(lambda: stack.smtp.handler.to(reader), timeout=30, what="the digest")
        time.sleep(3)  # both schedulers keep ticking meanwhile
    finally:
        for beat in beats:
            beat.terminate()
        for beat in beats:
            beat.wait(10)
    assert len(stack.smtp.handler.to(reader)) == 1
    with stack.db.session() as session:
        list_id = session.scalar(select(MailingList.id).where(MailingList.name == name))
        sends = session.scalars(select(Send).where(Send.list_id == list_id)).all()
    # A tick in the next minute finds nothing new and records a skipped digest at most.
    assert len([s for s in sends if s.state != "skipped"]) == 1

"""A channel in trouble, and poison input that must not block the queue."""

from __future__ import annotations

import time

from sqlalchemy import select

from distributor.audience.lists import create_list
from distributor.audience.subscribers import add_subscriber
from distributor.email.digests import send_now
from distributor.inbound.publish import publish
from distributor.monitor.deliveries import deliveries, is_settled
from distributor.store import ChannelPost, Send
from tests.faults.conftest import report
from tests.peers import Reply, wait_for


def test_a_channel_in_trouble_gets_one_post_not_before_its_retry_after(fault_stack,
                                                                       http_receiver):
    path = f"/shaky-{time.time_ns()}"
    stack = fault_stack(channels=[{"name": "shaky", "type": "webhook",
                                   "url": http_receiver.url(path), "rate": "100/s"}])
    http_receiver.reply_on(path, *[
        Reply(503, {"error": "unavailable"}),
        Reply(200, delay=2.5),  # longer than DISTRIBUTOR_HTTP_TIMEOUT=1: a timeout
        Reply(429, {"error": "slow down"}, headers={"Retry-After": "2"}),
        Reply(200, {"id": "remote-1"}),
    ])
    stack.worker(concurrency=2)
    stack.beat()
    started = time.monotonic()
    result = publish(stack.db, stack.settings, stack.dispatcher,
                     {"url": f"https://news.example.org{path}", "title": "Channel trouble"})
    post = wait_for(lambda: (r := deliveries(stack.db, result.guid)) and is_settled(r)
                    and r["channels"][0], timeout=60, what="the post to settle")
    got = http_receiver.to(path)
    assert len(got) == 4, (post, [(r.path, r.at) for r in got])
    throttled, delivered = got[2], got[3]
    # Counted at the receiver: the timed-out try was taken (200, answered too late) and
    # so was the last; a receiver that drops repeated webhook-ids (Standard Webhooks,
    # "Idempotency") sees one post.
    accepted = http_receiver.accepted(path)
    report("channel trouble", requests=len(got), accepted=len(accepted),
           distinct_ids=len({r.headers["webhook-id"] for r in accepted}), state=post["state"],
           waited_after_429=round(delivered.at - throttled.at, 2),
           seconds=round(time.monotonic() - started, 1))
    assert post["state"] == "sent" and post["attempts"] == 4
    assert len(accepted) == 2 and len({r.headers["webhook-id"] for r in got}) == 1
    assert delivered.at - throttled.at >= 2.0


def test_a_post_woken_again_while_its_request_is_in_flight_posts_once(fault_stack,
                                                                       http_receiver):
    path = f"/slow-{time.time_ns()}"
    stack = fault_stack(channels=[{"name": "slow", "type": "webhook",
                                   "url": http_receiver.url(path), "rate": "100/s"}],
                        http_timeout="10")
    http_receiver.reply_on(path, Reply(200, {"id": "remote-1"}, delay=3.0))
    worker = stack.worker(concurrency=4)
    result = publish(stack.db, stack.settings, stack.dispatcher,
                     {"url": f"https://news.example.org{path}", "title": "Slow service"})
    first = wait_for(lambda: http_receiver.to(path), timeout=30,
                     what="the post to be in flight")[0]
    with stack.db.session() as session:
        post_id = session.scalar(select(ChannelPost.id))
    for _ in range(3):  # as a restored broker message or an early sweep would
        stack.dispatcher.post(post_id)
    wait_for(lambda: worker.output().count(f"post={post_id} state=busy") == 3, timeout=30,
             what="the three copies to run and leave")
    in_flight = time.monotonic() - first.at < 3.0  # its answer is 3 s in coming
    post = wait_for(lambda: (r := deliveries(stack.db, result.guid)) and is_settled(r)
                    and r["channels"][0], timeout=30, what="the post to settle")
    accepted = http_receiver.accepted(path)
    report("post woken while in flight", copies=3, requests=len(http_receiver.to(path)),
           accepted=len(accepted), state=post["state"])
    assert in_flight  # the copies ran while the first request waited for its answer
    assert post["state"] == "sent" and len(http_receiver.to(path)) == 1


def test_a_broken_template_fails_its_send_and_nothing_else(fault_stack, smtp_server,
                                                            http_receiver, tmp_path):
    overrides = tmp_path / "overrides"
    (overrides / "email").mkdir(parents=True)
    (overrides / "channels").mkdir()
    (overrides / "email" / "digest.html.j2").write_text("{{ no_such_thing.title }}")
    (overrides / "channels" / "broken.j2").write_text("{% for %}")
    stack = fault_stack(channels=[
        {"name": "broken", "type": "webhook", "url": http_receiver.url("/broken"),
         "template": "channels/broken.j2"},
        {"name": "fine", "type": "webhook", "url": http_receiver.url("/fine")},
    ], templates_dir=str(overrides))
    create_list(stack.db, "alerts", instant=True)
    create_list(stack.db, "daily", instant=False, schedule="0 7 * * *")
    reader = f"poison-{time.time_ns()}@example.com"
    add_subscriber(stack.db, reader, "alerts")
    add_subscriber(stack.db, reader, "daily")
    stack.worker(concurrency=2)

    result = publish(stack.db, stack.settings, stack.dispatcher,
                     {"url": "https://news.example.org/poison", "title": "Poison"})
    digest = send_now(stack.db, stack.settings, stack.dispatcher, "daily")

    settled = wait_for(lambda: (r := deliveries(stack.db, result.guid)) and is_settled(r) and r,
                       timeout=30, what="the article to settle")
    posts = {p["channel"]: p for p in settled["channels"]}
    assert posts["fine"]["state"] == "sent"
    assert posts["broken"]["state"] == "failed" and "TemplateSyntaxError" in posts["broken"]["error"]
    assert settled["sends"][0]["sent"] == 1
    with stack.db.session() as session:
        failed = wait_for(lambda: (s := session.get(Send, digest.send_id)) and
                          session.refresh(s) is None and s.state == "failed" and s,
                          timeout=30, what="the digest send to fail")
        assert "rendering failed" in failed.error and "no_such_thing" in failed.error
        assert session.scalar(select(Send.state).where(Send.article_id == result.article_id)) \
            == "done"
    assert len(smtp_server.handler.to(reader)) == 1  # the alert went; the digest did not
    report("poison input", alert="sent", digest=failed.state, broken_channel="failed")

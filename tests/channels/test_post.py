"""Posting through distributor.channels.post.run_post: a real database, the real Redis
limiter, and the local fake services. One post per article and channel, the
service's retry-after kept, gone endpoints disable the channel."""

from __future__ import annotations

import threading
import time
from datetime import UTC, timedelta

import pytest
import requests

from distributor.channels.admin import overview
from distributor.channels.post import run_post
from tests.channels.cases import CASES, NEWSLETTER, TG_CHAT, TG_TOKEN, WAHA_KEY
from tests.channels.conftest import post_row, publish
from tests.channels.fake_telegram import FakeTelegram
from tests.channels.fake_webhooks import FakeDiscord
from tests.channels.fake_whatsapp import FakeWaha


@pytest.fixture()
def telegram():
    with FakeTelegram(TG_TOKEN, TG_CHAT) as server:
        yield server


def tg_channel(server, **extra):
    return {"name": "tg", "type": "telegram", "base_url": server.url(), "chat_id": TG_CHAT,
            "token": TG_TOKEN, **extra}


def test_a_429_is_kept_until_its_retry_after_has_passed(setup, telegram, limiter):
    settings, db = setup([tg_channel(telegram)])
    [post_id] = publish(settings, db)
    http = requests.Session()
    telegram.rate_limit(1)

    first = run_post(db, settings, http, post_id, limiter=limiter)
    row = post_row(db, post_id)
    assert (first.state, first.retry_in) == ("retry", 1.0)
    assert row.state == "retrying" and row.next_attempt_at is not None

    early = run_post(db, settings, http, post_id, limiter=limiter,
                     now=row.next_attempt_at - timedelta(seconds=1))
    assert early.state == "retry" and 0 < early.retry_in <= 1.0
    assert len(telegram.requests) == 1, "nothing may go before the retry-after has passed"

    time.sleep(1.05)  # the channel's limiter holds the wait in Redis time
    later = run_post(db, settings, http, post_id, limiter=limiter,
                     now=row.next_attempt_at + timedelta(milliseconds=10))
    assert later.state == "sent"
    row = post_row(db, post_id)
    assert row.remote_id == str(telegram.posts[0]["message_id"])
    assert len(telegram.posts) == 1


def test_the_task_for_one_post_running_twice_sends_one_request(setup, telegram, limiter):
    settings, db = setup([tg_channel(telegram)])
    [post_id] = publish(settings, db)
    telegram.delay = 0.5  # the first run is still waiting for Telegram when the second starts
    results = []

    def run():
        results.append(run_post(db, settings, requests.Session(), post_id, limiter=limiter))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    again = run_post(db, settings, requests.Session(), post_id, limiter=limiter)

    assert sorted(r.state for r in results) == ["busy", "sent"]
    assert again.state == "busy"
    assert len(telegram.requests) == 1


def test_a_deleted_webhook_disables_the_channel_and_says_why(setup, limiter):
    with FakeDiscord() as discord:
        settings, db = setup([{"name": "dc", "type": "discord",
                               "url": discord.url("/api/webhooks/1/deleted")}])
        first, second = publish(settings, db)[0], publish(settings, db)[0]

        result = run_post(db, settings, requests.Session(), first, limiter=limiter)
        assert result.state == "failed" and "Unknown Webhook" in result.error
        [row] = overview(db, settings)
        assert row["state"] == "disabled" and "Unknown Webhook" in row["reason"]

        result = run_post(db, settings, requests.Session(), second, limiter=limiter)
        assert result.state == "failed" and "disabled" in result.error
        assert len(discord.requests) == 1


def test_whatsapp_posts_are_recorded_accepted_or_confirmed(setup, limiter):
    with FakeWaha(WAHA_KEY) as waha:
        keys = {"type": "waha", "base_url": waha.url(), "chat_id": NEWSLETTER,
                "api_key": WAHA_KEY}
        settings, db = setup([{"name": "wa", **keys},
                              {"name": "wa-checked", "verify": True, **keys}])
        plain, checked = publish(settings, db)
        assert run_post(db, settings, requests.Session(), plain, limiter=limiter).state == \
            "accepted"
        assert run_post(db, settings, requests.Session(), checked, limiter=limiter).state == \
            "confirmed"
        assert post_row(db, checked).remote_id.startswith("true_")


def test_a_429_holds_the_whole_channel_not_just_its_post(setup, telegram, limiter):
    settings, db = setup([tg_channel(telegram, rate="60/s")])
    first, second = publish(settings, db)[0], publish(settings, db)[0]
    http = requests.Session()
    telegram.rate_limit(2)

    assert run_post(db, settings, http, first, limiter=limiter).retry_in == 2.0
    other = run_post(db, settings, http, second, limiter=limiter)
    assert other.state == "retry" and 1.5 < other.retry_in <= 2.0
    assert len(telegram.requests) == 1, "another post went into Telegram's flood wait"


def test_a_waha_restart_delays_posts_and_never_disables_the_channel(setup, limiter):
    with FakeWaha(WAHA_KEY) as waha:
        settings, db = setup([{"name": "wa", "type": "waha", "base_url": waha.url(),
                               "chat_id": NEWSLETTER, "api_key": WAHA_KEY, "max_age": "1h",
                               "rate": "60/s"}])
        [post_id] = publish(settings, db)
        http = requests.Session()
        waha.status = "SCAN_QR_CODE"
        result = run_post(db, settings, http, post_id, limiter=limiter)
        assert result.state == "retry" and "WhatsApp session not ready" in result.error
        [row] = overview(db, settings)
        assert row["state"] == "enabled"
        assert "WhatsApp session not ready" in row["last_post"]["error"]

        waha.status = None  # restarted, not started yet: 404 "We didn't find a session"
        later = post_row(db, post_id).next_attempt_at + timedelta(seconds=1)
        assert run_post(db, settings, http, post_id, limiter=limiter, now=later).state == "retry"
        assert overview(db, settings)[0]["state"] == "enabled"

        waha.status = "WORKING"
        later = post_row(db, post_id).next_attempt_at + timedelta(seconds=1)
        assert run_post(db, settings, http, post_id, limiter=limiter, now=later).state == \
            "accepted"
        assert len(waha.posts) == 1


def test_a_session_never_ready_gives_up_after_max_age(setup, limiter):
    with FakeWaha(WAHA_KEY) as waha:
        settings, db = setup([{"name": "wa", "type": "waha", "base_url": waha.url(),
                               "chat_id": NEWSLETTER, "api_key": WAHA_KEY, "max_age": "1h",
                               "rate": "60/s"}])
        [post_id] = publish(settings, db)
        waha.status = "STARTING"
        created = post_row(db, post_id).created_at.replace(tzinfo=UTC)
        first = run_post(db, settings, requests.Session(), post_id, limiter=limiter, now=created)
        assert first.state == "retry"
        result = run_post(db, settings, requests.Session(), post_id, limiter=limiter,
                          now=created + timedelta(hours=1, seconds=1))
        assert result.state == "failed" and "WhatsApp session not ready" in result.error
        assert overview(db, settings)[0]["state"] == "enabled"


def test_a_post_whose_turn_comes_after_max_age_is_expired_not_sent(setup, telegram, limiter):
    """After an outage (workers down, a long queue) a post that is no longer news stays
    unposted: nothing reaches the service, and the reason is kept."""
    settings, db = setup([tg_channel(telegram, max_age="1h")])
    [post_id] = publish(settings, db)
    created = post_row(db, post_id).created_at.replace(tzinfo=UTC)
    result = run_post(db, settings, requests.Session(), post_id, limiter=limiter,
                      now=created + timedelta(hours=1, minutes=1))
    assert result.state == "expired" and "over the channel's max_age of 1h" in result.error
    row = post_row(db, post_id)
    assert (row.state, row.error) == ("expired", result.error)
    assert telegram.requests == []
    assert run_post(db, settings, requests.Session(), post_id, limiter=limiter).state == "busy"


def test_revoked_credentials_disable_the_channel_until_a_test_works(setup, telegram, limiter):
    from distributor.channels.admin import send_test

    settings, db = setup([tg_channel(telegram)])
    first, second = publish(settings, db)[0], publish(settings, db)[0]
    telegram.kicked = True
    result = run_post(db, settings, requests.Session(), first, limiter=limiter)
    assert result.state == "failed"
    [row] = overview(db, settings)
    assert row["state"] == "paused" and "bot was kicked" in row["reason"]
    assert run_post(db, settings, requests.Session(), second, limiter=limiter).state == "failed"
    assert len(telegram.requests) == 1, "later posts must not knock on a closed door"

    telegram.kicked = False  # the operator added the bot back
    assert send_test(db, settings, requests.Session(), "tg")["reenabled"] is True
    assert overview(db, settings)[0]["state"] == "enabled"


@pytest.mark.parametrize("kind", ["waha", "whapi"])
def test_a_timeout_after_the_gateway_took_the_post_does_not_post_it_twice(setup, limiter,
                                                                           kind):
    from tests.channels.cases import WHAPI_TOKEN
    from tests.channels.fake_whatsapp import FakeWhapi
    from tests.peers import wait_for

    make = (lambda: FakeWaha(WAHA_KEY)) if kind == "waha" else (lambda: FakeWhapi(WHAPI_TOKEN))
    with make() as fake:
        secret = {"api_key": WAHA_KEY} if kind == "waha" else {"token": WHAPI_TOKEN}
        settings, db = setup([{"name": "wa", "type": kind, "base_url": fake.url(),
                               "chat_id": NEWSLETTER, "rate": "60/s", **secret}])
        settings = settings.model_copy(update={"http_timeout": 0.3})
        [post_id] = publish(settings, db)
        fake.delay = 0.8  # the gateway takes the message, but answers too late
        first = run_post(db, settings, requests.Session(), post_id, limiter=limiter)
        assert first.state == "retry" and "may have gone" in first.error
        wait_for(lambda: fake.posts, timeout=5, what="the gateway to take the message")
        fake.delay = 0.0

        later = post_row(db, post_id).next_attempt_at + timedelta(seconds=1)
        second = run_post(db, settings, requests.Session(), post_id, limiter=limiter, now=later)
        assert second.state == ("confirmed" if kind == "waha" else "accepted")
        assert len(fake.posts) == 1, "posted twice after a timeout"
        assert post_row(db, post_id).remote_id == fake.messages[0]["id"]


@pytest.mark.parametrize("case", [c for c in CASES if c.type in ("telegram", "slack", "discord")],
                         ids=lambda c: c.type)
def test_a_lost_answer_repeats_a_post_at_most_once_where_the_service_cannot_be_read(
        setup, limiter, case):
    """Telegram, Slack and Discord cannot be asked whether a post arrived: the service
    takes the post, its answer comes after our timeout, the retry posts again. The bound
    RELIABILITY.md states (one repeat per such timeout) is what the receiver counts."""
    with case.make() as fake:
        settings, db = setup([{"name": case.type, "type": case.type, "rate": "60/s",
                               **case.keys(fake)}])
        settings = settings.model_copy(update={"http_timeout": 0.3})
        [post_id] = publish(settings, db)
        fake.delay = 0.8
        first = run_post(db, settings, requests.Session(), post_id, limiter=limiter)
        assert first.state == "retry" and len(fake.posts) == 1, "the service took the post"
        fake.delay = 0.0
        later = post_row(db, post_id).next_attempt_at + timedelta(seconds=1)
        second = run_post(db, settings, requests.Session(), post_id, limiter=limiter, now=later)
        assert second.state == case.state
        third = run_post(db, settings, requests.Session(), post_id, limiter=limiter, now=later)
        assert third.state != "sent"
        assert len(fake.posts) == 2, "one repeat per lost answer, and no more"


def test_a_timeout_before_anything_was_taken_posts_again(setup, limiter):
    with FakeWaha(WAHA_KEY) as waha:
        settings, db = setup([{"name": "wa", "type": "waha", "base_url": waha.url(),
                               "chat_id": NEWSLETTER, "api_key": WAHA_KEY, "rate": "60/s"}])
        settings = settings.model_copy(update={"http_timeout": 0.3})
        [post_id] = publish(settings, db)
        waha.answer_next((504, {}, b"gateway timeout"))  # nothing taken
        assert run_post(db, settings, requests.Session(), post_id, limiter=limiter).state == \
            "retry"
        later = post_row(db, post_id).next_attempt_at + timedelta(seconds=1)
        assert run_post(db, settings, requests.Session(), post_id, limiter=limiter,
                        now=later).state == "accepted"
        assert len(waha.posts) == 1 and [r.method for r in waha.requests] == ["POST", "POST"]


def test_failures_retry_resumes_a_paused_channel_and_its_post_goes(setup, telegram, limiter):
    from distributor.monitor.failures import retry
    from distributor.outbox.wake import MemoryDispatcher

    settings, db = setup([tg_channel(telegram, rate="60/s")])
    [post_id] = publish(settings, db)
    telegram.kicked = True
    assert run_post(db, settings, requests.Session(), post_id, limiter=limiter).state == "failed"
    assert overview(db, settings)[0]["state"] == "paused"

    telegram.kicked = False
    dispatcher = MemoryDispatcher()
    retry(db, dispatcher, f"post:{post_id}")
    assert dispatcher.ids("channels.post") == [post_id]
    assert overview(db, settings)[0]["state"] == "enabled"
    assert run_post(db, settings, requests.Session(), post_id, limiter=limiter).state == "sent"

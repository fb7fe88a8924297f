"""The dashboard: the token gate over HTTP, and the real thing in headless
Chromium — sign in, see an article with its deliveries, retry a failed post."""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from distributor.api import create_app
from distributor.outbox import wake
from distributor.store import Article
from tests.browser import ARTIFACTS, serving
from tests.conftest import API_TOKEN
from tests.monitor.test_failures import post_state, publish_refused_post
from tests.peers import free_port, wait_for


def test_no_or_wrong_token_gets_401_and_the_login_page_never_data(monitored):
    monitored.publish("Secret budget leak")
    client = TestClient(create_app(monitored.settings, monitored.db, monitored.dispatcher))
    page = client.get("/")
    assert page.status_code == 401
    assert 'name="token"' in page.text and "Secret budget leak" not in page.text
    wrong = client.post("/login", data={"token": "nope"})
    assert wrong.status_code == 401 and "not right" in wrong.text
    forged = client.get("/", cookies={"distributor_session": "eyJ0IjoiYWJjIn0.forged"})
    assert forged.status_code == 401 and "Secret budget leak" not in forged.text
    assert client.post("/dashboard/failures/post:1/retry").status_code == 401

    good = client.post("/login", data={"token": API_TOKEN}, follow_redirects=False)
    assert good.status_code == 303
    cookie = good.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = client.get("/")
    assert page.status_code == 200 and "Secret budget leak" in page.text
    assert 'http-equiv="refresh"' in page.text or "setInterval" in page.text
    cross = client.post("/dashboard/failures/post:1/retry",
                        headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403


@pytest.fixture()
def served(monitored):
    with serving(create_app(monitored.settings, monitored.db, monitored.dispatcher)) as url:
        yield url


def test_dashboard_in_a_real_browser(monitored, start_worker, served, browser):
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
    )
    from selenium.webdriver.common.by import By

    guid = publish_refused_post(monitored, start_worker)
    # a delivered article too, so the page shows both kinds
    ok_id = monitored.publish("Cabinet clears the budget")
    wake.fan_out(monitored.db, monitored.dispatcher, ok_id, datetime.now(UTC))
    with monitored.db.session() as session:
        ok_guid = session.get(Article, ok_id).guid
    wait_for(lambda: post_state(monitored, ok_guid) == "sent", timeout=30, what="second post")

    def text_of(selector: str) -> str:  # the page swaps its live part every few seconds
        try:
            return browser.find_element(By.CSS_SELECTOR, selector).text
        except (StaleElementReferenceException, NoSuchElementException):
            return ""

    article = f"tr.article[data-guid='{guid}']"
    browser.get(served + "/")
    assert "Sign in" in browser.title
    assert "Refused by the hook" not in browser.page_source
    browser.find_element(By.NAME, "token").send_keys(API_TOKEN)
    browser.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()
    wait_for(lambda: "Dashboard" in browser.title, timeout=10, what="the dashboard")

    row = text_of(article)
    assert "newsroom-hook failed" in row and "breaking" in row
    failure_id = browser.find_element(By.CSS_SELECTOR, "tr.failure").get_attribute("data-id")
    assert "unknown chat id" in text_of(f"tr.failure[data-id='{failure_id}']")
    ARTIFACTS.mkdir(exist_ok=True)
    wait_for(lambda: "breaking done" in text_of(article), timeout=20,
             what="the alert emails to show as sent")
    browser.save_screenshot(str(ARTIFACTS / "dashboard-failure.png"))

    # the receiver now says 200
    browser.execute_script("document.querySelector(arguments[0]).click()",
                           f"tr.failure[data-id='{failure_id}'] button.retry")
    wait_for(lambda: "re-opened and enqueued" in browser.page_source, timeout=10,
             what="the retry note")
    wait_for(lambda: post_state(monitored, guid) == "sent", timeout=30, what="the retried post")

    wait_for(lambda: "newsroom-hook sent" in text_of(article), timeout=20, interval=0.5,
             what="the page to refresh itself and show the post sent")
    assert "No failures" in text_of("#failures")
    browser.save_screenshot(str(ARTIFACTS / "dashboard.png"))
    browser.set_window_size(390, 1400)
    time.sleep(0.3)
    browser.save_screenshot(str(ARTIFACTS / "dashboard-phone.png"))
    shutil.copy(ARTIFACTS / "dashboard.png", ARTIFACTS / "dashboard-latest.png")


def test_dashboard_and_status_say_plainly_when_redis_is_down(monitored):
    from distributor.bootstrap import load_settings

    settings = load_settings({**monitored.env,
                              "DISTRIBUTOR_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0"})
    client = TestClient(create_app(settings, monitored.db, monitored.dispatcher))
    client.post("/login", data={"token": API_TOKEN})
    page = client.get("/")
    assert page.status_code == 200 and "Broker (Redis) unreachable" in page.text
    status = client.get("/v1/status", headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert status.json()["broker"].startswith("unreachable")


def test_an_embargoed_article_shows_when_it_is_scheduled_for(make_settings):
    from distributor.inbound.article import ingest
    from distributor.monitor.articles import latest_articles
    from distributor.store import Database
    from distributor.templates import environment

    settings = make_settings()
    db = Database(settings.database_url.get_secret_value())
    db.upgrade()
    ingest(db, settings, {"url": "https://n.example/budget", "title": "Budget",
                          "published_at": "2099-02-01T05:30:00Z"})
    ingest(db, settings, {"url": "https://n.example/now", "title": "Now"})
    rows = {row["title"]: row for row in latest_articles(db)}
    assert rows["Budget"]["scheduled_for"].startswith("2099-02-01T05:30")
    assert rows["Now"]["scheduled_for"] is None
    env = environment()
    source, _, _ = env.loader.get_source(env, "dashboard/index.html.j2")
    assert "embargoed: scheduled for" in source
    db.dispose()


def test_send_now_is_offered_to_an_admin_and_plans_the_digest(monitored):
    """The button was never shown: it waited for a dispatcher method nobody has. An admin
    sees it and its POST plans the digest with its batches woken; a cross-site POST is
    refused and plans nothing."""
    from sqlalchemy import select

    from distributor.audience.subscribers import add_subscriber
    from distributor.store import Batch, MailingList, Send

    add_subscriber(monitored.db, "early-riser@example.org", "morning")
    monitored.publish("For the morning digest")
    client = TestClient(create_app(monitored.settings, monitored.db, monitored.dispatcher))
    client.post("/login", data={"token": API_TOKEN})
    page = client.get("/")
    assert 'action="/dashboard/digests/morning/send"' in page.text and "Send now" in page.text

    cross = client.post("/dashboard/digests/morning/send",
                        headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    sent = client.post("/dashboard/digests/morning/send", follow_redirects=False)
    assert sent.status_code == 303
    with monitored.db.session() as session:
        morning = session.scalar(select(MailingList.id).where(MailingList.name == "morning"))
        sends = list(session.scalars(select(Send).where(Send.list_id == morning)))
        assert len(sends) == 1 and sends[0].state == "planned" and sends[0].planned == 1
        assert all(b.enqueued_at for b in session.scalars(
            select(Batch).where(Batch.send_id == sends[0].id)))
    flash = client.get("/")
    assert "digest for morning" in flash.text and "1 readers" in flash.text

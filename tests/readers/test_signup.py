"""The hosted sign-up page of a public list: double opt-in by button, a honeypot, the
per-IP limit, and the same answer whoever asks."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from distributor.store import Subscriber, Subscription
from tests.readers.test_preference_centre import statuses


def confirm_path(message) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(r"https://news\.example\.org(/confirm/\S+)", text).group(1)


def test_the_page_has_a_labelled_form_and_a_hidden_honeypot(newsroom):
    page = newsroom.client().get("/lists/breaking/subscribe")
    assert page.status_code == 200
    assert '<label for="signup-email">' in page.text and 'id="signup-email"' in page.text
    assert 'name="website"' in page.text and 'tabindex="-1"' in page.text
    assert "<script" not in page.text


def test_a_private_or_missing_list_has_no_page(newsroom):
    client = newsroom.client()
    for name in ("staff", "nope"):
        assert client.get(f"/lists/{name}/subscribe").status_code == 404
        answer = client.post(f"/lists/{name}/subscribe", data={"email": "a@example.com"})
        assert answer.status_code == 404
        assert client.get(f"/lists/{name}/form.html").status_code == 404
    assert newsroom.dispatcher.calls == []


def test_signing_up_asks_for_confirmation_even_on_a_single_opt_in_list(newsroom):
    client = newsroom.client()
    email = f"carol-{newsroom.tag}@example.com"
    answer = client.post("/lists/breaking/subscribe", data={"email": email, "name": "Carol"})
    assert answer.status_code == 202 and "check your inbox" in answer.text
    assert statuses(newsroom, email) == {"breaking": "unconfirmed"}
    newsroom.publish("Before she confirmed")
    assert newsroom.mailed(email) == []
    newsroom.send_confirmations()
    path = confirm_path(newsroom.mailed(email)[-1])
    shown = client.get(path)
    assert shown.status_code == 200 and "<button" in shown.text
    assert statuses(newsroom, email) == {"breaking": "unconfirmed"}  # GET confirms nobody
    assert client.post(path).status_code == 200
    assert statuses(newsroom, email) == {"breaking": "active"}
    newsroom.publish("After she confirmed")
    assert newsroom.mailed(email)[-1]["Subject"] == "After she confirmed"


def test_a_known_address_gets_the_same_answer_and_keeps_its_name(newsroom):
    alice = newsroom.reader("alice")
    client = newsroom.client()
    known = client.post("/lists/breaking/subscribe", data={"email": alice, "name": "URGENT"})
    new = client.post("/lists/breaking/subscribe",
                      data={"email": f"dan-{newsroom.tag}@example.com", "name": "Dan"})
    assert known.status_code == new.status_code == 202
    assert known.text == new.text
    with newsroom.db.session() as session:
        assert session.scalar(select(Subscriber.name).where(Subscriber.email == alice)) == "Alice"


def test_a_filled_honeypot_is_answered_alike_and_writes_nothing(newsroom):
    client = newsroom.client()
    email = f"bot-{newsroom.tag}@example.com"
    answer = client.post("/lists/breaking/subscribe",
                         data={"email": email, "website": "http://spam.example"})
    assert answer.status_code == 202 and "check your inbox" in answer.text
    with newsroom.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Subscriber)
                              .where(Subscriber.email == email)) == 0
    assert newsroom.dispatcher.ids("email.confirm") == [0]  # the same no-op task as any


def test_a_bad_address_is_named_and_the_form_keeps_what_was_typed(newsroom):
    answer = newsroom.client().post("/lists/breaking/subscribe",
                                    data={"email": "not-an-address", "name": "Erin"})
    assert answer.status_code == 400
    assert "email" in answer.text and 'value="Erin"' in answer.text
    assert 'aria-invalid="true"' in answer.text
    with newsroom.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Subscription)) == 0


def test_the_per_ip_limit_applies_to_the_hosted_page(newsroom):
    client = newsroom.client()
    answers = [client.post("/lists/breaking/subscribe",
                           data={"email": f"r{n}-{newsroom.tag}@example.com"}).status_code
               for n in range(12)]
    assert answers[:10] == [202] * 10 and answers[10:] == [429, 429]


def test_the_snippet_posts_to_the_public_url_and_carries_the_honeypot(newsroom):
    snippet = newsroom.client().get("/lists/breaking/form.html")
    assert snippet.status_code == 200
    assert 'action="https://news.example.org/lists/breaking/subscribe"' in snippet.text
    assert 'name="website"' in snippet.text and "<html" not in snippet.text

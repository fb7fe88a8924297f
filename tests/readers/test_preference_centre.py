"""The preference centre: every email links to it, the signed link is the only key, and
what the reader changes there is what the next send does."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from distributor.audience.preferences import _topic_key
from distributor.store import MailingList, Subscriber, Subscription

ALL_NEWS = "topic-" + _topic_key([])


def manage_link(message) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(r": (https://news\.example\.org/manage/\S+)", text).group(1)


def statuses(newsroom, email: str) -> dict[str, str]:
    with newsroom.db.session() as session:
        rows = session.execute(
            select(MailingList.name, Subscription.status)
            .join(Subscription, Subscription.list_id == MailingList.id)
            .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
            .where(Subscriber.email == email))
        return dict(rows.all())


def test_every_alert_carries_the_readers_own_manage_link_which_opens_their_page(newsroom):
    alice, bob = newsroom.reader("alice"), newsroom.reader("bob")
    newsroom.publish("Monsoon arrives early")
    link = manage_link(newsroom.mailed(alice)[-1])
    assert link.startswith("https://news.example.org/manage/")
    assert link != manage_link(newsroom.mailed(bob)[-1])
    html = newsroom.mailed(alice)[-1].get_body(("html",)).get_content()
    assert f'href="{link}"' in html

    page = newsroom.client().get(link.removeprefix("https://news.example.org"))
    assert page.status_code == 200
    assert alice in page.text and bob not in page.text
    assert "breaking" in page.text and "daily" in page.text
    assert "staff" not in page.text  # a private list the reader is not on stays hidden
    assert page.headers["referrer-policy"] == "no-referrer"


def test_a_forged_or_altered_link_is_refused_and_changes_nothing(newsroom):
    alice = newsroom.reader("alice")
    bob = newsroom.reader("bob")
    token = newsroom.token(alice)
    client = newsroom.client()
    altered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (altered, "forged", newsroom.token(bob)[:10] + token[10:]):
        assert client.get(f"/manage/{bad}").status_code == 400
        answer = client.post(f"/manage/{bad}", data={"action": "leave"})
        assert answer.status_code == 400 and "not valid" in answer.text
    assert statuses(newsroom, alice) == {"breaking": "active"}
    assert statuses(newsroom, bob) == {"breaking": "active"}


def test_a_link_stops_working_when_its_address_changes_hands(newsroom):
    alice = newsroom.reader("alice")
    token = newsroom.token(alice)
    with newsroom.db.session() as session:
        session.scalar(select(Subscriber).where(Subscriber.email == alice)).email = \
            "someone-else@example.com"
    assert newsroom.client().get(f"/manage/{token}").status_code == 400


def test_switching_to_the_daily_digest_takes_effect_for_the_next_alert(newsroom):
    alice, bob = newsroom.reader("alice"), newsroom.reader("bob")
    client = newsroom.client()
    answer = client.post(f"/manage/{newsroom.token(alice)}",
                         data={"action": "save", ALL_NEWS: "daily"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "?done=saved"
    assert statuses(newsroom, alice) == {"breaking": "unsubscribed", "daily": "active"}
    newsroom.publish("Parliament passes the budget")
    assert newsroom.mailed(alice) == [] and len(newsroom.mailed(bob)) == 1
    assert "daily" in client.get(f"/manage/{newsroom.token(alice)}?done=saved").text


def test_sections_narrow_what_the_next_alert_carries(newsroom):
    alice = newsroom.reader("alice")
    newsroom.publish("Old sports story", section="Sport")  # sections are offered from articles
    newsroom.publish("Old business story", section="Business")
    before = len(newsroom.mailed(alice))
    token = newsroom.token(alice)
    page = newsroom.client().get(f"/manage/{token}")
    assert 'value="Sport"' in page.text and 'value="Business"' in page.text
    newsroom.client().post(f"/manage/{token}", data={
        "action": "save", ALL_NEWS: "breaking", "sections-shown": "1", "section": ["Business"]})
    newsroom.publish("Cricket final tonight", section="Sport")
    newsroom.publish("Rupee steadies", section="Business")
    subjects = [m["Subject"] for m in newsroom.mailed(alice)[before:]]
    assert subjects == ["Rupee steadies"]


def test_pausing_skips_the_reader_until_the_pause_ends_and_resume_brings_them_back(newsroom):
    alice, bob = newsroom.reader("alice"), newsroom.reader("bob")
    client, token = newsroom.client(), newsroom.token(alice)
    answer = client.post(f"/manage/{token}", data={"action": "pause", "weeks": "2"})
    assert answer.status_code == 200 and "Paused until" in answer.text
    with newsroom.db.session() as session:
        until = session.scalar(select(Subscription.paused_until).join(Subscriber).where(
            Subscriber.email == alice))
    assert timedelta(days=13) < until - datetime.now(UTC) <= timedelta(days=14)
    send_id = newsroom.publish("Storm warning for the coast")
    assert newsroom.mailed(alice) == [] and len(newsroom.mailed(bob)) == 1
    with newsroom.db.session() as session:
        from distributor.store import Send
        assert session.get(Send, send_id).planned == 1  # the plan did not count her
    client.post(f"/manage/{token}", data={"action": "resume"})
    newsroom.publish("Storm passes")
    assert [m["Subject"] for m in newsroom.mailed(alice)] == ["Storm passes"]


def test_a_pause_that_began_after_planning_still_holds_the_reader_back(newsroom):
    """The batch checks again: a reader who paused between plan and send is skipped."""
    from distributor.email.batch import run_batch
    from distributor.inbound.article import ingest
    from distributor.store import Batch

    alice, bob = newsroom.reader("alice"), newsroom.reader("bob")
    ingest(newsroom.db, newsroom.settings, {"url": "https://news.example.org/late",
                                            "title": "Late pause"})
    newsroom.client().post(f"/manage/{newsroom.token(alice)}",
                           data={"action": "pause", "weeks": "1"})
    with newsroom.db.session() as session:
        batch_ids = list(session.scalars(select(Batch.id)))
    for batch_id in batch_ids:
        run_batch(newsroom.db, newsroom.settings, newsroom.transport, batch_id)
    assert newsroom.mailed(alice) == [] and len(newsroom.mailed(bob)) == 1


def test_leaving_everything_unsubscribes_every_list(newsroom):
    alice = newsroom.reader("alice", "breaking", "daily")
    answer = newsroom.client().post(f"/manage/{newsroom.token(alice)}",
                                    data={"action": "leave"})
    assert answer.status_code == 200 and "unsubscribed from every list" in answer.text
    assert statuses(newsroom, alice) == {"breaking": "unsubscribed", "daily": "unsubscribed"}
    newsroom.publish("Nobody left to tell")
    assert newsroom.mailed(alice) == []


def test_time_zone_is_saved_when_it_is_an_iana_name_and_refused_otherwise(newsroom):
    alice = newsroom.reader("alice")
    client, token = newsroom.client(), newsroom.token(alice)
    client.post(f"/manage/{token}", data={"action": "save", "timezone": "Asia/Kolkata"})
    with newsroom.db.session() as session:
        assert session.scalar(select(Subscriber.timezone)) == "Asia/Kolkata"
    for bad in ("Mars/Olympus", "../../etc/passwd", "Asia/Kolkata\r\nX: y"):
        answer = client.post(f"/manage/{token}", data={
            "action": "save", "timezone": bad, ALL_NEWS: "off"})
        assert answer.status_code == 400 and "timezone" in answer.text
        assert statuses(newsroom, alice) == {"breaking": "active"}  # nothing was written
    with newsroom.db.session() as session:
        assert session.scalar(select(Subscriber.timezone)) == "Asia/Kolkata"
    client.post(f"/manage/{token}", data={"action": "save", "timezone": ""})
    with newsroom.db.session() as session:
        assert session.scalar(select(Subscriber.timezone)) is None


def test_bad_choices_name_the_field_and_change_nothing(newsroom):
    alice = newsroom.reader("alice")
    client, token = newsroom.client(), newsroom.token(alice)
    for data, field in (({"action": "save", ALL_NEWS: "staff"}, ALL_NEWS),
                        ({"action": "save", "sections-shown": "1", "section": "Nope"},
                         "section"),
                        ({"action": "pause", "weeks": "52"}, "weeks"),
                        ({"action": "explode"}, "action")):
        answer = client.post(f"/manage/{token}", data=data)
        assert answer.status_code == 400, data
        assert field in answer.text and "Traceback" not in answer.text
    assert statuses(newsroom, alice) == {"breaking": "active"}
    with newsroom.db.session() as session:
        assert session.scalar(select(Subscription.paused_until)) is None


def test_a_paused_reader_is_left_out_of_a_digest_planned_per_time_zone(newsroom):
    """Digests at each reader's own hour plan their batches per zone: a pause holds there too."""
    from distributor.audience.lists import update_list
    from distributor.email.digests import trigger_digest
    from distributor.store import Batch, Send

    update_list(newsroom.db, "daily", local_time=True)
    alice = newsroom.reader("alice", "daily")
    newsroom.reader("bob", "daily")
    newsroom.client().post(f"/manage/{newsroom.token(alice)}",
                           data={"action": "save", "timezone": "Asia/Tokyo"})
    newsroom.client().post(f"/manage/{newsroom.token(alice)}",
                           data={"action": "pause", "weeks": "1"})
    newsroom.publish("Rupee steadies", section="Business")
    result = trigger_digest(newsroom.db, newsroom.settings, "daily",
                            scheduled_for=datetime.now(UTC))  # the per-zone plan
    with newsroom.db.session() as session:
        assert session.get(Send, result.send_id).planned == 1
        zones = set(session.scalars(select(Batch.timezone).where(
            Batch.send_id == result.send_id)))
    assert zones == {"Asia/Kolkata"}  # bob's (the list's); none for paused alice

"""Clicks and opens, privacy first: off unless a list asks; a tracked link leads only to
an article of its edition; the counts are the clicks made; an erased reader's clicks go."""

from __future__ import annotations

import json
import re

from sqlalchemy import func, select

from distributor.audience.lists import update_list
from distributor.audience.subscribers import remove_subscriber
from distributor.audience.tokens import click_token
from distributor.store import ReaderEvent, Subscriber


def links(message) -> list[str]:
    html = message.get_body(("html",)).get_content()
    return re.findall(r'href="([^"]+)"', html)


def tracked_paths(message) -> list[str]:
    return [link.removeprefix("https://news.example.org") for link in links(message)
            if link.startswith("https://news.example.org/r/")]


def events(newsroom, kind: str = "click") -> list[tuple]:
    with newsroom.db.session() as session:
        return session.execute(select(ReaderEvent.article_id, ReaderEvent.send_id,
                                      ReaderEvent.channel, ReaderEvent.subscriber_id)
                               .where(ReaderEvent.kind == kind)).all()


def test_tracking_is_off_by_default_links_go_straight_to_the_article(newsroom):
    alice = newsroom.reader("alice")
    newsroom.publish("Monsoon arrives early")
    message = newsroom.mailed(alice)[-1]
    assert tracked_paths(message) == []
    assert any(link.startswith("https://news.example.org/") and "/r/" not in link
               and "/manage/" not in link for link in links(message))
    assert "/o/" not in message.get_body(("html",)).get_content()


def test_utm_parameters_are_added_and_the_articles_own_query_is_kept(newsroom):
    update_list(newsroom.db, "breaking", utm="utm_source=newsletter&utm_medium=email")
    alice = newsroom.reader("alice")
    newsroom.publish("Monsoon arrives early")
    text = newsroom.mailed(alice)[-1].get_body(("plain",)).get_content()
    assert re.search(r"https://news\.example\.org/\w+\?utm_source=newsletter&utm_medium=email",
                     text)


def test_aggregate_counts_equal_the_clicks_made_and_keep_no_names(newsroom):
    update_list(newsroom.db, "breaking", tracking="aggregate", utm="utm_source=newsletter")
    alice, bob = newsroom.reader("alice"), newsroom.reader("bob")
    send_id = newsroom.publish("Monsoon arrives early")
    client = newsroom.client()
    paths = tracked_paths(newsroom.mailed(alice)[-1])
    assert paths and all(not p.endswith(str(send_id)) for p in paths)
    for path in (paths[0], paths[0], tracked_paths(newsroom.mailed(bob)[-1])[0]):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 302
        assert re.fullmatch(r"https://news\.example\.org/\w+\?utm_source=newsletter",
                            answer.headers["location"])
        assert answer.headers["cache-control"] == "no-store"
    assert client.head(paths[0], follow_redirects=False).status_code == 302  # not counted
    clicks = events(newsroom)
    assert len(clicks) == 3
    assert {(s, c, who) for _, s, c, who in clicks} == {(send_id, "email", None)}


def test_the_redirect_refuses_any_target_not_in_the_edition(newsroom):
    update_list(newsroom.db, "breaking", tracking="aggregate")
    newsroom.reader("alice")
    first = newsroom.publish("First story")
    second = newsroom.publish("Second story")
    with newsroom.db.session() as session:
        from distributor.store import Send
        second_article = session.get(Send, second).article_id
    client = newsroom.client()
    secret = newsroom.settings.secret
    elsewhere = client.get(f"/r/{click_token(secret, first, second_article)}",
                           follow_redirects=False)
    assert elsewhere.status_code == 404
    good = click_token(secret, first, second_article - 1)
    for bad in (good[:-3] + "xyz", "aHR0cHM6Ly9ldmlsLmV4YW1wbGU", "https:%2F%2Fevil.example"):
        answer = client.get(f"/r/{bad}", follow_redirects=False)
        assert answer.status_code in (400, 404) and "location" not in answer.headers
    # a target in the query string is no target: the link still leads to its article
    answer = client.get(f"/r/{good}?url=https://evil.example/&next=//evil.example",
                        follow_redirects=False)
    assert answer.headers["location"].startswith("https://news.example.org/")
    assert len(events(newsroom)) == 1


def test_per_subscriber_clicks_know_the_reader_until_they_are_erased(newsroom):
    update_list(newsroom.db, "breaking", tracking="per-subscriber")
    alice, bob = newsroom.reader("alice"), newsroom.reader("bob")
    newsroom.publish("Monsoon arrives early")
    client = newsroom.client()
    alice_path = tracked_paths(newsroom.mailed(alice)[-1])[0]
    bob_path = tracked_paths(newsroom.mailed(bob)[-1])[0]
    assert alice_path != bob_path
    client.get(alice_path, follow_redirects=False)
    client.get(bob_path, follow_redirects=False)
    with newsroom.db.session() as session:
        ids = dict(session.execute(select(Subscriber.email, Subscriber.id)).all())
    assert sorted(who for *_, who in events(newsroom)) == sorted([ids[alice], ids[bob]])
    remove_subscriber(newsroom.db, alice, erase=True)
    assert [who for *_, who in events(newsroom)] == [ids[bob]]
    client.get(alice_path, follow_redirects=False)  # her old link: counts, for nobody
    assert sorted(who or 0 for *_, who in events(newsroom)) == [0, ids[bob]]


def test_opens_are_counted_only_when_the_list_asks(newsroom):
    alice = newsroom.reader("alice")
    update_list(newsroom.db, "breaking", tracking="aggregate")
    newsroom.publish("No pixel")
    assert "/o/" not in newsroom.mailed(alice)[-1].get_body(("html",)).get_content()
    update_list(newsroom.db, "breaking", track_opens=True)
    newsroom.publish("With pixel")
    html = newsroom.mailed(alice)[-1].get_body(("html",)).get_content()
    pixel = re.search(r'<img src="https://news\.example\.org(/o/[^"]+)"', html).group(1)
    answer = newsroom.client().get(pixel)
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/gif"
    assert len(events(newsroom, "open")) == 1
    assert newsroom.client().get("/o/forged").status_code == 200  # a pixel, not counted
    assert len(events(newsroom, "open")) == 1


def test_report_prints_the_same_figures_as_the_clicks_made(newsroom, tmp_path, redis_url,
                                                           monkeypatch):
    update_list(newsroom.db, "breaking", tracking="aggregate")
    readers = [newsroom.reader(name) for name in ("alice", "bob", "carol")]
    newsroom.publish("Quiet story")
    newsroom.publish("Big story")
    client = newsroom.client()
    for reader in readers:
        client.get(tracked_paths(newsroom.mailed(reader)[-1])[0])  # "Big story"
    client.get(tracked_paths(newsroom.mailed(readers[0])[0])[0])  # "Quiet story"
    run = newsroom.cli(tmp_path, redis_url, monkeypatch)
    code, output = run("report", "list", "breaking", "--since", "7d", "--json")
    assert code == 0, output
    data = json.loads(output)
    assert (data["editions"], data["sent"], data["clicks"]) == (2, 6, 4)
    assert [(a["title"], a["clicks"]) for a in data["top_articles"]] == [
        ("Big story", 3), ("Quiet story", 1)]
    assert sum(day["clicks"] for day in data["by_day"]) == 4
    assert data["compare"]["instant"] == {"sent": 6, "clicks": 4, "click_rate": 0.6667}
    code, output = run("report", "list", "breaking")
    assert code == 0 and "clicks 4" in output and "Big story" in output
    for args, field in ((("--since", "forever"), "since"), (("--since", "999d"), "since")):
        code, output = run("report", "list", "breaking", *args)
        assert code == 2 and field in output
    code, output = run("report", "list", "nope")
    assert code == 2 and "nope" in output
    with newsroom.db.session() as session:
        assert session.scalar(select(func.count()).select_from(ReaderEvent)) == 4


def test_a_channel_that_tracks_counts_its_clicks_and_one_that_does_not_adds_utm(
        backend, postgres, tmp_path, make_settings, smtp_server, http_receiver):
    import requests

    from distributor.channels.post import run_post
    from distributor.store import ChannelPost, Database
    from tests.conftest import WEBHOOK_SECRET, new_database_url
    from tests.readers.conftest import Newsroom

    hook = {"type": "webhook", "secret": WEBHOOK_SECRET}
    url = new_database_url(backend, postgres, tmp_path)
    settings = make_settings(database_url=url, smtp_url=smtp_server.url, channels=[
        {**hook, "name": "tracked", "url": http_receiver.url("/tracked"), "tracking": True,
         "utm": "utm_source=tracked"},
        {**hook, "name": "plain", "url": http_receiver.url("/plain"), "utm": "utm_source=plain"}])
    db = Database(url)
    db.upgrade()
    try:
        newsroom = Newsroom(settings, db, smtp_server, url)
        newsroom.publish("Monsoon arrives early")
        with db.session() as session:
            post_ids = list(session.scalars(select(ChannelPost.id)))
        for post_id in post_ids:
            run_post(db, settings, requests.Session(), post_id)
        tracked = http_receiver.to("/tracked")[-1].json()
        plain = http_receiver.to("/plain")[-1].json()
        assert re.search(r"https://news\.example\.org/\w+\?utm_source=plain", plain["text"])
        link = re.search(r"https://news\.example\.org(/r/\S+)", tracked["text"]).group(1)
        assert tracked["article"]["url"] == plain["article"]["url"]  # the payload stays true
        client = newsroom.client()
        for _ in range(2):
            answer = client.get(link, follow_redirects=False)
            assert answer.headers["location"] == plain["article"]["url"] + "?utm_source=tracked"
        assert [(c, who) for _, _, c, who in events(newsroom)] == [("tracked", None)] * 2
    finally:
        db.dispose()


def test_a_channel_utm_that_is_not_utm_stops_the_config_naming_it(make_settings):
    import pytest

    from distributor.errors import ConfigError
    from tests.conftest import WEBHOOK_SECRET

    with pytest.raises(ConfigError, match="utm"):
        make_settings(channels=[{"name": "hook", "type": "webhook", "secret": WEBHOOK_SECRET,
                                 "url": "https://example.org/hook",
                                 "utm": "next=https://evil.example"}])


def test_a_list_utm_that_is_not_utm_is_refused_naming_the_field(newsroom):
    import pytest

    from distributor.errors import InvalidInput

    for bad in ("next=https://evil.example", "utm_source=", "utm_source"):
        with pytest.raises(InvalidInput) as refused:
            update_list(newsroom.db, "breaking", utm=bad)
        assert "utm" in refused.value.fields
    with pytest.raises(InvalidInput) as refused:
        update_list(newsroom.db, "breaking", tracking="everything")
    assert "tracking" in refused.value.fields

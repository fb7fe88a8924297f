"""The dashboard's list and article pages: behind the sign-in, the same figures as
`distributor report`, charts drawn on the server as SVG (no script, no CDN)."""

from __future__ import annotations

import re

from sqlalchemy import select

from distributor.audience.lists import update_list
from distributor.store import Article
from tests.conftest import API_TOKEN
from tests.readers.test_tracking import tracked_paths


def signed_in(newsroom):
    client = newsroom.client()
    assert client.post("/login", data={"token": API_TOKEN}, follow_redirects=False) \
        .status_code == 303
    return client


def test_the_pages_need_a_sign_in(newsroom):
    client = newsroom.client()
    for path in ("/dashboard/lists/breaking", "/dashboard/articles?guid=x"):
        page = client.get(path)
        assert page.status_code == 401 and 'name="token"' in page.text


def test_the_list_page_draws_what_readers_did(newsroom):
    update_list(newsroom.db, "breaking", tracking="aggregate")
    alice, bob = newsroom.reader("alice"), newsroom.reader("bob")
    newsroom.publish("<script>alert(1)</script> Budget")
    client = signed_in(newsroom)
    for reader in (alice, bob):
        client.get(tracked_paths(newsroom.mailed(reader)[-1])[0])
    page = client.get("/dashboard/lists/breaking?since=7d")
    assert page.status_code == 200
    assert page.text.count("<svg") == 4 and "<script>alert" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Budget" in page.text
    totals = {label.strip(): int(n)
              for n, label in re.findall(r"<b>(\d+)</b><span>([a-z ]+)", page.text)}
    assert totals == {"editions": 1, "emails sent": 2, "bounced": 0, "failed": 0, "clicks": 2}
    assert "cdn" not in page.text.lower() and "<script src" not in page.text


def test_the_article_page_counts_clicks_per_list_and_channel(newsroom):
    update_list(newsroom.db, "breaking", tracking="aggregate")
    alice = newsroom.reader("alice")
    newsroom.publish("Monsoon arrives early")
    client = signed_in(newsroom)
    path = tracked_paths(newsroom.mailed(alice)[-1])[0]
    for _ in range(3):
        client.get(path)
    page = client.get("/dashboard/articles", params={"guid": "nope"})
    assert page.status_code == 404
    with newsroom.db.session() as session:
        guid = session.scalar(select(Article.guid))
    page = client.get("/dashboard/articles", params={"guid": guid})
    assert page.status_code == 200 and "<svg" in page.text
    assert re.search(r"<td>breaking</td><td>email</td><td class=\"num\">3</td>", page.text)


def test_bad_periods_and_unknown_lists_are_named_not_500(newsroom):
    client = signed_in(newsroom)
    assert client.get("/dashboard/lists/breaking?since=forever").status_code == 400
    assert client.get("/dashboard/lists/breaking?since=400d").status_code == 400
    page = client.get("/dashboard/lists/nope")
    assert page.status_code == 404 and "nope" in page.text

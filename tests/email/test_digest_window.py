"""What a digest carries: every matching article exactly once per list, whatever the
order and the dates articles arrive with (issue: digests lost late arrivals)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from distributor.audience.lists import create_list, update_list
from distributor.audience.subscribers import add_subscriber
from distributor.email.digests import trigger_digest
from distributor.errors import InvalidInput
from distributor.inbound.article import ingest
from distributor.states import SendState
from distributor.store import Article, MailingList, Send

NOW = datetime.now(UTC)


def article(db, settings, slug: str, published: datetime, section: str | None = None) -> int:
    return ingest(db, settings, {"url": f"https://n.example/{slug}", "title": slug.title(),
                                 "section": section,
                                 "published_at": published.isoformat()}).article_id


def carried(db, settings, list_name: str) -> list[str]:
    result = trigger_digest(db, settings, list_name)
    if result.send_id is None:
        return []
    with db.session() as session:
        ids = session.get(Send, result.send_id).article_ids
        return sorted(session.scalars(select(Article.guid).where(Article.id.in_(ids))))


@pytest.fixture()
def daily(db, make_settings):
    settings = make_settings()
    create_list(db, "daily", instant=False, schedule="0 7 * * *")
    add_subscriber(db, "a@example.com", "daily")
    return db, settings


def test_an_article_arriving_after_a_digest_with_an_earlier_date_goes_in_the_next(daily):
    db, settings = daily
    article(db, settings, "first", NOW - timedelta(hours=1))
    assert carried(db, settings, "daily") == ["https://n.example/first"]
    # A slow CMS hook: it arrives now, dated three hours ago, before the digest ran.
    article(db, settings, "late", NOW - timedelta(hours=3))
    assert carried(db, settings, "daily") == ["https://n.example/late"]
    assert carried(db, settings, "daily") == []


def test_two_articles_with_one_timestamp_split_by_a_digest_each_go_once(daily):
    db, settings = daily
    same = NOW - timedelta(minutes=30)
    article(db, settings, "one", same)
    first = carried(db, settings, "daily")
    article(db, settings, "two", same)
    second = carried(db, settings, "daily")
    assert (first, second) == (["https://n.example/one"], ["https://n.example/two"])


def test_a_failed_digest_carried_nothing_so_the_next_one_takes_its_articles(daily):
    db, settings = daily
    article(db, settings, "story", NOW - timedelta(hours=1))
    first = trigger_digest(db, settings, "daily")
    with db.session() as session:
        session.execute(update(Send).where(Send.id == first.send_id)
                        .values(state=SendState.FAILED))
    assert carried(db, settings, "daily") == ["https://n.example/story"]


def test_each_list_carries_an_article_once_by_its_own_sections(db, make_settings):
    settings = make_settings()
    create_list(db, "asia", instant=False, schedule="0 7 * * *", sections=["Asia"])
    create_list(db, "all", instant=False, schedule="0 7 * * *")
    for name in ("asia", "all"):
        add_subscriber(db, f"{name}@example.com", name)
    article(db, settings, "asian", NOW, section="Asia")
    article(db, settings, "business", NOW, section="Business")
    assert carried(db, settings, "asia") == ["https://n.example/asian"]
    assert carried(db, settings, "all") == ["https://n.example/asian", "https://n.example/business"]
    assert carried(db, settings, "asia") == carried(db, settings, "all") == []


def test_a_new_list_starts_with_what_arrived_in_the_day_before_it(db, make_settings):
    settings = make_settings()
    old = article(db, settings, "old", NOW - timedelta(days=3))
    recent = article(db, settings, "recent", NOW - timedelta(hours=5))
    with db.session() as session:  # when they arrived, not only their dates
        session.execute(update(Article).where(Article.id == old)
                        .values(created_at=NOW - timedelta(days=3)))
        session.execute(update(Article).where(Article.id == recent)
                        .values(created_at=NOW - timedelta(hours=5)))
    create_list(db, "fresh", instant=False, schedule="0 7 * * *")
    add_subscriber(db, "f@example.com", "fresh")
    assert carried(db, settings, "fresh") == ["https://n.example/recent"]


def test_by_hand_since_takes_what_was_published_after_it_even_if_carried(daily):
    db, settings = daily
    article(db, settings, "story", NOW - timedelta(hours=1))
    carried(db, settings, "daily")
    again = trigger_digest(db, settings, "daily", since=NOW - timedelta(hours=2))
    assert (again.state, again.articles) == (SendState.PLANNED, 1)


@pytest.mark.parametrize("schedule", ["0 0 7 * * *", "61 7 * * *", "0 25 * * *", "daily"])
def test_a_schedule_must_be_five_cron_fields_in_range(db, schedule):
    with pytest.raises(InvalidInput, match="five-field cron"):
        create_list(db, "daily", instant=False, schedule=schedule)


def test_a_list_is_changed_in_place_and_checked_first(db):
    create_list(db, "daily", instant=False, schedule="0 7 * * *")
    create_list(db, "breaking", instant=True)
    updated = update_list(db, "daily", schedule="30 6 * * 1-5", timezone="Asia/Kolkata",
                          max_age="2h")
    assert (updated.schedule, updated.timezone, updated.max_age) == (
        "30 6 * * 1-5", "Asia/Kolkata", 7200)
    with pytest.raises(InvalidInput, match="IANA"):
        update_list(db, "daily", schedule="0 8 * * *", timezone="Mars/Olympus")
    with pytest.raises(InvalidInput, match="no schedule"):
        update_list(db, "breaking", schedule="0 8 * * *")
    with db.session() as session:
        daily = session.scalar(select(MailingList).where(MailingList.name == "daily"))
        assert daily.schedule == "30 6 * * 1-5"  # the refused change wrote nothing

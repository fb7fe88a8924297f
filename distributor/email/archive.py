"""The public archive of a public list: each edition (an alert or a digest that went
out) as a web page anyone may read, an index with pages, and an Atom feed (RFC 4287).

Only what went out is shown, once its article is published: an embargoed article, an
unpublished one, a digest still planned or a send that was cancelled stays out. The
web copy carries no reader's data and no tracking (compose.web_copy)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree import ElementTree

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from distributor.audience.lists import public_list
from distributor.config import Settings
from distributor.email.compose import archive_url, send_articles, web_copy
from distributor.errors import InvalidInput, NotFound
from distributor.states import SEND_WENT_OUT
from distributor.store import Article, Database, MailingList, Send

PER_PAGE = 20
FEED_ENTRIES = 20
ATOM = "http://www.w3.org/2005/Atom"


@dataclass(frozen=True)
class Edition:
    send_id: int
    kind: str
    title: str
    at: datetime
    url: str
    headlines: list[str]


@dataclass(frozen=True)
class ArchivePage:
    list_name: str
    editions: list[Edition]
    page: int
    pages: int
    locale: str = "en"


def _went_out(mailing_list: MailingList, now: datetime):
    published = or_(Send.kind != "alert", Send.article_id.in_(
        select(Article.id).where(Article.published_at <= now)))
    return (Send.list_id == mailing_list.id, Send.state.in_(SEND_WENT_OUT), published)


def _edition(session: Session, settings: Settings, mailing_list: MailingList,
             send: Send) -> Edition | None:
    articles = send_articles(session, send)
    if not articles:
        return None
    headlines = [a.title for a in articles]
    more = f" and {len(headlines) - 1} more" if len(headlines) > 1 else ""
    at = articles[0].published_at if send.kind == "alert" else (send.until or send.created_at)
    return Edition(send.id, send.kind, headlines[0] + more, at,
                   archive_url(settings, mailing_list, send) or "", headlines)


def page_number(value: str | None) -> int:
    try:
        number = int(value or "1")
    except ValueError:
        number = 0
    if not 1 <= number <= 1_000_000:
        raise InvalidInput("page: a whole number from 1", {"page": "a whole number from 1"})
    return number


def archive_page(db: Database, settings: Settings, list_name: str, page: int,
                 now: datetime | None = None) -> ArchivePage:
    """One page of a public list's editions, newest first."""
    now = now or datetime.now(UTC)
    with db.session() as session:
        mailing_list = public_list(session, list_name)
        where = _went_out(mailing_list, now)
        total = session.scalar(select(func.count()).select_from(Send).where(*where))
        pages = max(1, math.ceil(total / PER_PAGE))
        if page > pages:
            raise NotFound(f"page {page}: the archive has {pages}", {"page": "past the end"})
        sends = session.scalars(select(Send).where(*where).order_by(Send.id.desc())
                                .offset((page - 1) * PER_PAGE).limit(PER_PAGE))
        editions = [e for s in sends if (e := _edition(session, settings, mailing_list, s))]
        return ArchivePage(mailing_list.name, editions, page, pages, mailing_list.locale)


def edition_page(db: Database, settings: Settings, list_name: str, send_id: int,
                 now: datetime | None = None) -> str:
    """The web copy of one edition (HTML)."""
    now = now or datetime.now(UTC)
    with db.session() as session:
        mailing_list = public_list(session, list_name)
        send = session.scalar(select(Send).where(Send.id == send_id,
                                                 *_went_out(mailing_list, now)))
        copy = web_copy(session, settings, send) if send is not None else None
        if copy is None:
            raise NotFound(f"no edition {send_id} of {list_name}", {"edition": "not found"})
        return copy[1]


def atom_feed(db: Database, settings: Settings, list_name: str,
              now: datetime | None = None) -> bytes:
    """The latest editions as an Atom feed (RFC 4287)."""
    listing = archive_page(db, settings, list_name, 1, now)
    base = f"{settings.public_url}/archive/{listing.list_name}"
    ElementTree.register_namespace("", ATOM)
    feed = ElementTree.Element(f"{{{ATOM}}}feed")

    def add(parent, tag: str, text: str | None = None, **attrs) -> ElementTree.Element:
        element = ElementTree.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        element.text = text
        return element

    editions = listing.editions[:FEED_ENTRIES]
    updated = max((e.at for e in editions), default=datetime(1970, 1, 1, tzinfo=UTC))
    add(feed, "id", base)  # §4.2.6: a permanent IRI
    add(feed, "title", f"{settings.publisher.name}: {listing.list_name}")
    add(feed, "updated", _stamp(updated))  # §4.2.15: the latest change
    add(add(feed, "author"), "name", settings.publisher.name)  # §4.1.1: feed-level author
    add(feed, "link", rel="self", href=f"{base}/feed.atom")
    add(feed, "link", rel="alternate", type="text/html", href=base)
    for edition in editions:
        entry = add(feed, "entry")
        add(entry, "id", edition.url)
        add(entry, "title", edition.title)
        add(entry, "updated", _stamp(edition.at))
        add(entry, "link", rel="alternate", type="text/html", href=edition.url)
        add(entry, "summary", "; ".join(edition.headlines))
    return ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True)


def _stamp(at: datetime) -> str:
    """RFC 3339 date-time, as §3.3 asks."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

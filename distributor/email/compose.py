"""What each email says: the alert, the digest and the confirmation request, and the
links that belong to one recipient (unsubscribe, manage, confirm) or to one edition
(its web copy in the archive).

This is the one owner of message content. message.py turns what is composed here
into bytes (render once, fill per recipient); batch.py, preview.py and confirm.py
only ask for messages here.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from sqlalchemy import select
from sqlalchemy.orm import Session

from distributor.audience.tokens import (
    confirm_token,
    manage_token,
    reader_token,
    unsubscribe_token,
)
from distributor.audience.tracking import PER_SUBSCRIBER, article_link, open_pixel
from distributor.config import Settings
from distributor.email.message import CompiledEmail, Recipient, compile_email
from distributor.outbox.plan import sections_match
from distributor.store import Article, MailingList, Send
from distributor.templates import environment, translations

# Babel (CLDR) patterns, in the list's language
ALERT_DATE = "dd MMMM y, HH:mm"  # + " UTC"
DIGEST_TIME = "dd MMM, HH:mm"  # each article's time, in the list's zone
DIGEST_DATE = "EEEE, dd MMMM y"
MORE_NEWS = "More news"  # the group of articles without a section


def unsubscribe_url(settings: Settings, subscriber_id: int, list_id: int, email: str) -> str:
    token = unsubscribe_token(settings.secret, subscriber_id, list_id, email)
    return f"{settings.public_url}/unsubscribe/{token}"


def manage_url(settings: Settings, subscriber_id: int, email: str) -> str:
    return f"{settings.public_url}/manage/{manage_token(settings.secret, subscriber_id, email)}"


def confirm_url(settings: Settings, subscriber_id: int, list_id: int, email: str) -> str:
    token = confirm_token(settings.secret, subscriber_id, list_id, email)
    return f"{settings.public_url}/confirm/{token}"


def archive_url(settings: Settings, mailing_list: MailingList | None, send: Send) -> str | None:
    """The edition's public web copy; None for a list that is not public."""
    if mailing_list is None or not mailing_list.public:
        return None
    return f"{settings.public_url}/archive/{mailing_list.name}/{send.id}"


def send_key(settings: Settings, send: Send) -> str:
    """`alert-7-<tag>`: the start of each Message-ID of a send. The tag is keyed with our
    secret over the send's creation time, so a reset database (send ids from 1 again)
    never repeats a Message-ID, while a retried or resumed batch keeps the same one."""
    stamp = f"{send.id}|{send.created_at.isoformat()}".encode()
    tag = hmac.new(settings.secret.encode(), stamp, hashlib.sha256).hexdigest()[:12]
    return f"{send.kind}-{send.id}-{tag}"


def recipient(settings: Settings, list_id: int, subscriber_id: int, email: str,
              name: str, per_reader: bool = False) -> Recipient:
    """One reader of one list, with the links that are theirs alone (their click tag
    only for a message that tracks per subscriber: each signature costs)."""
    return Recipient(subscriber_id, email, name,
                     unsubscribe_url(settings, subscriber_id, list_id, email),
                     manage_url(settings, subscriber_id, email),
                     reader_token(settings.secret, subscriber_id) if per_reader else "")


def sender(mailing_list: MailingList | None) -> dict[str, str | None]:
    """The list's own From and Reply-To (None: DISTRIBUTOR_FROM, no Reply-To)."""
    if mailing_list is None:
        return {"from_address": None, "reply_to": None}
    return {"from_address": mailing_list.from_address, "reply_to": mailing_list.reply_to}


@dataclass(frozen=True)
class EditionLinks:
    """The links of an edition that are the same for every reader: its web copy, where
    each article's links point (tracked or with UTM parameters), the open pixel."""

    view_online: str | None = None
    articles: dict[int, str] = field(default_factory=dict)  # article id -> link
    pixel: str | None = None
    per_reader: bool = False  # tracked links end in the reader's tag

    def context(self) -> dict[str, Any]:
        return {"view_online_url": self.view_online, "open_pixel": self.pixel}


PLAIN = EditionLinks()  # the article's own URL, nothing else


def edition_links(settings: Settings, mailing_list: MailingList, send: Send,
                  articles: list[Article]) -> EditionLinks:
    link = {a.id: article_link(settings.public_url, settings.secret, mailing_list, send.id, a)
            for a in articles}
    return EditionLinks(archive_url(settings, mailing_list, send), link,
                        open_pixel(settings.public_url, settings.secret, mailing_list, send.id),
                        mailing_list.tracking == PER_SUBSCRIBER)


def _linked(article: Article, links: EditionLinks) -> dict[str, Any]:
    payload = article.payload()
    payload["link"] = links.articles.get(article.id, article.url)
    return payload


def language_of(mailing_list: MailingList | None) -> str:
    return (mailing_list.locale if mailing_list is not None else None) or "en"


def alert_content(settings: Settings, article: Article, links: EditionLinks = PLAIN,
                  locale: str = "en") -> tuple[str, dict[str, Any]]:
    """The alert's subject and template context."""
    payload = _linked(article, links)
    payload["published_display"] = format_datetime(
        article.published_at, ALERT_DATE, tzinfo=UTC, locale=locale) + " UTC"
    return (f"{settings.publisher.subject_prefix}{article.title}",
            {"article": payload, **links.context()})


def compile_alert(settings: Settings, article: Article, list_name: str,
                  message_key: str, mailing_list: MailingList | None = None,
                  links: EditionLinks = PLAIN) -> CompiledEmail:
    locale = language_of(mailing_list)
    subject, context = alert_content(settings, article, links, locale)
    return compile_email(settings, "alert", context, subject=subject,
                         list_name=list_name, message_key=message_key,
                         per_reader=links.per_reader, locale=locale, **sender(mailing_list))


def group_by_section(mailing_list: MailingList, articles: list[dict]) -> list[dict]:
    """[{"name": section, "articles": [...]}] in the list's section order, else by recency."""
    groups: dict[str, list[dict]] = {}
    for article in articles:
        groups.setdefault(article["section"] or MORE_NEWS, []).append(article)
    order = {s.casefold(): i for i, s in enumerate(mailing_list.sections)}

    def rank(item):
        name, items = item
        return (name == MORE_NEWS, order.get(name.casefold(), len(order)),
                -max(a["published_at_dt"].timestamp() for a in items))

    return [{"name": name, "articles": items} for name, items in sorted(groups.items(), key=rank)]


def compile_digest(settings: Settings, mailing_list: MailingList, articles: list[Article],
                   until: datetime, message_key: str,
                   links: EditionLinks = PLAIN) -> CompiledEmail:
    """The digest of `articles` (newest first), grouped by section in the list's zone."""
    subject, context = digest_content(settings, mailing_list, articles, until, links)
    return compile_email(settings, "digest", context, subject=subject,
                         list_name=mailing_list.name, message_key=message_key,
                         per_reader=links.per_reader, locale=language_of(mailing_list),
                         **sender(mailing_list))


def digest_content(settings: Settings, mailing_list: MailingList, articles: list[Article],
                   until: datetime, links: EditionLinks = PLAIN) -> tuple[str, dict[str, Any]]:
    """The digest's subject and template context."""
    zone = ZoneInfo(mailing_list.timezone)
    locale = language_of(mailing_list)
    payloads: list[dict[str, Any]] = []
    for article in articles:
        payload = _linked(article, links)
        payload["published_at_dt"] = article.published_at
        payload["published_display"] = format_datetime(article.published_at, DIGEST_TIME,
                                                       tzinfo=zone, locale=locale)
        payloads.append(payload)
    more = ""
    if len(payloads) > 1:
        more = translations(locale).gettext(" and %(count)d more") % {"count": len(payloads) - 1}
    subject = f"{settings.publisher.subject_prefix}{payloads[0]['title']}{more}"
    context = {"sections": group_by_section(mailing_list, payloads),
               "date": format_date(until.astimezone(zone), DIGEST_DATE, locale=locale),
               "count": len(payloads), "timezone": mailing_list.timezone, **links.context()}
    return subject, context


def compile_send(session: Session, settings: Settings, send: Send,
                 preferences: tuple[str, ...] = ()) -> CompiledEmail | None:
    """The message of a send for readers with these section preferences; None when
    nothing in it is for them."""
    mailing_list = session.get(MailingList, send.list_id)
    articles = send_articles(session, send)
    links = edition_links(settings, mailing_list, send, articles)
    if send.kind == "alert":
        article = articles[0]
        if preferences and not sections_match(list(preferences), article.section):
            return None
        return compile_alert(settings, article, mailing_list.name, send_key(settings, send),
                             mailing_list, links)
    if preferences:
        articles = [a for a in articles if sections_match(list(preferences), a.section)]
    if not articles:
        return None
    key = send_key(settings, send)
    if preferences:
        key += "-" + hashlib.sha1("|".join(preferences).encode()).hexdigest()[:8]
    return compile_digest(settings, mailing_list, articles, send.until or send.created_at, key,
                          links)


def send_articles(session: Session, send: Send) -> list[Article]:
    """What a send carried: its article, or a digest's articles in their order."""
    ids = [send.article_id] if send.kind == "alert" else send.article_ids
    by_id = {a.id: a for a in session.scalars(select(Article).where(Article.id.in_(ids)))}
    return [by_id[i] for i in ids if i in by_id]


def web_copy(session: Session, settings: Settings, send: Send) -> tuple[str, str] | None:
    """(subject, HTML) of an edition as everyone may read it on the web: the whole
    edition, no reader's address or links, no tracking. None when it carried nothing."""
    mailing_list = session.get(MailingList, send.list_id)
    articles = send_articles(session, send)
    if not articles:
        return None
    locale = language_of(mailing_list)
    if send.kind == "alert":
        subject, context = alert_content(settings, articles[0], locale=locale)
    else:
        subject, context = digest_content(settings, mailing_list, articles,
                                          send.until or send.created_at)
    page = environment(settings.templates_dir, locale=locale).get_template(
        f"email/{send.kind}.html.j2")
    return subject, page.render({"transactional": False,
                                 **context, "web": True, "recipient": {"reader_path": ""},
                                 "publisher": settings.publisher,
                                 "list_name": mailing_list.name,
                                 "public_url": settings.public_url})


def compile_confirm(settings: Settings, subscriber_id: int, email: str,
                    mailing_list: MailingList) -> CompiledEmail:
    """The request to confirm a subscription (double opt-in)."""
    link = confirm_url(settings, subscriber_id, mailing_list.id, email)
    return compile_email(settings, "confirm", {"confirm_url": link},
                         subject=translations(language_of(mailing_list)).gettext(
                             "Confirm your subscription to %(list)s") % {"list": mailing_list.name},
                         list_name=mailing_list.name,
                         message_key=f"confirm-{mailing_list.id}-{secrets.token_hex(6)}",
                         locale=language_of(mailing_list), **sender(mailing_list))

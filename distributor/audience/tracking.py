"""What readers did with an edition, privacy first: clicks on tracked links and, where
a list asks for it, opens (a pixel, which mail clients load or block at will).

A list's `tracking` is off (links go straight to the article, nothing is kept),
aggregate (links pass through /r/…, counts per article, list, edition and channel,
nobody's name) or per-subscriber (the same, with who clicked, until they are erased).
A tracked link names an article of an edition, never a URL: /r/… can only lead to an
article that edition carried, so it is never an open redirect."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from distributor.audience.tokens import click_token, read_click_token, read_reader_token
from distributor.config import ChannelConfig
from distributor.errors import InvalidInput, NotFound
from distributor.store import (
    Article,
    ChannelPost,
    Database,
    MailingList,
    ReaderEvent,
    Send,
    Subscriber,
)
from distributor.values import utm_query

OFF, AGGREGATE, PER_SUBSCRIBER = "off", "aggregate", "per-subscriber"
TRACKING = (OFF, AGGREGATE, PER_SUBSCRIBER)
CLICK, OPEN = "click", "open"
EMAIL = "email"  # the channel of a click in an email
OPEN_ARTICLE = 0  # an open names the edition, no article
CHANNEL_POST = 0  # a channel's link names the article and the channel, no edition


def check_tracking(value: str) -> str:
    if value not in TRACKING:
        raise InvalidInput(f"tracking: one of {', '.join(TRACKING)}",
                           {"tracking": f"one of {', '.join(TRACKING)}"})
    return value


def check_utm(value: str | None) -> str | None:
    """'utm_source=newsletter&utm_medium=email' -> the same, normalised; '' clears."""
    if value is None or not value.strip():
        return None
    try:
        return utm_query(value)
    except ValueError as exc:
        raise InvalidInput(f"utm: {exc}", {"utm": str(exc)}) from None


def with_utm(url: str, utm: str | None) -> str:
    """The URL with the UTM parameters added; those it already has are kept as they are."""
    if not utm:
        return url
    parts = urlsplit(url)
    have = {k for k, _ in parse_qsl(parts.query, keep_blank_values=True)}
    extra = [(k, v) for k, v in parse_qsl(utm) if k not in have]
    query = "&".join(filter(None, [parts.query, urlencode(extra)]))
    return urlunsplit(parts._replace(query=query))


def article_link(public_url: str, secret: str, mailing_list: MailingList, send_id: int,
                 article: Article) -> str:
    """Where an article's link in an edition points: the article itself (with the list's
    UTM parameters) when the list does not track, else the signed redirect."""
    if mailing_list.tracking == OFF:
        return with_utm(article.url, mailing_list.utm)
    return f"{public_url}/r/{click_token(secret, send_id, article.id)}"


def channel_link(public_url: str, secret: str, channel: ChannelConfig, article_id: int,
                 url: str) -> str:
    """The article link a channel posts: tracked through /r/… when the channel asks,
    else the article's URL with the channel's UTM parameters."""
    if channel.tracking:
        return f"{public_url}/r/{click_token(secret, CHANNEL_POST, article_id, channel.name)}"
    return with_utm(url, channel.utm)


def open_pixel(public_url: str, secret: str, mailing_list: MailingList,
               send_id: int) -> str | None:
    if mailing_list.tracking == OFF or not mailing_list.track_opens:
        return None
    return f"{public_url}/o/{click_token(secret, send_id, OPEN_ARTICLE)}"


def _who(session: Session, secret: str, mailing_list: MailingList,
         reader: str | None) -> int | None:
    if mailing_list.tracking != PER_SUBSCRIBER or not reader:
        return None
    subscriber_id = read_reader_token(secret, reader)
    if subscriber_id is None or session.get(Subscriber, subscriber_id) is None:
        return None  # not ours, or erased since: the click counts for nobody
    return subscriber_id


def _follow_channel(session: Session, article_id: int, channel: str, now: datetime,
                    channels: dict[str, ChannelConfig], count: bool) -> str:
    posted = session.scalar(select(ChannelPost.id).where(ChannelPost.article_id == article_id,
                                                         ChannelPost.channel == channel))
    article = session.get(Article, article_id) if posted else None
    if article is None:
        raise NotFound("this link leads to nothing the channel posted", {"token": "not found"})
    config = channels.get(channel)
    if count and config is not None and config.tracking:
        session.add(ReaderEvent(at=now, kind=CLICK, channel=channel, article_id=article.id))
    return with_utm(article.url, config.utm if config else None)


def follow(db: Database, secret: str, token: str, reader: str | None, now: datetime,
           count: bool = True, channels: dict[str, ChannelConfig] | None = None) -> str:
    """Where a tracked link leads; counts the click when its list (or channel) tracks
    (`count` False: a HEAD or a prefetch, which leads there without counting)."""
    send_id, article_id, channel = read_click_token(secret, token)
    with db.session() as session:
        if send_id == CHANNEL_POST:
            return _follow_channel(session, article_id, channel, now, channels or {}, count)
        send = session.get(Send, send_id)
        carried = send is not None and article_id != OPEN_ARTICLE and (
            article_id == send.article_id or article_id in (send.article_ids or []))
        article = session.get(Article, article_id) if carried else None
        if article is None:
            raise NotFound("this link leads to nothing in its edition", {"token": "not found"})
        mailing_list = session.get(MailingList, send.list_id)
        if count and mailing_list.tracking != OFF:
            session.add(ReaderEvent(at=now, kind=CLICK, channel=channel, list_id=send.list_id,
                                    send_id=send.id, article_id=article.id,
                                    subscriber_id=_who(session, secret, mailing_list, reader)))
        return with_utm(article.url, mailing_list.utm)


def record_open(db: Database, secret: str, token: str, reader: str | None,
                now: datetime) -> None:
    """A pixel was loaded. Nothing is recorded for a list that does not ask for opens."""
    try:
        send_id, article_id, channel = read_click_token(secret, token)
    except InvalidInput:
        return
    with db.session() as session:
        send = session.get(Send, send_id)
        if send is None or article_id != OPEN_ARTICLE:
            return
        mailing_list = session.get(MailingList, send.list_id)
        if mailing_list.tracking == OFF or not mailing_list.track_opens:
            return
        session.add(ReaderEvent(at=now, kind=OPEN, channel=channel, list_id=send.list_id,
                                send_id=send.id,
                                subscriber_id=_who(session, secret, mailing_list, reader)))


def erase_events(session: Session, subscriber_id: int) -> None:
    """A reader's erasure takes what they did with it (aggregate counts never held them)."""
    session.execute(delete(ReaderEvent).where(ReaderEvent.subscriber_id == subscriber_id))


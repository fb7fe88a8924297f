"""Exactly what would be sent, for one sample subscriber: headers, text and HTML."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy

from sqlalchemy import select

from distributor.audience.lists import get_list
from distributor.config import Settings
from distributor.email.compose import compile_alert, compile_digest, recipient
from distributor.email.digests import digest_articles
from distributor.email.dkim import dkim_signer
from distributor.email.message import CompiledEmail
from distributor.errors import InvalidInput, NotFound
from distributor.states import SubscriptionStatus
from distributor.store import Article, Database, MailingList, Subscriber, Subscription


@dataclass
class Preview:
    headers: dict[str, str]
    text: str
    html: str
    raw: bytes

    def as_dict(self) -> dict:
        return {"headers": self.headers, "text": self.text, "html": self.html}


def _sample(session, mailing_list: MailingList) -> tuple[int, str, str]:
    row = session.execute(
        select(Subscriber.id, Subscriber.email, Subscriber.name)
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .where(Subscription.list_id == mailing_list.id, Subscription.status == SubscriptionStatus.ACTIVE)
        .order_by(Subscriber.id).limit(1)).first()
    return tuple(row) if row else (0, "subscriber@example.org", "Sample Subscriber")


def _finish(settings: Settings, compiled: CompiledEmail, mailing_list: MailingList,
            sample: tuple[int, str, str]) -> Preview:
    subscriber_id, email, name = sample
    reader = recipient(settings, mailing_list.id, subscriber_id, email, name)
    raw = dkim_signer(settings, compiled.domain)(compiled.fill(reader))
    message = message_from_bytes(raw, policy=policy.default)
    return Preview(headers={k: str(v) for k, v in message.items()},
                   text=message.get_body(("plain",)).get_content(),
                   html=message.get_body(("html",)).get_content(), raw=raw)


def preview_alert(db: Database, settings: Settings, list_name: str,
                  guid: str | None = None) -> Preview:
    with db.session() as session:
        mailing_list = get_list(session, list_name)
        query = select(Article).order_by(Article.published_at.desc())
        if guid:
            query = select(Article).where(Article.guid == guid)
        article = session.scalar(query.limit(1))
        if article is None:
            raise NotFound("no such article" if guid else "no article published yet",
                           {"article": "unknown"})
        compiled = compile_alert(settings, article, mailing_list.name, message_key="preview",
                                 mailing_list=mailing_list)
        return _finish(settings, compiled, mailing_list, _sample(session, mailing_list))


def preview_digest(db: Database, settings: Settings, list_name: str,
                   since: datetime | None = None) -> Preview:
    now = datetime.now(UTC)
    with db.session() as session:
        mailing_list = get_list(session, list_name)
        articles = digest_articles(session, mailing_list, settings.first_digest_window, since)
        if not articles:
            raise InvalidInput("no articles since the last digest: it would be skipped "
                               "(try --since)", {"since": "no articles"})
        compiled = compile_digest(settings, mailing_list, articles, now, "preview")
        return _finish(settings, compiled, mailing_list, _sample(session, mailing_list))

"""The preference centre: what one reader holding a signed manage link may see and
change about their own subscriptions.

Lists are shown as topics: the lists that carry the same sections are one topic in
different rhythms (an instant list and a digest list of all news, say), so switching
between instant alerts and the daily digest is one choice per topic. The reader also
picks sections, sets their time zone, pauses for a few weeks or leaves everything.
Every change is checked before any is written, and applies from the next send."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import available_timezones

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from distributor.audience.lists import check_timezone
from distributor.audience.subscribers import is_suppressed, subscribe
from distributor.audience.tokens import email_digest, read_manage_token
from distributor.errors import InvalidInput
from distributor.states import SubscriptionStatus
from distributor.store import Article, Database, MailingList, Subscriber, Subscription

PAUSE_WEEKS = (1, 2, 4)
OFF, ALL = "off", "all"
RECENT_ARTICLES = 500  # sections offered for lists without a filter: those seen lately
ON = (SubscriptionStatus.ACTIVE, SubscriptionStatus.UNCONFIRMED)


@dataclass(frozen=True)
class Option:
    value: str  # a list's name, OFF or ALL
    label: str


@dataclass(frozen=True)
class Topic:
    key: str  # the form field is f"topic-{key}"
    label: str
    options: list[Option]
    current: str


@dataclass(frozen=True)
class Preferences:
    email: str
    timezone: str | None
    paused_until: datetime | None
    topics: list[Topic]
    sections: list[str]  # every section the reader can pick
    chosen: list[str]  # the ones picked (all of them when the reader never narrowed)
    suppressed: bool  # the address is never mailed again (bounced, complained, erased)
    locale: str = "en"  # the page's language: that of the reader's first list


def reader(session: Session, secret: str, token: str) -> Subscriber:
    """The subscriber a manage link names; InvalidInput when forged, altered or the
    address has changed hands since."""
    subscriber_id, digest = read_manage_token(secret, token)
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None or email_digest(subscriber.email)[:16] != digest:
        raise InvalidInput("this link is not valid", {"token": "invalid"})
    return subscriber


def _topic_key(sections: Sequence[str]) -> str:
    words = "|".join(sorted({s.casefold() for s in sections}))
    return hashlib.sha1(words.encode()).hexdigest()[:8]


def _lists_and_subscriptions(session: Session, subscriber: Subscriber
                             ) -> tuple[list[MailingList], dict[int, Subscription]]:
    mine = {s.list_id: s for s in session.scalars(
        select(Subscription).where(Subscription.subscriber_id == subscriber.id))}
    shown = session.scalars(select(MailingList).where(
        MailingList.public.is_(True) | MailingList.id.in_(list(mine)))
        .order_by(MailingList.kind.desc(), MailingList.name)).all()
    return list(shown), mine


def _rhythm(mailing_list: MailingList) -> str:
    """A label to translate; the page fills in the list's name."""
    if mailing_list.kind == "instant":
        return "Every story as it is published (%(list)s)"
    return "A digest on its schedule (%(list)s)"


def _topics(lists: list[MailingList], mine: dict[int, Subscription]) -> list[Topic]:
    grouped: dict[str, list[MailingList]] = {}
    for mailing_list in lists:
        grouped.setdefault(_topic_key(mailing_list.sections), []).append(mailing_list)
    topics = []
    for key, members in grouped.items():
        options = [Option(OFF, "Off"), *(Option(m.name, _rhythm(m)) for m in members)]
        if len(members) > 1:
            options.append(Option(ALL, "All of these"))
        on = [m.name for m in members if m.id in mine and mine[m.id].status in ON]
        current = OFF if not on else on[0] if len(on) == 1 else ALL
        label = ", ".join(members[0].sections) or "All news"
        topics.append(Topic(key, label, options, current))
    return topics


def _sections(session: Session, lists: list[MailingList]) -> list[str]:
    names: dict[str, str] = {}
    for mailing_list in lists:
        for section in mailing_list.sections:
            names.setdefault(section.casefold(), section)
    if any(not m.sections for m in lists):
        recent = select(Article.section).order_by(Article.id.desc()).limit(RECENT_ARTICLES)
        for (section,) in session.execute(select(recent.subquery().c.section).distinct()):
            if section:
                names.setdefault(section.casefold(), section)
    return sorted(names.values(), key=str.casefold)


def read_preferences(db: Database, secret: str, token: str, now: datetime) -> Preferences:
    with db.session() as session:
        subscriber = reader(session, secret, token)
        lists, mine = _lists_and_subscriptions(session, subscriber)
        sections = _sections(session, lists)
        on = [s for s in mine.values() if s.status in ON]
        narrowed = {x.casefold() for s in on for x in s.sections}
        chosen = [s for s in sections if s.casefold() in narrowed] if narrowed else sections
        pauses = [s.paused_until for s in on if s.paused_until and s.paused_until > now]
        first = min(on, key=lambda s: s.list_id, default=None)
        locale = next((m.locale for m in lists if first and m.id == first.list_id), "en")
        return Preferences(subscriber.email, subscriber.timezone, max(pauses, default=None),
                           _topics(lists, mine), sections, chosen,
                           is_suppressed(session, subscriber.email), locale or "en")


def _refuse_if_suppressed(session: Session, subscriber: Subscriber) -> None:
    if is_suppressed(session, subscriber.email):
        raise InvalidInput("this address no longer receives our emails, so there is "
                           "nothing to change", {"email": "suppressed"})


def _wanted(form: Mapping[str, object], topics: list[Topic]) -> dict[str, str]:
    wanted = {}
    for topic in topics:
        value = form.get(f"topic-{topic.key}", topic.current)
        if value not in {o.value for o in topic.options}:
            raise InvalidInput(f"topic-{topic.key}: not one of the choices",
                               {f"topic-{topic.key}": "not one of the choices"})
        wanted[topic.key] = str(value)
    return wanted


def _chosen_sections(picked: object, sections: list[str]) -> list[str]:
    """[] (everything) when all are picked; the picked ones otherwise."""
    picked = [picked] if isinstance(picked, str) else list(picked or [])
    known = {s.casefold(): s for s in sections}
    if any(not isinstance(p, str) or p.casefold() not in known for p in picked):
        raise InvalidInput("section: not one of the sections offered",
                           {"section": "not one of the sections offered"})
    if sections and not picked:
        raise InvalidInput("section: pick at least one section (or switch the lists off)",
                           {"section": "pick at least one"})
    chosen = sorted({known[p.casefold()] for p in picked}, key=str.casefold)
    return [] if len(chosen) == len(sections) else chosen


def save_preferences(db: Database, secret: str, token: str,
                     form: Mapping[str, object]) -> None:
    """Apply the manage form: `topic-KEY` (a list's name, "off" or "all"; absent keeps
    it), `section` (the picked sections; read when `sections-shown` is there, as no
    box ticked sends nothing) and `timezone` ("" = the list's; absent keeps it)."""
    with db.session() as session:
        subscriber = reader(session, secret, token)
        _refuse_if_suppressed(session, subscriber)
        lists, mine = _lists_and_subscriptions(session, subscriber)
        wanted = _wanted(form, _topics(lists, mine))
        sections = None
        if "sections-shown" in form:
            sections = _chosen_sections(form.get("section"), _sections(session, lists))
        timezone = str(form.get("timezone") or "").strip()
        if timezone:
            check_timezone(timezone)
        for mailing_list in lists:
            choice = wanted[_topic_key(mailing_list.sections)]
            current = mine.get(mailing_list.id)
            if choice in (mailing_list.name, ALL):
                subscription, _ = subscribe(session, subscriber, mailing_list, (),
                                            SubscriptionStatus.ACTIVE, rejoin=True)
                if sections is not None:
                    subscription.sections = sections
            elif current is not None and current.status in ON:
                current.status = SubscriptionStatus.UNSUBSCRIBED
        if "timezone" in form:
            subscriber.timezone = timezone or None


def pause(db: Database, secret: str, token: str, weeks: object, now: datetime) -> datetime:
    """No email for 1, 2 or 4 weeks from now; returns when they start again."""
    if str(weeks) not in {str(w) for w in PAUSE_WEEKS}:
        raise InvalidInput("weeks: 1, 2 or 4", {"weeks": "1, 2 or 4"})
    until = now + timedelta(weeks=int(str(weeks)))
    with db.session() as session:
        subscriber = reader(session, secret, token)
        _refuse_if_suppressed(session, subscriber)
        session.execute(update(Subscription).where(
            Subscription.subscriber_id == subscriber.id).values(paused_until=until))
    return until


def resume(db: Database, secret: str, token: str) -> None:
    with db.session() as session:
        subscriber = reader(session, secret, token)
        session.execute(update(Subscription).where(
            Subscription.subscriber_id == subscriber.id).values(paused_until=None))


def leave_everything(db: Database, secret: str, token: str) -> int:
    """Unsubscribe from every list; returns how many subscriptions ended."""
    with db.session() as session:
        subscriber = reader(session, secret, token)
        return session.execute(update(Subscription).where(
            Subscription.subscriber_id == subscriber.id, Subscription.status.in_(ON))
            .values(status=SubscriptionStatus.UNSUBSCRIBED)).rowcount


def common_timezones() -> list[str]:
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))

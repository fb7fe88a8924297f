"""Mailing lists: instant (alerts) or digest (on a schedule in a timezone), each with
an optional section filter."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from distributor.config import check_from_address
from distributor.errors import InvalidInput, NotFound
from distributor.states import SubscriptionStatus
from distributor.store import Batch, Database, Delivery, MailingList, Send, Subscription


def clean_name(value: str | None, field_name: str = "name") -> str:
    """A person's or section's name: trimmed, at most 200 characters, no control
    characters (they would end up in headers)."""
    value = (value or "").strip()
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise InvalidInput(f"{field_name}: must not contain control characters",
                           {field_name: "must not contain control characters"})
    if len(value) > 200:
        raise InvalidInput(f"{field_name}: longer than 200 characters",
                           {field_name: "longer than 200 characters"})
    return value



def check_sender(value: str | None, field_name: str) -> str | None:
    """A list's From or Reply-To: 'Name <addr@domain>' or 'addr@domain', ASCII address;
    '' clears it (back to DISTRIBUTOR_FROM, or no Reply-To)."""
    if value is None or not value.strip():
        return None
    try:
        check_from_address(value.strip())
    except ValueError as exc:
        raise InvalidInput(f"{field_name}: not a sender address", {field_name: str(exc)}) from None
    return value.strip()


def check_list_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100 or not all(ch.isalnum() or ch in "-_." for ch in name):
        raise InvalidInput("list name must be 1-100 letters, digits, '-', '_' or '.'",
                           {"name": "use 1-100 letters, digits, '-', '_' or '.'"})
    return name


def create_list(db: Database, name: str, *, instant: bool = True, schedule: str | None = None,
                timezone: str = "UTC", sections: Iterable[str] = (),
                double_opt_in: bool = False, from_address: str | None = None,
                reply_to: str | None = None) -> MailingList:
    name = check_list_name(name)
    from_address = check_sender(from_address, "from")
    reply_to = check_sender(reply_to, "reply_to")
    if instant == bool(schedule):
        raise InvalidInput("a list is either --instant or has a --schedule",
                           {"schedule": "give --instant or --schedule, not both or neither"})
    if schedule and not croniter.is_valid(schedule):
        raise InvalidInput(f"schedule: {schedule!r} is not a cron expression",
                           {"schedule": "not a cron expression like '0 7 * * *'"})
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"timezone: {timezone!r} is not an IANA time zone",
                           {"timezone": "not an IANA time zone like Asia/Kolkata"}) from None
    sections = [clean_name(s, "section") for s in sections if s.strip()]
    with db.session() as session:
        if session.scalar(select(MailingList.id).where(MailingList.name == name)):
            raise InvalidInput(f"list {name!r} already exists", {"name": "already exists"})
        mailing_list = MailingList(name=name, kind="instant" if instant else "digest",
                                   schedule=schedule, timezone=timezone, sections=sections,
                                   double_opt_in=double_opt_in, from_address=from_address,
                                   reply_to=reply_to)
        session.add(mailing_list)
    return mailing_list


_UNSET = object()


def update_list(db: Database, name: str, *, schedule: str | None = None,
                timezone: str | None = None, from_address=_UNSET, reply_to=_UNSET) -> MailingList:
    """Change what is given; everything is checked before anything changes."""
    if schedule is not None and not croniter.is_valid(schedule):
        raise InvalidInput(f"schedule: {schedule!r} is not a cron expression",
                           {"schedule": "not a cron expression like '0 7 * * *'"})
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(f"timezone: {timezone!r} is not an IANA time zone",
                               {"timezone": "not an IANA time zone like Asia/Kolkata"}) from None
    values = {}
    if from_address is not _UNSET:
        values["from_address"] = check_sender(from_address, "from")
    if reply_to is not _UNSET:
        values["reply_to"] = check_sender(reply_to, "reply_to")
    with db.session() as session:
        mailing_list = get_list(session, name)
        if schedule is not None:
            if mailing_list.kind != "digest":
                raise InvalidInput("schedule: only a digest list has a schedule",
                                   {"schedule": "not a digest list"})
            mailing_list.schedule = schedule
        if timezone is not None:
            mailing_list.timezone = timezone
        for key, value in values.items():
            setattr(mailing_list, key, value)
    return mailing_list


def delete_list(db: Database, name: str) -> None:
    """Delete a list with its subscriptions and its send history (subscribers stay)."""
    with db.session() as session:
        mailing_list = get_list(session, name)
        send_ids = select(Send.id).where(Send.list_id == mailing_list.id)
        session.execute(delete(Delivery).where(Delivery.send_id.in_(send_ids)))
        session.execute(delete(Batch).where(Batch.send_id.in_(send_ids)))
        session.execute(delete(Send).where(Send.list_id == mailing_list.id))
        session.execute(delete(Subscription).where(Subscription.list_id == mailing_list.id))
        session.delete(mailing_list)


def get_list(session: Session, name: str) -> MailingList:
    mailing_list = session.scalar(select(MailingList).where(MailingList.name == name))
    if mailing_list is None:
        raise NotFound(f"no list named {name!r}", {"list": f"no list named {name!r}"})
    return mailing_list


@dataclass(frozen=True)
class ListSummary:
    name: str
    kind: str
    schedule: str | None
    timezone: str
    sections: list[str]
    double_opt_in: bool
    active: int
    from_address: str | None = None
    reply_to: str | None = None


def list_lists(db: Database) -> list[ListSummary]:
    with db.session() as session:
        counts = dict(session.execute(
            select(Subscription.list_id, func.count())
            .where(Subscription.status == SubscriptionStatus.ACTIVE).group_by(Subscription.list_id)).all())
        return [ListSummary(m.name, m.kind, m.schedule, m.timezone, list(m.sections),
                            m.double_opt_in, counts.get(m.id, 0), m.from_address, m.reply_to)
                for m in session.scalars(select(MailingList).order_by(MailingList.name))]



"""Mailing lists: instant (alerts) or digest (on a schedule in a timezone), each with
an optional section filter."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from distributor.audience.tracking import OFF, check_tracking, check_utm
from distributor.errors import InvalidInput, NotFound
from distributor.states import SubscriptionStatus
from distributor.store import Batch, Database, Delivery, MailingList, Send, Subscription
from distributor.values import check_from_address, parse_duration


def clean_name(value: str | None, field_name: str = "name") -> str:
    """A person's or section's name: trimmed, at most 200 characters, no control
    characters (they would end up in headers)."""
    value = (value or "").strip()
    if any(unicodedata.category(ch) == "Cs" for ch in value):
        raise InvalidInput(f"{field_name}: is not valid Unicode text",
                           {field_name: "is not valid Unicode text"})
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


def check_schedule(schedule: str) -> str:
    """Five cron fields (minute hour day month weekday), each in range. croniter would
    also take a sixth field for seconds, which reads as something else entirely."""
    from croniter import croniter  # here, not above: most commands check no schedule

    schedule = " ".join(schedule.split())
    if len(schedule.split(" ")) != 5 or not croniter.is_valid(schedule):
        raise InvalidInput(f"schedule: {schedule!r} is not a five-field cron line like "
                           "'0 7 * * *' (minute hour day month weekday)",
                           {"schedule": "not a five-field cron line like '0 7 * * *'"})
    return schedule


def check_local_schedule(schedule: str | None) -> None:
    """A digest sent at each reader's own hour runs at most hourly: the edition spans
    every zone's clock, a day and more, and each run is one edition."""
    if not schedule:
        raise InvalidInput("local_time: only a digest list (with --schedule) sends at each "
                           "reader's own hour", {"local_time": "digest lists only"})
    from croniter import croniter

    runs = croniter(schedule, datetime(2026, 1, 1, tzinfo=UTC))
    previous = runs.get_next(datetime)
    for _ in range(48):
        current = runs.get_next(datetime)
        if current - previous < timedelta(hours=1):
            raise InvalidInput(f"local_time: {schedule!r} runs more often than hourly",
                               {"local_time": "needs a schedule that runs at most hourly"})
        previous = current


def _check_locale(value: str) -> str:
    from distributor.templates import check_locale  # Jinja2 and Babel: only when asked

    return check_locale(value)


def check_timezone(timezone: str) -> str:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"timezone: {timezone!r} is not an IANA time zone",
                           {"timezone": "not an IANA time zone like Asia/Kolkata"}) from None
    return timezone


def check_max_age(value: str | float) -> int:
    """'6h' or seconds -> whole seconds, at least one minute."""
    try:
        seconds = float(value) if isinstance(value, int | float) else parse_duration(value)
    except ValueError as exc:
        raise InvalidInput(f"max_age: {exc}", {"max_age": str(exc)}) from None
    if seconds < 60:
        raise InvalidInput("max_age: at least 1m", {"max_age": "at least 1m"})
    return int(seconds)


def check_quiet(value: str) -> str | None:
    """'22:00-06:00' (may run past midnight); '' or 'off' clears it."""
    value = value.strip()
    if value.lower() in ("", "off", "none"):
        return None
    try:
        if not re.fullmatch(r"\d\d:\d\d-\d\d:\d\d", value.replace(" ", "")):
            raise ValueError(value)
        start, end = (time.fromisoformat(part.strip()) for part in value.split("-"))
    except ValueError:
        raise InvalidInput(f"quiet: {value!r} is not a window like 22:00-06:00",
                           {"quiet": "not a window like 22:00-06:00"}) from None
    if start == end:
        raise InvalidInput("quiet: the window is empty", {"quiet": "start and end are equal"})
    return f"{start:%H:%M}-{end:%H:%M}"


def create_list(db: Database, name: str, *, instant: bool = True, schedule: str | None = None,
                timezone: str = "UTC", sections: Iterable[str] = (),
                double_opt_in: bool = False, max_age: str | float | None = None,
                quiet: str | None = None, from_address: str | None = None,
                reply_to: str | None = None, local_time: bool = False, public: bool = False,
                tracking: str = OFF, utm: str | None = None, track_opens: bool = False,
                locale: str = "en") -> MailingList:
    name = check_list_name(name)
    locale = _check_locale(locale)
    tracking, utm = check_tracking(tracking), check_utm(utm)
    from_address = check_sender(from_address, "from")
    reply_to = check_sender(reply_to, "reply_to")
    if instant == bool(schedule):
        raise InvalidInput("a list is either --instant or has a --schedule",
                           {"schedule": "give --instant or --schedule, not both or neither"})
    schedule = check_schedule(schedule) if schedule else None
    check_timezone(timezone)
    if local_time:
        check_local_schedule(schedule)
    sections = [clean_name(s, "section") for s in sections if s.strip()]
    extra = {"max_age": check_max_age(max_age)} if max_age is not None else {}
    if quiet is not None:
        extra["quiet"] = check_quiet(quiet)
    with db.session() as session:
        if session.scalar(select(MailingList.id).where(MailingList.name == name)):
            raise InvalidInput(f"list {name!r} already exists", {"name": "already exists"})
        mailing_list = MailingList(name=name, kind="instant" if instant else "digest",
                                   schedule=schedule, timezone=timezone, sections=sections,
                                   double_opt_in=double_opt_in, from_address=from_address,
                                   reply_to=reply_to, local_time=local_time, public=public,
                                   tracking=tracking, utm=utm, track_opens=track_opens,
                                   locale=locale, **extra)
        session.add(mailing_list)
    return mailing_list


_UNSET = object()


def update_list(db: Database, name: str, *, schedule: str | None = None,
                timezone: str | None = None, max_age: str | float | None = None,
                quiet: str | None = None, from_address=_UNSET, reply_to=_UNSET,
                local_time: bool | None = None, public: bool | None = None,
                tracking: str | None = None, utm: str | None = None,
                track_opens: bool | None = None, locale: str | None = None) -> MailingList:
    """Change a list in place (its subscribers and history stay). Everything is checked
    before anything is written."""
    changes: dict = {}
    if schedule is not None:
        changes["schedule"] = check_schedule(schedule)
    if timezone is not None:
        changes["timezone"] = check_timezone(timezone)
    if max_age is not None:
        changes["max_age"] = check_max_age(max_age)
    if quiet is not None:
        changes["quiet"] = check_quiet(quiet)
    if from_address is not _UNSET:
        changes["from_address"] = check_sender(from_address, "from")
    if reply_to is not _UNSET:
        changes["reply_to"] = check_sender(reply_to, "reply_to")
    if local_time is not None:
        changes["local_time"] = local_time
    if public is not None:
        changes["public"] = public
    if tracking is not None:
        changes["tracking"] = check_tracking(tracking)
    if utm is not None:
        changes["utm"] = check_utm(utm)
    if track_opens is not None:
        changes["track_opens"] = track_opens
    if locale is not None:
        changes["locale"] = _check_locale(locale)
    if not changes:
        raise InvalidInput("nothing to change: give --schedule, --timezone, --max-age, --quiet, "
                           "--from, --reply-to, --local-time/--list-time, --public/--private, "
                           "--tracking, --utm, --opens/--no-opens or --locale",
                           {"list": "nothing to change"})
    with db.session() as session:
        mailing_list = get_list(session, name)
        if "schedule" in changes and mailing_list.kind != "digest":
            raise InvalidInput(f"{name!r} is an instant list: it has no schedule",
                               {"schedule": "instant lists have no schedule"})
        if changes.get("local_time", mailing_list.local_time):
            check_local_schedule(changes.get("schedule", mailing_list.schedule))
        for key, value in changes.items():
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


def public_list(session: Session, name: str) -> MailingList:
    """A list readers may find on the web; a private one is as unknown as a missing one."""
    mailing_list = session.scalar(select(MailingList).where(MailingList.name == name,
                                                            MailingList.public.is_(True)))
    if mailing_list is None:
        raise NotFound(f"no public list named {name!r}", {"list": "no such public list"})
    return mailing_list


@dataclass(frozen=True)
class ListSummary:
    name: str
    kind: str
    schedule: str | None
    timezone: str
    sections: list[str]
    double_opt_in: bool
    max_age: int
    quiet: str | None
    active: int
    from_address: str | None = None
    reply_to: str | None = None
    local_time: bool = False
    public: bool = False
    tracking: str = OFF
    utm: str | None = None
    track_opens: bool = False
    locale: str = "en"


def list_lists(db: Database) -> list[ListSummary]:
    with db.session() as session:
        counts = dict(session.execute(
            select(Subscription.list_id, func.count())
            .where(Subscription.status == SubscriptionStatus.ACTIVE).group_by(Subscription.list_id)).all())
        return [ListSummary(m.name, m.kind, m.schedule, m.timezone, list(m.sections),
                            m.double_opt_in, m.max_age, m.quiet, counts.get(m.id, 0),
                            m.from_address, m.reply_to, m.local_time, m.public, m.tracking,
                            m.utm, m.track_opens, m.locale)
                for m in session.scalars(select(MailingList).order_by(MailingList.name))]



"""Lists, subscribers and subscriptions."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from distributor.errors import InvalidInput, NotFound
from distributor.store import Database, MailingList, Subscriber, Subscription, Suppression
from distributor.tokens import email_digest

MAX_CSV_LINE = 4096


def normalise_email(value: str, field_name: str = "email") -> str:
    try:
        result = validate_email(value.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"{field_name}: {exc}", {field_name: str(exc)}) from None
    return result.normalized.lower()


def clean_name(value: str | None, field_name: str = "name") -> str:
    value = (value or "").strip()
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise InvalidInput(f"{field_name}: must not contain control characters",
                           {field_name: "must not contain control characters"})
    if len(value) > 200:
        raise InvalidInput(f"{field_name}: longer than 200 characters",
                           {field_name: "longer than 200 characters"})
    return value


def check_list_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100 or not all(ch.isalnum() or ch in "-_." for ch in name):
        raise InvalidInput("list name must be 1-100 letters, digits, '-', '_' or '.'",
                           {"name": "use 1-100 letters, digits, '-', '_' or '.'"})
    return name


def create_list(db: Database, name: str, *, instant: bool = True, schedule: str | None = None,
                timezone: str = "UTC", sections: Iterable[str] = (),
                double_opt_in: bool = False) -> MailingList:
    name = check_list_name(name)
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
                                   double_opt_in=double_opt_in)
        session.add(mailing_list)
    return mailing_list


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


def list_lists(db: Database) -> list[ListSummary]:
    with db.session() as session:
        counts = dict(session.execute(
            select(Subscription.list_id, func.count())
            .where(Subscription.status == "active").group_by(Subscription.list_id)).all())
        return [ListSummary(m.name, m.kind, m.schedule, m.timezone, list(m.sections),
                            m.double_opt_in, counts.get(m.id, 0))
                for m in session.scalars(select(MailingList).order_by(MailingList.name))]


def _upsert_subscriber(session: Session, email: str, name: str) -> Subscriber:
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == email))
    if subscriber is None:
        subscriber = Subscriber(email=email, name=name)
        session.add(subscriber)
        session.flush()
    elif name and name != subscriber.name:
        subscriber.name = name
    return subscriber


def subscribe(session: Session, subscriber: Subscriber, mailing_list: MailingList,
              sections: Iterable[str] = (), status: str | None = None) -> Subscription:
    """Add (or re-activate) a subscription; idempotent."""
    subscription = session.scalar(select(Subscription).where(
        Subscription.list_id == mailing_list.id, Subscription.subscriber_id == subscriber.id))
    status = status or ("unconfirmed" if mailing_list.double_opt_in else "active")
    if subscription is None:
        subscription = Subscription(list_id=mailing_list.id, subscriber_id=subscriber.id,
                                    status=status, sections=list(sections))
        session.add(subscription)
    elif subscription.status in ("unsubscribed",) and status == "active":
        subscription.status = status
    return subscription


def is_suppressed(session: Session, email: str) -> bool:
    return session.scalar(select(Suppression.id).where(
        Suppression.email_hash == email_digest(email))) is not None


def add_subscriber(db: Database, email: str, list_name: str, name: str = "",
                   sections: Iterable[str] = ()) -> Subscription:
    email = normalise_email(email)
    name = clean_name(name)
    sections = [clean_name(s, "section") for s in sections]
    with db.session() as session:
        mailing_list = get_list(session, list_name)
        subscriber = _upsert_subscriber(session, email, name)
        return subscribe(session, subscriber, mailing_list, sections)


@dataclass
class ImportReport:
    imported: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def _csv_rows(stream: io.TextIOBase) -> Iterator[tuple[int, list[str] | None, str | None]]:
    """(line number, cells or None, error). Lines longer than MAX_CSV_LINE are refused."""
    for number, line in enumerate(stream, start=1):
        if len(line) > MAX_CSV_LINE:
            yield number, None, f"line longer than {MAX_CSV_LINE} characters"
            continue
        try:
            cells = next(csv.reader([line]), [])
        except csv.Error as exc:
            yield number, None, str(exc)
            continue
        yield number, cells, None


def import_csv(db: Database, stream: io.TextIOBase, progress=None,
               chunk: int = 1000) -> ImportReport:
    """Import email,name,lists rows (lists separated by ';'). Bad rows are reported by line
    number and skipped; good rows are imported; importing again changes nothing."""
    report = ImportReport()
    with db.session() as session:
        lists = {m.name: m for m in session.scalars(select(MailingList))}
    pending: list[tuple[str, str, list[str]]] = []

    def flush() -> None:
        if pending:
            _import_chunk(db, pending, lists, report)
            if progress:
                progress(len(pending))
            pending.clear()

    header_seen = False
    for number, cells, error in _csv_rows(stream):
        if error:
            report.errors.append((number, error))
            continue
        if not cells or not any(c.strip() for c in cells):
            continue
        if not header_seen and cells[0].strip().lower() == "email":
            header_seen = True
            continue
        header_seen = True
        try:
            email = normalise_email(cells[0])
            name = clean_name(cells[1] if len(cells) > 1 else "")
            names = [n.strip() for n in (cells[2] if len(cells) > 2 else "").split(";")
                     if n.strip()]
            if not names:
                raise InvalidInput("lists: empty; give at least one list name")
            unknown = [n for n in names if n not in lists]
            if unknown:
                raise InvalidInput(f"lists: unknown list {unknown[0]!r}")
        except InvalidInput as exc:
            report.errors.append((number, str(exc)))
            continue
        pending.append((email, name, names))
        if len(pending) >= chunk:
            flush()
    flush()
    return report


def _import_chunk(db: Database, rows: list[tuple[str, str, list[str]]],
                  lists: dict[str, MailingList], report: ImportReport) -> None:
    with db.session() as session:
        emails = {email for email, _, _ in rows}
        known = {s.email: s for s in session.scalars(
            select(Subscriber).where(Subscriber.email.in_(emails)))}
        for email, name, _ in rows:
            if email not in known:
                known[email] = Subscriber(email=email, name=name)
                session.add(known[email])
            elif name and known[email].name != name:
                known[email].name = name
        session.flush()
        ids = [s.id for s in known.values()]
        existing = set(session.execute(
            select(Subscription.subscriber_id, Subscription.list_id)
            .where(Subscription.subscriber_id.in_(ids))).tuples())
        for email, _, names in rows:
            subscriber = known[email]
            added = False
            for list_name in names:
                mailing_list = lists[list_name]
                if (subscriber.id, mailing_list.id) in existing:
                    continue
                existing.add((subscriber.id, mailing_list.id))
                session.add(Subscription(
                    list_id=mailing_list.id, subscriber_id=subscriber.id,
                    status="unconfirmed" if mailing_list.double_opt_in else "active"))
                added = True
            if added:
                report.imported += 1
            else:
                report.unchanged += 1


def unsubscribe(db: Database, secret: str, token: str) -> str:
    """Apply a signed unsubscribe token; return the list's name. Idempotent."""
    from distributor.tokens import read_token

    subscriber_id, list_id, digest = read_token(secret, token, "unsubscribe")
    with db.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        mailing_list = session.get(MailingList, list_id)
        if subscriber is None or mailing_list is None or \
                email_digest(subscriber.email)[:16] != digest:
            raise InvalidInput("this link is not valid", {"token": "invalid"})
        subscription = session.scalar(select(Subscription).where(
            Subscription.list_id == list_id, Subscription.subscriber_id == subscriber_id))
        if subscription is not None and subscription.status != "unsubscribed":
            subscription.status = "unsubscribed"
        return mailing_list.name

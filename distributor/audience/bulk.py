"""Subscribers in bulk: CSV import and export, in chunks with bulk statements."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import insert, select, update

from distributor.audience.lists import clean_name
from distributor.audience.subscribers import list_subscribers, normalise_email
from distributor.errors import InvalidInput
from distributor.states import SubscriptionStatus
from distributor.store import Database, MailingList, Subscriber, Subscription

MAX_CSV_LINE = 4096


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
    """Import email,name,lists[,sections] rows (lists and sections separated by ';').
    Bad rows are reported by line number and skipped; good rows are imported;
    importing again changes nothing."""
    report = ImportReport()
    with db.session() as session:
        lists = {m.name: m for m in session.scalars(select(MailingList))}
    pending: list[tuple[str, str, list[str], list[str]]] = []

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
            sections = [clean_name(s, "sections") for s in
                        (cells[3] if len(cells) > 3 else "").split(";") if s.strip()]
        except InvalidInput as exc:
            report.errors.append((number, str(exc)))
            continue
        pending.append((email, name, names, sections))
        if len(pending) >= chunk:
            flush()
    flush()
    return report


def _import_chunk(db: Database, rows: list[tuple[str, str, list[str], list[str]]],
                  lists: dict[str, MailingList], report: ImportReport) -> None:
    """One transaction per chunk, with bulk statements: no object per row."""
    emails = list({email for email, *_ in rows})
    with db.session() as session:
        def ids_and_names() -> dict[str, tuple[int, str]]:
            return {e: (i, n) for i, e, n in session.execute(
                select(Subscriber.id, Subscriber.email, Subscriber.name)
                .where(Subscriber.email.in_(emails)))}

        known = ids_and_names()
        names = {email: name for email, name, *_ in rows}
        new = [{"email": e, "name": names[e]} for e in emails if e not in known]
        renamed = [{"id": known[e][0], "name": n} for e, n in names.items()
                   if e in known and n and known[e][1] != n]
        if new:
            session.execute(insert(Subscriber), new)
        if renamed:
            session.execute(update(Subscriber), renamed)
        ids = {e: i for e, (i, _) in ids_and_names().items()}
        existing = set(session.execute(
            select(Subscription.subscriber_id, Subscription.list_id)
            .where(Subscription.subscriber_id.in_(ids.values()))).tuples())
        additions = []
        for email, _, list_names, sections in rows:
            added = False
            for list_name in list_names:
                pair = (ids[email], lists[list_name].id)
                if pair in existing:
                    continue
                existing.add(pair)
                additions.append({"subscriber_id": pair[0], "list_id": pair[1],
                                  "status": SubscriptionStatus.ACTIVE, "sections": sections})
                added = True
            if added:
                report.imported += 1
            else:
                report.unchanged += 1
        if additions:
            session.execute(insert(Subscription), additions)


def export_csv(db: Database, out: io.TextIOBase, list_name: str | None = None,
               page: int = 1000) -> int:
    """Write email,name,lists,status rows (active subscriptions by default), streaming."""
    writer = csv.writer(out)
    writer.writerow(["email", "name", "lists"])
    after, count = 0, 0
    while True:
        rows = list_subscribers(db, list_name, SubscriptionStatus.ACTIVE, limit=page,
                                after=after)
        if not rows:
            return count
        by_person: dict[int, list[dict]] = {}
        for row in rows:
            by_person.setdefault(row["id"], []).append(row)
        for items in by_person.values():
            writer.writerow([items[0]["email"], items[0]["name"],
                             ";".join(r["list"] for r in items)])
            count += 1
        after = rows[-1]["id"]



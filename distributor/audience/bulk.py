"""Subscribers in bulk: CSV import and export, in chunks with bulk statements.

Cells a spreadsheet would run as a formula (starting = + - @, tab or CR) are written
with a leading apostrophe, which the import takes off again, so a file goes out and
back unchanged (OWASP, CSV injection)."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import insert, select, update

from distributor.audience.lists import check_timezone, clean_name
from distributor.audience.subscribers import list_subscribers, normalise_email
from distributor.audience.tokens import email_digest
from distributor.errors import InvalidInput
from distributor.states import SubscriptionStatus
from distributor.store import Database, MailingList, Subscriber, Subscription, Suppression

MAX_CSV_LINE = 4096
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class ImportReport:
    imported: int = 0
    unchanged: int = 0
    resubscribed: int = 0
    kept_unsubscribed: int = 0  # unsubscribed people the file names, left as they are
    errors: list[tuple[int, str]] = field(default_factory=list)


def decode_csv(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """The file's text and the charset it was read in: UTF-8 (with or without Excel's
    byte-order mark) unless told otherwise. Guessing is not reliable on a short file
    (a Windows-1252 list of names reads as several code pages equally well), so a file
    that is not UTF-8 is refused with what to do, never read as mojibake."""
    if encoding:
        try:
            return data.decode(encoding), codecs.lookup(encoding).name
        except LookupError:
            raise InvalidInput(f"encoding: {encoding!r} is not a charset Python knows",
                               {"encoding": "unknown charset"}) from None
        except UnicodeDecodeError as exc:
            line = data[:exc.start].count(b"\n") + 1
            raise InvalidInput(f"the file is not {encoding}: line {line} has bytes it cannot "
                               "hold", {"file": f"not {encoding}"}) from None
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise InvalidInput(
            f"the file is not UTF-8 (line {line}): Excel's plain 'CSV' is usually Windows-1252; "
            "import it with --encoding cp1252 (or its real charset), or save it as "
            "'CSV UTF-8'", {"file": "not UTF-8"}) from None


def safe_cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value


def _unsafe_cell(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_START) else value


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


def import_csv(db: Database, stream: io.TextIOBase, progress=None, chunk: int = 1000,
               resubscribe: bool = False) -> ImportReport:
    """Import email,name,lists[,sections[,timezone]] rows (lists and sections separated
    by ';'; timezone an IANA name, kept when empty).
    Bad rows are reported by line number and skipped; good rows are imported;
    importing again changes nothing. Someone who unsubscribed stays so (counted)
    unless `resubscribe`; a suppressed address is refused."""
    report = ImportReport()
    with db.session() as session:
        lists = {m.name: m for m in session.scalars(select(MailingList))}
    pending: list[tuple[int, str, str, list[str], list[str], str]] = []

    def flush() -> None:
        if pending:
            _import_chunk(db, pending, lists, report, resubscribe)
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
        cells = [_unsafe_cell(c) for c in cells]
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
            zone = cells[4].strip() if len(cells) > 4 else ""
            if zone:
                check_timezone(zone)
        except InvalidInput as exc:
            report.errors.append((number, str(exc)))
            continue
        pending.append((number, email, name, names, sections, zone))
        if len(pending) >= chunk:
            flush()
    flush()
    return report


def _import_chunk(db: Database, rows: list[tuple[int, str, str, list[str], list[str], str]],
                  lists: dict[str, MailingList], report: ImportReport,
                  resubscribe: bool) -> None:
    """One transaction per chunk, with bulk statements: no object per row."""
    with db.session() as session:
        suppressed = {digest: reason for digest, reason in session.execute(
            select(Suppression.email_hash, Suppression.reason).where(
                Suppression.email_hash.in_([email_digest(r[1]) for r in rows])))}
        kept = []
        for row in rows:
            reason = suppressed.get(email_digest(row[1]))
            if reason:
                report.errors.append((row[0], f"{row[1]} is suppressed ({reason}): not imported"))
            else:
                kept.append(row[1:])
        rows = kept
        emails = list({email for email, *_ in rows})
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
        zoned = {ids[email]: zone for email, *_, zone in rows if zone}
        if zoned:
            session.execute(update(Subscriber), [{"id": i, "timezone": z}
                                                 for i, z in zoned.items()])
        existing = {(subscriber, list_id): status for subscriber, list_id, status in
                    session.execute(select(Subscription.subscriber_id, Subscription.list_id,
                                           Subscription.status)
                                    .where(Subscription.subscriber_id.in_(ids.values())))}
        additions, rejoining = [], []
        for email, _, list_names, sections, _ in rows:
            added = False
            for list_name in list_names:
                pair = (ids[email], lists[list_name].id)
                if existing.get(pair) == SubscriptionStatus.UNSUBSCRIBED:
                    if resubscribe:
                        rejoining.append(pair)
                        report.resubscribed += 1
                    else:
                        report.kept_unsubscribed += 1
                    existing[pair] = SubscriptionStatus.ACTIVE
                    continue
                if pair in existing:
                    continue
                existing[pair] = SubscriptionStatus.ACTIVE
                additions.append({"subscriber_id": pair[0], "list_id": pair[1],
                                  "status": SubscriptionStatus.ACTIVE, "sections": sections})
                added = True
            if added:
                report.imported += 1
            else:
                report.unchanged += 1
        if additions:
            session.execute(insert(Subscription), additions)
        for subscriber_id, list_id in rejoining:
            session.execute(update(Subscription).where(
                Subscription.subscriber_id == subscriber_id, Subscription.list_id == list_id)
                .values(status=SubscriptionStatus.ACTIVE))


def export_csv(db: Database, out: io.TextIOBase, list_name: str | None = None,
               page: int = 1000) -> int:
    """Write email,name,lists,sections,timezone rows of the active subscriptions, streaming: the
    import's own format, so a file goes out and back unchanged. A person whose lists
    carry different section preferences gets one row per preference set."""
    writer = csv.writer(out)
    writer.writerow(["email", "name", "lists", "sections", "timezone"])
    after, count = 0, 0
    while True:
        rows = list_subscribers(db, list_name, SubscriptionStatus.ACTIVE, limit=page,
                                after=after)
        if not rows:
            return count
        if len(rows) == page and rows[0]["id"] != rows[-1]["id"]:
            # The page may end inside a person's subscriptions: they start the next one.
            rows = [r for r in rows if r["id"] != rows[-1]["id"]]
        by_person: dict[tuple[int, tuple[str, ...]], list[dict]] = {}
        for row in rows:
            by_person.setdefault((row["id"], tuple(row["sections"])), []).append(row)
        for (_, sections), items in by_person.items():
            writer.writerow([safe_cell(items[0]["email"]), safe_cell(items[0]["name"]),
                             ";".join(r["list"] for r in items), ";".join(sections),
                             items[0]["timezone"] or ""])
            count += 1
        after = rows[-1]["id"]



"""The bounce mailbox: read each message over IMAP (RFC 3501), apply what it reports,
then move or delete it. What cannot be read is left where it is and counted.

The database is written before the message is touched: a poll killed between the
two finds the message again next time, and its event key makes it count once.
imaplib's errors are translated here, at the edge (MailboxError, never the password).
"""

from __future__ import annotations

import imaplib
import logging
import re
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from sqlalchemy import select

from distributor.config import Settings
from distributor.email.bounces import Taken, take
from distributor.email.reports import UNPARSED, read_report
from distributor.errors import MailboxError
from distributor.store import Database, MailboxState

log = logging.getLogger("distributor.bounces")
MAX_MESSAGES = 500  # per poll: a flooded mailbox is worked through a poll at a time
MAX_BYTES = 2_000_000  # a larger message is no bounce we need to read whole
OK, ERROR = "ok", "error"  # MailboxState.status (not outbox states)


@dataclass
class Polled:
    mailbox: str
    seen: int = 0
    handled: int = 0
    unparsed: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    taken: Taken = field(default_factory=Taken)

    def as_dict(self) -> dict:
        return {"mailbox": self.mailbox, "seen": self.seen, "handled": self.handled,
                "unparsed": self.unparsed, "kinds": self.kinds, "events": self.taken.counts,
                "paused_sends": self.taken.paused}


def mailbox_name(url: str) -> str:
    """host/folder: how status names the mailbox (never the user or password)."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or _default_port(parts.scheme)}/{_folder(url)}"


def _default_port(scheme: str) -> int:
    return 993 if scheme == "imaps" else 143


def _folder(url: str) -> str:
    return unquote(urlsplit(url).path.lstrip("/")) or "INBOX"


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _connect(url: str, timeout: float) -> imaplib.IMAP4:
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or _default_port(parts.scheme)
    try:
        if parts.scheme == "imaps":
            client = imaplib.IMAP4_SSL(host, port, ssl_context=ssl.create_default_context(),
                                       timeout=timeout)
        else:
            client = imaplib.IMAP4(host, port, timeout=timeout)
            if parts.scheme == "imap+starttls":
                client.starttls(ssl.create_default_context())
    except (OSError, imaplib.IMAP4.error, ssl.SSLError) as exc:
        raise MailboxError(f"cannot reach {host}:{port}: {type(exc).__name__}: {exc}") from None
    try:
        client.login(unquote(parts.username or ""), unquote(parts.password or ""))
    except imaplib.IMAP4.error as exc:
        _logout(client)
        reason = str(exc).replace(parts.password or "\0", "***")
        raise MailboxError(f"login to {host}:{port} refused: {reason}") from None
    return client


def _logout(client: imaplib.IMAP4) -> None:
    try:
        client.logout()
    except (OSError, imaplib.IMAP4.error):
        pass


def poll_mailbox(db: Database, settings: Settings, now: datetime | None = None) -> Polled:
    """Read the configured bounce mailbox once. MailboxError (also recorded for status
    and /health) when it cannot be reached or the login is refused."""
    config = settings.bounces
    if config.imap is None:
        raise MailboxError("no bounce mailbox configured ([bounces] imap in the config file)")
    url = config.imap.get_secret_value()
    polled = Polled(mailbox_name(url))
    now = now or datetime.now(UTC)
    try:
        client = _connect(url, settings.smtp_timeout)
        try:
            _read_all(client, db, settings, _folder(url), config.handled_folder, polled)
        finally:
            _logout(client)
    except MailboxError as exc:
        _remember(db, polled, now, str(exc))
        raise
    except (OSError, imaplib.IMAP4.error) as exc:
        why = f"{polled.mailbox}: {type(exc).__name__}: {exc}"
        _remember(db, polled, now, why)
        raise MailboxError(why) from None
    _remember(db, polled, now, None)
    return polled


def _check(answer: tuple[str, list], what: str) -> list:
    typ, data = answer
    if typ != "OK":
        raise MailboxError(f"{what}: {typ} {data!r}"[:300])
    return data


def _read_all(client: imaplib.IMAP4, db: Database, settings: Settings, folder: str,
              handled_folder: str | None, polled: Polled) -> None:
    _check(client.select(_quote(folder)), f"select {folder}")
    uids = _check(client.uid("SEARCH", "ALL"), "search")[0].split()
    done: list[bytes] = []
    for uid in uids[:MAX_MESSAGES]:
        polled.seen += 1
        raw = _fetch(client, uid)
        read = read_report(raw, settings.bounce_address) if raw is not None else None
        if read is None or read.kind == UNPARSED:
            polled.unparsed += 1
            continue
        polled.kinds[read.kind] = polled.kinds.get(read.kind, 0) + 1
        with db.session() as session:
            for report in read.reports:
                take(session, settings, report, polled.taken)
        done.append(uid)
    polled.unparsed += max(0, len(uids) - MAX_MESSAGES)  # still there: the next poll reads on
    polled.handled = len(done)
    if done:
        _put_away(client, b",".join(done).decode(), handled_folder)


def _fetch(client: imaplib.IMAP4, uid: bytes) -> bytes | None:
    size = _check(client.uid("FETCH", uid, "(RFC822.SIZE)"), "fetch size")
    match = re.search(rb"RFC822\.SIZE (\d+)", size[0] if size and size[0] else b"")
    if match and int(match.group(1)) > MAX_BYTES:
        return None
    data = _check(client.uid("FETCH", uid, "(BODY.PEEK[])"), "fetch")
    for item in data:
        if isinstance(item, tuple):
            return item[1]
    return None


def _put_away(client: imaplib.IMAP4, uids: str, folder: str | None) -> None:
    """Move handled messages to `folder` (RFC 6851 MOVE, else COPY), or delete them."""
    capabilities = {c.upper() for c in client.capabilities}
    if folder:
        client.create(_quote(folder))  # NO when it exists already: fine
        if "MOVE" in capabilities:
            _check(client.uid("MOVE", uids, _quote(folder)), f"move to {folder}")
            return
        _check(client.uid("COPY", uids, _quote(folder)), f"copy to {folder}")
    _check(client.uid("STORE", uids, "+FLAGS.SILENT", r"(\Deleted)"), "delete")
    if "UIDPLUS" in capabilities:  # RFC 4315: expunge only what we deleted
        _check(client.uid("EXPUNGE", uids), "expunge")
    else:
        _check(client.expunge(), "expunge")


def _remember(db: Database, polled: Polled, now: datetime, error: str | None) -> None:
    with db.session() as session:
        state = session.scalar(select(MailboxState).where(MailboxState.name == polled.mailbox))
        if state is None:
            state = MailboxState(name=polled.mailbox, handled=0, unparsed=0)
            session.add(state)
        state.last_poll_at = now
        state.status = ERROR if error else OK
        state.error = error
        if error is None:
            state.last_success_at = now
            state.handled += polled.handled
            state.unparsed = polled.unparsed


def mailbox_status(db: Database) -> list[dict]:
    """Each bounce mailbox's last poll, for status and /health."""
    with db.session() as session:
        return [{"mailbox": m.name, "status": m.status, "error": m.error,
                 "handled": m.handled, "unparsed": m.unparsed,
                 "last_poll_at": m.last_poll_at.isoformat() if m.last_poll_at else None,
                 "last_success_at": m.last_success_at.isoformat() if m.last_success_at else None}
                for m in session.scalars(select(MailboxState).order_by(MailboxState.name))]


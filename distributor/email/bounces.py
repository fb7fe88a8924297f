"""Bounces and complaints, wherever they come from (the SMTP server's refusal, the bounce
mailbox, a provider's webhook), through one door: record, apply the policy, watch the
send's rates."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from distributor.audience.bounces import Report, apply_report, classify, find_status
from distributor.audience.tokens import verp_token
from distributor.config import Settings
from distributor.email import reputation
from distributor.store import Database, MailingList, Send

log = logging.getLogger("distributor.bounces")
NO_LIST = "-"  # the /metrics label of an event that names no send


@dataclass
class Taken:
    """What a run over some reports came to, by outcome (recorded, duplicate, unknown,
    forged), and the sends it paused with why."""

    counts: dict[str, int] = field(default_factory=dict)
    paused: dict[int, str] = field(default_factory=dict)
    by_list: dict[tuple[str, str], int] = field(default_factory=dict)  # (list, kind): for /metrics

    def add(self, outcome: str) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1


def return_path(settings: Settings, send_id: int, subscriber_id: int, email: str) -> str | None:
    """The envelope sender for one reader (VERP): bounces+<token>@domain, so that a bounce
    names its send and reader even when the report itself is mangled. None: unset."""
    if not settings.bounce_address:
        return None
    local, _, domain = settings.bounce_address.rpartition("@")
    return f"{local}+{verp_token(settings.secret, send_id, subscriber_id, email)}@{domain}"


def verp_in(text: str | None, bounce_address: str | None) -> str | None:
    """The token of our return path (bounces+<token>@domain) in some text, if there."""
    if not text or not bounce_address:
        return None
    local, _, domain = bounce_address.lower().rpartition("@")
    found = re.search(re.escape(local) + r"\+([0-9a-z-]{1,80})@" + re.escape(domain), text,
                      re.IGNORECASE)
    return found.group(1) if found else None


def take(session: Session, settings: Settings, report: Report, taken: Taken) -> str:
    """Apply one report; returns its outcome."""
    applied = apply_report(session, settings, report)
    taken.add(applied.outcome)
    log.info("bounce source=%s kind=%s status=%s outcome=%s %s", report.source, report.kind,
             report.status, applied.outcome, applied.effect)
    if applied.outcome == "recorded":
        list_name = session.scalar(select(MailingList.name).join(Send, Send.list_id == MailingList.id)
                                   .where(Send.id == applied.send_id)) if applied.send_id else None
        tally = (list_name or NO_LIST, str(report.kind))
        taken.by_list[tally] = taken.by_list.get(tally, 0) + 1
    if applied.outcome == "recorded" and applied.send_id is not None:
        why = reputation.watch(session, settings, applied.send_id)
        if why:
            taken.paused[applied.send_id] = why
            log.warning("send=%s %s", applied.send_id, why)
    return applied.outcome


def take_all(db: Database, settings: Settings, reports: list[Report]) -> Taken:
    """Apply reports, each in its own transaction (one bad row does not undo the rest)."""
    taken = Taken()
    for report in reports:
        with db.session() as session:
            take(session, settings, report, taken)
    return taken


def refused_at_rcpt(session: Session, settings: Settings, send_id: int, subscriber_id: int,
                    reply: str) -> str | None:
    """The SMTP server refused a reader (5xx on RCPT): the same policy as a late bounce
    (a 5.7.1 policy refusal is soft, not a suppression). Returns why the send must
    pause, or None."""
    status = find_status(reply)
    report = Report(kind=classify(status, permanent=True) or classify(None, permanent=True),
                    key=f"smtp:{send_id}:{subscriber_id}", source="smtp", reason=reply,
                    status=status, subscriber_id=subscriber_id, send_id=send_id)
    if apply_report(session, settings, report).outcome != "recorded":
        return None
    return reputation.watch(session, settings, send_id)

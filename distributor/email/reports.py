"""Reading what comes back to the bounce address: a delivery status notification
(RFC 3464), a complaint in the Abuse Reporting Format (RFC 5965), an autoreply
(RFC 3834), or a bounce in no standard form (flufl.bounce reads those). Each becomes
`Report`s for the policy; what is none of these is `unparsed` and left alone.

The reader is found by our return path's token (VERP) wherever the report kept it:
the address the report was sent to, the ARF `Original-Mail-From`, the returned
message's `Return-Path`; else by the failed recipient's address.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message

from flufl.bounce import all_failures

from distributor.audience.bounces import Report, classify, find_status
from distributor.email.bounces import verp_in
from distributor.states import BounceKind

# What a report turned out to be.
DSN, ARF, AUTOREPLY, NONSTANDARD, UNPARSED = "dsn", "arf", "autoreply", "nonstandard", "unparsed"
# RFC 5965 section 7.3 registers these types; abuse and fraud are a reader's complaint.
COMPLAINT_TYPES = ("abuse", "fraud")
# RFC 3464 section 2.3.3: only "failed" is a bounce; "delayed" is a warning.
FAILED = "failed"
# Where mail systems write the address a message was delivered to.
_ENVELOPE_HEADERS = ("X-Original-To", "Delivered-To", "Envelope-To", "X-Envelope-To", "To")


@dataclass
class Read:
    kind: str  # dsn | arf | autoreply | nonstandard | unparsed
    reports: list[Report] = field(default_factory=list)


def read_report(raw: bytes, bounce_address: str | None) -> Read:
    """What one message in the bounce mailbox says. Never raises on a malformed message."""
    try:
        message = message_from_bytes(raw, policy=policy.compat32)
        return _read(message, raw, bounce_address)
    except Exception:  # a message mangled past what the email package reads
        return Read(UNPARSED)


def _read(message: Message, raw: bytes, bounce_address: str | None) -> Read:
    key = _key(message, raw)
    token = _token(message, raw, bounce_address)
    report_type = message.get_param("report-type", header="content-type") or ""
    if message.get_content_type() == "multipart/report":
        if report_type.lower() == "delivery-status":
            reports = _dsn(message, key, token)
            if reports is not None:
                return Read(DSN, reports)
        if report_type.lower() == "feedback-report":
            reports = _arf(message, key, token, bounce_address)
            if reports is not None:
                return Read(ARF, reports)
    dsn_part = _part(message, "message/delivery-status")  # a DSN wrapped in multipart/mixed
    if dsn_part is not None:
        reports = _dsn(message, key, token)
        if reports is not None:
            return Read(DSN, reports)
    nonstandard = _nonstandard(message, key, token)
    if nonstandard:
        return Read(NONSTANDARD, nonstandard)
    if _bounce_like(message):  # an autoreply header on a bounce does not make it one
        return Read(NONSTANDARD, [_by_token(message, key, token)]) if token else Read(UNPARSED)
    if _autoreply(message):
        return Read(AUTOREPLY)
    return Read(UNPARSED)


def _key(message: Message, raw: bytes) -> str:
    message_id = (message.get("Message-ID") or "").strip()
    return f"mailbox:{message_id}" if message_id else \
        f"mailbox:sha256:{hashlib.sha256(raw).hexdigest()}"


def _token(message: Message, raw: bytes, bounce_address: str | None) -> str | None:
    """Our VERP token, found in the envelope headers or anywhere in the report."""
    for name in _ENVELOPE_HEADERS:
        for value in message.get_all(name) or []:
            token = verp_in(str(value), bounce_address)
            if token:
                return token
    return verp_in(raw.decode("latin-1"), bounce_address)


def _part(message: Message, content_type: str) -> Message | None:
    return next((p for p in message.walk() if p.get_content_type() == content_type), None)


def _address(value: str | None) -> str | None:
    """'rfc822; someone@example.org' -> 'someone@example.org' (RFC 3464 2.3.2)."""
    if not value:
        return None
    address = value.partition(";")[2] if ";" in value else value
    return address.strip().strip("<>").strip() or None


def _dsn(message: Message, key: str, token: str | None) -> list[Report] | None:
    """RFC 3464: per-recipient fields after the per-message ones; only 'failed' counts."""
    status_part = _part(message, "message/delivery-status")
    if status_part is None:
        return None
    blocks = status_part.get_payload()
    if not isinstance(blocks, list) or len(blocks) < 2:
        return None
    reports = []
    for block in blocks[1:]:
        action = (block.get("Action") or "").strip().lower()
        recipient = _address(block.get("Original-Recipient")) or \
            _address(block.get("Final-Recipient"))
        if action != FAILED or not recipient:
            continue
        diagnostic = " ".join(str(block.get("Diagnostic-Code") or "").split())
        status = find_status(str(block.get("Status") or "")) or find_status(diagnostic)
        if status and status.endswith(".0.0"):  # "other or undefined": the diagnostic may say
            status = find_status(diagnostic) or status
        kind = classify(status, permanent=True)
        if kind is None:
            continue
        reports.append(Report(kind=kind, key=f"{key}:{recipient.lower()}", source="mailbox",
                              reason=diagnostic or f"Status: {block.get('Status')}",
                              status=status, email=recipient, verp=token))
    return reports


def _arf(message: Message, key: str, token: str | None, bounce_address: str | None
         ) -> list[Report] | None:
    """RFC 5965: the second part says what kind of feedback, the third is the original."""
    feedback = _part(message, "message/feedback-report")
    if feedback is None:
        return None
    fields = feedback.get_payload()
    fields = fields[0] if isinstance(fields, list) and fields else feedback
    feedback_type = (fields.get("Feedback-Type") or "").strip().lower()
    if feedback_type not in COMPLAINT_TYPES:
        return []
    original = _part(message, "message/rfc822") or _part(message, "text/rfc822-headers")
    original_headers = original.get_payload()[0] if original is not None and isinstance(
        original.get_payload(), list) else original
    recipient = _address(fields.get("Original-Rcpt-To"))
    if recipient is None and original_headers is not None:
        recipient = _address(original_headers.get("To"))
    return [Report(kind=BounceKind.COMPLAINT, key=f"{key}:{(recipient or '').lower()}",
                   source="mailbox", reason=f"Feedback-Type: {feedback_type}; "
                   f"User-Agent: {fields.get('User-Agent') or '?'}",
                   email=recipient, verp=token)]


def _nonstandard(message: Message, key: str, token: str | None) -> list[Report]:
    temporary, permanent = all_failures(message)
    reports = []
    for addresses, kind in ((permanent, BounceKind.HARD), (temporary, BounceKind.SOFT)):
        for address in sorted(addresses):
            email = address.decode("utf-8", "replace")
            reports.append(Report(kind=kind, key=f"{key}:{email.lower()}", source="mailbox",
                                  reason=f"non-standard bounce: {message.get('Subject', '')}"[:500],
                                  email=email, verp=token))
    return reports


def _bounce_like(message: Message) -> bool:
    """A report from a mail system (RFC 3464's container, or the mailer-daemon or
    postmaster sender RFC 5321 4.5.5 and 4.5.1 speak of) that we could not read."""
    sender = (message.get("From") or "").lower()
    return message.get_content_type() == "multipart/report" or \
        "mailer-daemon@" in sender or "postmaster@" in sender


def _by_token(message: Message, key: str, token: str) -> Report:
    """A mangled bounce that kept our return path: the token names the reader; the first
    status code in its text says how bad it is (none: soft, counted)."""
    text = " ".join(" ".join(_text(p).split()) for p in message.walk()
                    if p.get_content_type() == "text/plain")
    status = find_status(text)
    return Report(kind=classify(status, permanent=False) or BounceKind.SOFT, key=f"{key}:verp",
                  source="mailbox", status=status, verp=token,
                  reason=f"unreadable bounce ({message.get('Subject', '')}): {text}"[:1000])


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True) or b""
    return payload.decode(part.get_content_charset() or "latin-1", "replace")


def _autoreply(message: Message) -> bool:
    """RFC 3834 section 5: Auto-Submitted other than 'no'; and the headers that vacation
    programs wrote before it."""
    auto = (message.get("Auto-Submitted") or "no").strip().lower()
    if not auto.startswith("no"):
        return True
    precedence = (message.get("Precedence") or "").strip().lower()
    return precedence == "auto_reply" or any(
        message.get(h) for h in ("X-Autoreply", "X-Autorespond"))

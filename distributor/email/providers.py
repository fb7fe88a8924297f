"""Bounce and complaint events from email providers (`POST /v1/bounces/{provider}`),
each verified the provider's own way before a word of it is believed:

    ses       the SNS message signature (email/sns.py); the topic must be one we were
              told of. A SubscriptionConfirmation is confirmed by visiting its
              SubscribeURL.
    postmark  HTTP basic auth (Postmark signs nothing; the credentials go in the
              webhook URL): compared in constant time.
    sendgrid  Signed Event Webhook: ECDSA P-256/SHA-256 over timestamp + body,
              checked with the public key SendGrid shows.
    mailgun   HMAC-SHA256 of timestamp + token with the webhook signing key.

A timestamp older than `max_event_age` is refused (a replay); an event already
recorded (its id is the event key) changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from distributor.audience.bounces import Report, classify, find_status
from distributor.config import Settings
from distributor.email.bounces import verp_in
from distributor.email.sns import Fetch, sns_url, verified_sns_message
from distributor.errors import InvalidInput, NotFound, SignatureRefused, Unavailable
from distributor.states import BounceKind

PROVIDERS = ("ses", "postmark", "sendgrid", "mailgun")


@dataclass
class Events:
    reports: list[Report] = field(default_factory=list)
    ignored: int = 0  # events that are no bounce or complaint (deliveries, opens...)
    confirm_url: str | None = None  # SNS: visit to confirm the subscription


def read_events(settings: Settings, provider: str, headers: Mapping[str, str], body: bytes,
                fetch: Fetch, now: datetime | None = None) -> Events:
    """Verify a provider's request and turn it into reports. NotFound for a provider that
    is not configured, SignatureRefused when it does not verify, InvalidInput when it
    verifies but is not what the provider sends."""
    now = now or datetime.now(UTC)
    readers = {"ses": _ses, "postmark": _postmark, "sendgrid": _sendgrid, "mailgun": _mailgun}
    if provider not in readers:
        raise NotFound(f"no bounce provider {provider!r}: one of {', '.join(PROVIDERS)}",
                       {"provider": "unknown"})
    return readers[provider](settings, headers, body, fetch, now)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidInput("the body is not JSON", {"body": "not JSON"}) from None


def _not_configured(provider: str, setting: str) -> NotFound:
    return NotFound(f"{provider} bounces are not configured ([bounces] {setting})",
                    {"provider": "not configured"})


def _fresh(settings: Settings, timestamp: str | int | None, now: datetime) -> None:
    try:
        age = now.timestamp() - float(timestamp)
    except (TypeError, ValueError):
        raise SignatureRefused("no valid timestamp", {"timestamp": "missing or invalid"}) from None
    if abs(age) > settings.bounces.max_event_age:
        raise SignatureRefused("the signed timestamp is too old or in the future (a replay?)",
                               {"timestamp": "outside the allowed window"})


def _as_dict(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be a JSON object", {what: "not an object"})
    return value


# -- Amazon SES through SNS ---------------------------------------------------------------
def _ses(settings: Settings, headers, body: bytes, fetch: Fetch, now: datetime) -> Events:
    if not settings.bounces.ses_topic_arns:
        raise _not_configured("ses", "ses_topic_arns")
    message = verified_sns_message(settings, _as_dict(_json(body), "body"), fetch, now)
    if message["Type"] == "SubscriptionConfirmation":
        return Events(confirm_url=sns_url(settings, message.get("SubscribeURL"), "SubscribeURL"))
    if message["Type"] == "UnsubscribeConfirmation":
        return Events(ignored=1)
    return _ses_message(settings, _as_dict(_json(str(message.get("Message", "")).encode()),
                                           "Message"))


def _ses_message(settings: Settings, message: dict) -> Events:
    """An SES notification (notificationType) or event (eventType): Bounce or Complaint.
    https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html"""
    kind = message.get("notificationType") or message.get("eventType")
    mail = message.get("mail") or {}
    token = verp_in(str(mail.get("source") or ""), settings.bounce_address)
    events = Events()
    if kind == "Bounce":
        bounce = message.get("bounce") or {}
        permanent = bounce.get("bounceType") == "Permanent"
        for r in bounce.get("bouncedRecipients") or []:
            status = find_status(str(r.get("status") or ""))
            specific = status if status and not status.endswith(".0.0") else None
            events.reports.append(Report(
                kind=(classify(specific, True) or BounceKind.HARD) if permanent else BounceKind.SOFT,
                key=f"ses:{bounce.get('feedbackId')}:{str(r.get('emailAddress')).lower()}",
                source="ses", status=status, email=r.get("emailAddress"), verp=token,
                reason=f"{bounce.get('bounceType')}/{bounce.get('bounceSubType')}: "
                       f"{r.get('diagnosticCode') or ''}".strip()))
    elif kind == "Complaint":
        complaint = message.get("complaint") or {}
        if complaint.get("complaintFeedbackType") == "not-spam":
            return Events(ignored=1)
        for r in complaint.get("complainedRecipients") or []:
            events.reports.append(Report(
                kind=BounceKind.COMPLAINT, source="ses", email=r.get("emailAddress"), verp=token,
                key=f"ses:{complaint.get('feedbackId')}:{str(r.get('emailAddress')).lower()}",
                reason=f"complaint: {complaint.get('complaintFeedbackType') or 'unspecified'}"))
    else:
        events.ignored = 1
    return events


# -- Postmark -----------------------------------------------------------------------------
# https://postmarkapp.com/developer/webhooks/bounce-webhook (Type, TypeCode),
# https://postmarkapp.com/developer/webhooks/spam-complaint-webhook
_POSTMARK_HARD = ("HardBounce", "BadEmailAddress", "ManuallyDeactivated")
_POSTMARK_SOFT = ("SoftBounce", "Transient", "DnsError", "Blocked", "SMTPApiError")


def _postmark(settings: Settings, headers, body: bytes, fetch: Fetch, now: datetime) -> Events:
    config = settings.bounces
    if not config.postmark_user or config.postmark_password is None:
        raise _not_configured("postmark", "postmark_user and postmark_password")
    expected = base64.b64encode(
        f"{config.postmark_user}:{config.postmark_password.get_secret_value()}".encode()).decode()
    given = headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Basic {expected}".encode()):
        raise SignatureRefused("wrong or missing basic auth credentials",
                               {"authorization": "refused"})
    event = _as_dict(_json(body), "body")
    record, kind = event.get("RecordType"), event.get("Type")
    if record == "SpamComplaint" or kind == "SpamComplaint":
        bounce_kind = BounceKind.COMPLAINT
    elif record == "Bounce" and kind in _POSTMARK_HARD:
        bounce_kind = BounceKind.HARD
    elif record == "Bounce" and kind in _POSTMARK_SOFT:
        bounce_kind = BounceKind.SOFT
    else:
        return Events(ignored=1)
    if event.get("ID") is None or not event.get("Email"):
        raise InvalidInput("a Postmark bounce has an ID and an Email", {"ID": "required"})
    details = str(event.get("Details") or event.get("Description") or "")
    return Events([Report(kind=bounce_kind, key=f"postmark:{event['ID']}", source="postmark",
                          email=str(event["Email"]), status=find_status(details),
                          reason=f"{kind}: {details}"[:2000])])


# -- SendGrid -----------------------------------------------------------------------------
# https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features
# https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event (bounce, spamreport)
SENDGRID_SIGNATURE = "x-twilio-email-event-webhook-signature"
SENDGRID_TIMESTAMP = "x-twilio-email-event-webhook-timestamp"


def _sendgrid(settings: Settings, headers, body: bytes, fetch: Fetch, now: datetime) -> Events:
    if not settings.bounces.sendgrid_public_key:
        raise _not_configured("sendgrid", "sendgrid_public_key")
    timestamp = headers.get(SENDGRID_TIMESTAMP, "")
    try:
        key = serialization.load_der_public_key(base64.b64decode(settings.bounces.sendgrid_public_key))
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise InvalidSignature
        key.verify(base64.b64decode(headers.get(SENDGRID_SIGNATURE, ""), validate=True),
                   timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError):
        raise SignatureRefused("the SendGrid signature does not verify",
                               {SENDGRID_SIGNATURE: "invalid"}) from None
    _fresh(settings, timestamp, now)
    items = _json(body)
    if not isinstance(items, list):
        raise InvalidInput("SendGrid posts a JSON array of events", {"body": "not an array"})
    events = Events()
    for item in items:
        item = _as_dict(item, "event")
        name, email, event_id = item.get("event"), item.get("email"), item.get("sg_event_id")
        if name not in ("bounce", "spamreport") or not email or not event_id:
            events.ignored += 1
            continue
        status = find_status(str(item.get("status") or ""))
        if name == "spamreport":
            kind = BounceKind.COMPLAINT
        elif item.get("type") == "blocked":  # refused for now (reputation, content): soft
            kind = BounceKind.SOFT
        else:
            kind = classify(status, permanent=True) or BounceKind.SOFT
        events.reports.append(Report(kind=kind, key=f"sendgrid:{event_id}", source="sendgrid",
                                     email=str(email), status=status,
                                     reason=f"{name}: {item.get('reason') or ''}"[:2000]))
    return events


# -- Mailgun ------------------------------------------------------------------------------
# https://documentation.mailgun.com/docs/mailgun/user-manual/tracking-messages/#securing-webhooks
MAILGUN_FAILED, MAILGUN_COMPLAINED = "failed", "complained"  # its event names


def _mailgun(settings: Settings, headers, body: bytes, fetch: Fetch, now: datetime) -> Events:
    key = settings.bounces.mailgun_signing_key
    if key is None:
        raise _not_configured("mailgun", "mailgun_signing_key")
    payload = _as_dict(_json(body), "body")
    signature = _as_dict(payload.get("signature"), "signature")
    timestamp, token = str(signature.get("timestamp", "")), str(signature.get("token", ""))
    expected = hmac.new(key.get_secret_value().encode(), (timestamp + token).encode(),
                        hashlib.sha256).hexdigest()
    if not token or not hmac.compare_digest(expected, str(signature.get("signature", ""))):
        raise SignatureRefused("the Mailgun signature does not verify", {"signature": "invalid"})
    _fresh(settings, timestamp, now)
    event = _as_dict(payload.get("event-data"), "event-data")
    name, email, event_id = event.get("event"), event.get("recipient"), event.get("id")
    if name not in (MAILGUN_FAILED, MAILGUN_COMPLAINED) or not email or not event_id:
        return Events(ignored=1)
    token_of = verp_in(str((event.get("envelope") or {}).get("sender") or ""),
                       settings.bounce_address)
    if name == MAILGUN_COMPLAINED:
        return Events([Report(kind=BounceKind.COMPLAINT, key=f"mailgun:{event_id}",
                              source="mailgun", email=str(email), verp=token_of,
                              reason=f"mailgun: {name}")])
    status_info = event.get("delivery-status") or {}
    text = f"{status_info.get('code') or ''} {status_info.get('enhanced-code') or ''} " \
           f"{status_info.get('message') or status_info.get('description') or ''}"
    status = find_status(str(status_info.get("enhanced-code") or "")) or find_status(text)
    permanent = event.get("severity") == "permanent"
    kind = (classify(status, True) or BounceKind.HARD) if permanent else BounceKind.SOFT
    return Events([Report(kind=kind, key=f"mailgun:{event_id}", source="mailgun",
                          email=str(email), status=status, verp=token_of,
                          reason=f"{event.get('severity')}: {' '.join(text.split())}"[:2000])])


def https_getter(timeout: float, limit: int = 65536) -> Fetch:
    """GET an https URL (the SNS certificate, a SubscribeURL): no redirects, a size cap;
    requests' errors become Unavailable here, at the edge (SNS tries again later)."""

    def get(url: str) -> bytes:
        try:
            with requests.get(url, timeout=timeout, allow_redirects=False, stream=True) as answer:
                if answer.status_code != 200:
                    raise Unavailable(f"{urlsplit(url).hostname} answered {answer.status_code}")
                data = answer.raw.read(limit + 1, decode_content=True)
        except requests.RequestException as exc:
            raise Unavailable(f"cannot fetch from {urlsplit(url).hostname}: "
                              f"{type(exc).__name__}") from None
        if len(data) > limit:
            raise Unavailable(f"{urlsplit(url).hostname} sent more than {limit} bytes")
        return data

    return get

"""`POST /v1/bounces/{provider}`: bodies signed with each provider's documented scheme
reach the right reader; unsigned, tampered, stale or replayed ones change nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from distributor.api import create_app
from distributor.audience.lists import create_list
from distributor.audience.subscribers import add_subscriber
from distributor.states import SubscriptionStatus
from distributor.store import BounceEvent, Subscriber, Subscription
from tests.sns_peer import SNS

MAILGUN_KEY = "key-mailgun-signing-0123456789"
POSTMARK_USER, POSTMARK_PASSWORD = "postmark", "postmark-hook-password-1"
SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
SENDGRID_PUBLIC = base64.b64encode(SENDGRID_KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
READER, OTHER = "reader@example.org", "other@example.org"


@pytest.fixture()
def sns(tmp_path, monkeypatch):
    with SNS(tmp_path) as peer:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(peer.ca_file))  # trust the test CA
        yield peer


@pytest.fixture()
def hooks(tmp_path, make_settings, db, dispatcher, sns):
    config = tmp_path / "bounces.toml"
    config.write_text(f"""
[publisher]
name = "StratNews Test"
address = "1 Test Road, Delhi"

[bounces]
mailgun_signing_key = "{MAILGUN_KEY}"
postmark_user = "{POSTMARK_USER}"
postmark_password = "{POSTMARK_PASSWORD}"
sendgrid_public_key = "{SENDGRID_PUBLIC}"
ses_topic_arns = ["{sns.topic}"]
sns_cert_hosts = ['127\\.0\\.0\\.1']
""")
    settings = make_settings(CONFIG=str(config))
    create_list(db, "breaking", instant=True)
    for email in (READER, OTHER):
        add_subscriber(db, email, "breaking")
    with TestClient(create_app(settings, db, dispatcher), raise_server_exceptions=False) as client:
        client.db = db
        yield client


def status(client, email: str) -> str:
    with client.db.session() as session:
        return session.scalar(select(Subscription.status).join(
            Subscriber, Subscriber.id == Subscription.subscriber_id).where(Subscriber.email == email))


def events(client) -> int:
    with client.db.session() as session:
        return session.scalar(select(func.count()).select_from(BounceEvent))


def untouched(client) -> bool:
    return events(client) == 0 and status(client, READER) == SubscriptionStatus.ACTIVE


# -- Mailgun: HMAC-SHA256(signing key, timestamp + token), hex --------------------------
# https://documentation.mailgun.com/docs/mailgun/user-manual/tracking-messages/#securing-webhooks
# (event-data: "failed" with severity permanent|temporary, "complained"; delivery-status)

def mailgun_body(event: dict, timestamp: int | None = None, key: str = MAILGUN_KEY) -> bytes:
    timestamp = timestamp or int(time.time())
    token = uuid.uuid4().hex
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return json.dumps({"signature": {"timestamp": str(timestamp), "token": token,
                                     "signature": signature}, "event-data": event}).encode()


MAILGUN_FAILED = {"event": "failed", "severity": "permanent", "recipient": READER,
                  "id": "G9Bn5sl1TC6nu79C8C0bwg",
                  "delivery-status": {"code": 550, "enhanced-code": "5.1.1",
                                      "message": "5.1.1 The email account does not exist."}}


def test_mailgun_signed_failure_bounces_the_reader_once(hooks):
    body = mailgun_body(MAILGUN_FAILED)
    first = hooks.post("/v1/bounces/mailgun", content=body)
    assert first.status_code == 200 and first.json()["recorded"] == 1
    assert status(hooks, READER) == SubscriptionStatus.BOUNCED
    replay = hooks.post("/v1/bounces/mailgun", content=body)  # the same request again
    assert replay.status_code == 200 and replay.json()["duplicate"] == 1
    assert events(hooks) == 1


def test_mailgun_wrong_key_or_stale_timestamp_is_refused(hooks):
    forged = hooks.post("/v1/bounces/mailgun", content=mailgun_body(MAILGUN_FAILED, key="guess"))
    stale = hooks.post("/v1/bounces/mailgun",
                       content=mailgun_body(MAILGUN_FAILED, timestamp=int(time.time()) - 3600))
    unsigned = hooks.post("/v1/bounces/mailgun", json={"event-data": MAILGUN_FAILED})
    assert [r.status_code for r in (forged, stale, unsigned)] == [401, 401, 422]
    assert "signature" in forged.json()["fields"] and "timestamp" in stale.json()["fields"]
    assert MAILGUN_KEY not in forged.text
    assert untouched(hooks)


def test_mailgun_temporary_failure_only_counts(hooks):
    event = {**MAILGUN_FAILED, "severity": "temporary", "id": "t1",
             "delivery-status": {"code": 452, "message": "4.2.2 mailbox full"}}
    assert hooks.post("/v1/bounces/mailgun", content=mailgun_body(event)).json()["recorded"] == 1
    assert status(hooks, READER) == SubscriptionStatus.ACTIVE


# -- Postmark: basic auth in the webhook URL ---------------------------------------------
# https://postmarkapp.com/developer/webhooks/webhooks-overview (basic auth, no signature);
# bodies as in .../bounce-webhook and .../spam-complaint-webhook (RecordType, Type, TypeCode)

def postmark(client, body: dict, password: str = POSTMARK_PASSWORD):
    return client.post("/v1/bounces/postmark", json=body, auth=(POSTMARK_USER, password))


def test_postmark_hard_bounce_and_spam_complaint(hooks):
    bounce = {"RecordType": "Bounce", "ID": 4323372036854775807, "Type": "HardBounce",
              "TypeCode": 1, "Email": READER, "Details": "smtp;550 5.1.1 user unknown"}
    complaint = {"RecordType": "SpamComplaint", "ID": 42, "Type": "SpamComplaint",
                 "TypeCode": 512, "Email": OTHER}
    assert postmark(hooks, bounce).json()["recorded"] == 1
    assert postmark(hooks, complaint).json()["recorded"] == 1
    assert status(hooks, READER) == SubscriptionStatus.BOUNCED
    assert status(hooks, OTHER) == SubscriptionStatus.COMPLAINED


def test_postmark_without_the_credentials_is_refused(hooks):
    bounce = {"RecordType": "Bounce", "ID": 1, "Type": "HardBounce", "Email": READER}
    assert postmark(hooks, bounce, password="wrong").status_code == 401
    assert hooks.post("/v1/bounces/postmark", json=bounce).status_code == 401
    assert untouched(hooks)


# -- SendGrid: ECDSA P-256 over timestamp + body, base64 DER signature ---------------------
# https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features
# (a JSON array of events; bounce with type bounce|blocked and status, spamreport)

def sendgrid(client, items: list, timestamp: int | None = None, tamper: bool = False):
    body = json.dumps(items).encode()
    timestamp = str(timestamp or int(time.time()))
    signature = SENDGRID_KEY.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    if tamper:
        body = body.replace(READER.encode(), OTHER.encode())
    return client.post("/v1/bounces/sendgrid", content=body, headers={
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp})


def test_sendgrid_signed_events_reach_their_readers(hooks):
    answer = sendgrid(hooks, [
        {"email": READER, "event": "bounce", "type": "bounce", "status": "5.1.1",
         "reason": "550 5.1.1 unknown", "sg_event_id": "ev1", "timestamp": int(time.time())},
        {"email": OTHER, "event": "spamreport", "sg_event_id": "ev2"},
        {"email": OTHER, "event": "delivered", "sg_event_id": "ev3"}])
    assert answer.status_code == 200
    assert (answer.json()["recorded"], answer.json()["ignored"]) == (2, 1)
    assert status(hooks, READER) == SubscriptionStatus.BOUNCED
    assert status(hooks, OTHER) == SubscriptionStatus.COMPLAINED


def test_sendgrid_tampered_or_stale_is_refused(hooks):
    item = [{"email": READER, "event": "spamreport", "sg_event_id": "x"}]
    assert sendgrid(hooks, item, tamper=True).status_code == 401
    assert sendgrid(hooks, item, timestamp=int(time.time()) - 3600).status_code == 401
    assert untouched(hooks)


# -- Amazon SES through SNS (tests/sns_peer.py signs as the SNS documentation says) --------
# https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html (bounce, complaint)

SES_BOUNCE = {"notificationType": "Bounce",
              "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
                         "feedbackId": "0100017-feedback-1",
                         "bouncedRecipients": [{"emailAddress": READER, "action": "failed",
                                                "status": "5.1.1",
                                                "diagnosticCode": "smtp; 550 5.1.1 user unknown"}]},
              "mail": {"messageId": "0100017-message-1", "source": "news@news.example.org"}}


@pytest.mark.parametrize("version", ["1", "2"])
def test_ses_bounce_through_sns_is_verified_and_applied(hooks, sns, version):
    answer = hooks.post("/v1/bounces/ses", json=sns.notification(SES_BOUNCE, version))
    assert answer.status_code == 200, answer.text
    assert answer.json()["recorded"] == 1
    assert status(hooks, READER) == SubscriptionStatus.BOUNCED


def test_ses_complaint(hooks, sns):
    complaint = {"notificationType": "Complaint", "mail": {"source": "news@news.example.org"},
                 "complaint": {"feedbackId": "c-1", "complaintFeedbackType": "abuse",
                               "complainedRecipients": [{"emailAddress": OTHER}]}}
    assert hooks.post("/v1/bounces/ses", json=sns.notification(complaint)).json()["recorded"] == 1
    assert status(hooks, OTHER) == SubscriptionStatus.COMPLAINED


def test_ses_altered_foreign_or_off_host_messages_are_refused(hooks, sns):
    altered = sns.notification(SES_BOUNCE)
    altered["Message"] = altered["Message"].replace("Permanent", "Transient")
    foreign = sns.notification(SES_BOUNCE, TopicArn="arn:aws:sns:us-east-1:999:other")
    off_host = sns.sign({**sns.notification(SES_BOUNCE)},
                        cert_url="https://sns.evil.example.org/cert.pem")
    for body in (altered, foreign, off_host):  # off host: 401, not a 503 from trying to fetch
        assert hooks.post("/v1/bounces/ses", json=body).status_code == 401
    assert untouched(hooks)


def test_ses_subscription_confirmation_visits_the_subscribe_url(hooks, sns):
    confirmation = sns.confirmation()
    answer = hooks.post("/v1/bounces/ses", json=confirmation)
    assert answer.json() == {"subscribed": True}
    assert sns.visits == [confirmation["SubscribeURL"].removeprefix(sns.base)]


def test_an_unknown_or_unconfigured_provider_is_404(hooks, client):
    assert hooks.post("/v1/bounces/sparkpost", json={}).status_code == 404
    assert client.post("/v1/bounces/mailgun", content=mailgun_body(MAILGUN_FAILED)).status_code == 404
    assert hooks.post("/v1/bounces/ses", content=b"not json").status_code == 422

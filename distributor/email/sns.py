"""Amazon SNS messages: is this one really from SNS? (Amazon SES sends its bounce and
complaint notifications through an SNS topic.)

https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html:
the certificate comes from SigningCertURL, which must be https on an SNS host
(`[bounces] sns_cert_hosts`) and a .pem; SignatureVersion 1 is SHA1withRSA, 2 is
SHA256withRSA, over "Name\nvalue\n" of the fields the message type signs.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from distributor.config import Settings
from distributor.errors import InvalidInput, SignatureRefused

Fetch = Callable[[str], bytes]  # GET a URL (https only): the body, or Unavailable
SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token",
                                 "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token",
                                "TopicArn", "Type"),
}
_certificates: dict[str, x509.Certificate] = {}  # by URL: SNS rotates them rarely


def sns_url(settings: Settings, url: Any, what: str) -> str:
    """`url` when it is https on an SNS host (`sns_cert_hosts`); else SignatureRefused."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme != "https" or not parts.hostname or not any(
            re.fullmatch(pattern, parts.hostname) for pattern in settings.bounces.sns_cert_hosts):
        raise SignatureRefused(f"{what} is not an https URL on an SNS host", {what: "refused"})
    return url


def _certificate(settings: Settings, url: Any, fetch: Fetch, now: datetime) -> x509.Certificate:
    url = sns_url(settings, url, "SigningCertURL")
    if not urlsplit(url).path.endswith(".pem"):
        raise SignatureRefused("SigningCertURL is not a .pem file", {"SigningCertURL": "refused"})
    certificate = _certificates.get(url)
    if certificate is None:
        try:
            certificate = x509.load_pem_x509_certificate(fetch(url))
        except ValueError:
            raise SignatureRefused("SigningCertURL holds no certificate",
                                   {"SigningCertURL": "no certificate"}) from None
        if len(_certificates) > 32:
            _certificates.clear()
        _certificates[url] = certificate
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise SignatureRefused("the SNS signing certificate is not valid now",
                               {"SigningCertURL": "out of date"})
    return certificate


def verified_sns_message(settings: Settings, message: dict, fetch: Fetch, now: datetime) -> dict:
    """The message, once its topic, certificate and signature check out; else
    SignatureRefused (InvalidInput when it is no SNS message at all)."""
    kind = message.get("Type")
    if kind not in SIGNED_FIELDS:
        raise InvalidInput("Type: not an SNS message type", {"Type": "unknown"})
    if message.get("TopicArn") not in settings.bounces.ses_topic_arns:
        raise SignatureRefused("TopicArn is not one of [bounces] ses_topic_arns",
                               {"TopicArn": "not ours"})
    version = str(message.get("SignatureVersion"))
    if version not in ("1", "2"):
        raise SignatureRefused("SignatureVersion: 1 or 2", {"SignatureVersion": "unknown"})
    text = "".join(f"{name}\n{message[name]}\n" for name in SIGNED_FIELDS[kind]
                   if name in message and (name != "Subject" or message[name] is not None))
    key = _certificate(settings, message.get("SigningCertURL"), fetch, now).public_key()
    try:
        if not isinstance(key, rsa.RSAPublicKey):
            raise InvalidSignature
        key.verify(base64.b64decode(str(message.get("Signature", "")), validate=True),
                   text.encode(), padding.PKCS1v15(),
                   hashes.SHA1() if version == "1" else hashes.SHA256())  # noqa: S303 (SNS v1)
    except (InvalidSignature, binascii.Error, ValueError):
        raise SignatureRefused("the SNS signature does not verify", {"Signature": "invalid"}) from None
    return message

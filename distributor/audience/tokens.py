"""Signed tokens for unsubscribe, confirm and manage (preference centre) links, and
for tracked links (which edition and article; which reader, on per-subscriber lists).

A token names the subscriber, the list and a digest of the address, so it
cannot be altered, forged without the secret key, or used for another person
(even one who later gets a reused id)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from functools import lru_cache

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode

from distributor.errors import InvalidInput

CONFIRM_MAX_AGE = 7 * 86400


_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class _LinkSigner(URLSafeSerializer):
    """URLSafeSerializer, cheaper per link (a send signs two or three per reader): the
    key derived, the HMAC keyed and the JSON encoder made once, not per call, and no
    zlib attempt, which never shortens a payload this small (a few ids and a digest
    prefix). Its tokens are the very ones URLSafeSerializer makes, and read back by it
    (tests/audience/test_tokens.py)."""

    def __init__(self, secret: str, salt: str):
        super().__init__(secret, salt=salt)
        signer = self.make_signer(salt)
        self._separator = signer.sep
        self._mac = hmac.new(signer.derive_key(), digestmod=signer.digest_method)

    def dumps(self, obj) -> str:
        payload = base64_encode(_COMPACT_JSON(obj).encode())
        mac = self._mac.copy()
        mac.update(payload)
        return (payload + self._separator + base64_encode(mac.digest())).decode()


@lru_cache(maxsize=32)
def _signer(secret: str, salt: str) -> _LinkSigner:
    """Built once per secret and purpose: each email signs two or three links per reader."""
    return _LinkSigner(secret, salt)


@lru_cache(maxsize=1024)  # a send asks three times per reader: suppression and two links
def email_digest(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def unsubscribe_token(secret: str, subscriber_id: int, list_id: int, email: str) -> str:
    return _signer(secret, "unsubscribe").dumps([subscriber_id, list_id,
                                                 email_digest(email)[:16]])


def confirm_token(secret: str, subscriber_id: int, list_id: int, email: str) -> str:
    serializer = URLSafeTimedSerializer(secret, salt="confirm")
    return serializer.dumps([subscriber_id, list_id, email_digest(email)[:16]])


def manage_token(secret: str, subscriber_id: int, email: str) -> str:
    """The key to one reader's preference centre (every list they are on). It does not
    expire: it sits in the footer of every email they keep."""
    return _signer(secret, "manage").dumps([subscriber_id, email_digest(email)[:16]])


def read_manage_token(secret: str, token: str) -> tuple[int, str]:
    """(subscriber_id, address digest prefix) or InvalidInput."""
    try:
        subscriber_id, digest = URLSafeSerializer(secret, salt="manage").loads(token)
        return int(subscriber_id), str(digest)
    except (BadSignature, ValueError, TypeError):
        raise InvalidInput("this link is not valid", {"token": "invalid"}) from None


def click_token(secret: str, send_id: int, article_id: int, channel: str = "email") -> str:
    """Names an article of an edition, never a URL: the redirect can only lead to an
    article that edition carried."""
    return _signer(secret, "click").dumps([send_id, article_id, channel])


def read_click_token(secret: str, token: str) -> tuple[int, int, str]:
    try:
        send_id, article_id, channel = URLSafeSerializer(secret, salt="click").loads(token)
        return int(send_id), int(article_id), str(channel)
    except (BadSignature, ValueError, TypeError):
        raise InvalidInput("this link is not valid", {"token": "invalid"}) from None


def reader_token(secret: str, subscriber_id: int) -> str:
    return _signer(secret, "reader").dumps(subscriber_id)


def read_reader_token(secret: str, token: str) -> int | None:
    """The subscriber a reader tag names; None when it is not ours (the click still
    counts, for nobody)."""
    try:
        return int(URLSafeSerializer(secret, salt="reader").loads(token))
    except (BadSignature, ValueError, TypeError):
        return None


def read_token(secret: str, token: str, purpose: str) -> tuple[int, int, str]:
    """(subscriber_id, list_id, address digest prefix) or InvalidInput."""
    try:
        if purpose == "confirm":
            payload = URLSafeTimedSerializer(secret, salt="confirm").loads(
                token, max_age=CONFIRM_MAX_AGE)
        else:
            payload = URLSafeSerializer(secret, salt=purpose).loads(token)
    except SignatureExpired:
        raise InvalidInput("this link has expired", {"token": "expired"}) from None
    except BadSignature:
        raise InvalidInput("this link is not valid", {"token": "invalid"}) from None
    subscriber_id, list_id, digest = payload
    return int(subscriber_id), int(list_id), str(digest)


# VERP (return path per recipient): bounces+<send>-<subscriber>-<mac>@domain. Lower-case
# hex only, because mail systems may change the case of a local part on the way back.
_VERP = re.compile(r"^(\d{1,19})-(\d{1,19})-([0-9a-f]{20})$")


def _verp_mac(secret: str, send_id: int, subscriber_id: int, email: str) -> str:
    message = f"verp:{send_id}:{subscriber_id}:{email_digest(email)}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:20]


def verp_token(secret: str, send_id: int, subscriber_id: int, email: str) -> str:
    return f"{send_id}-{subscriber_id}-{_verp_mac(secret, send_id, subscriber_id, email)}"


def read_verp_token(token: str) -> tuple[int, int, str] | None:
    """(send_id, subscriber_id, mac) of a token that has the shape of one, else None.
    The mac is checked against the subscriber's address by `verp_matches`."""
    match = _VERP.match(token.strip().lower())
    return (int(match[1]), int(match[2]), match[3]) if match else None


def verp_matches(secret: str, send_id: int, subscriber_id: int, email: str, mac: str) -> bool:
    return hmac.compare_digest(_verp_mac(secret, send_id, subscriber_id, email), mac)

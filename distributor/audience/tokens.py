"""Signed tokens for unsubscribe and confirm links.

A token names the subscriber, the list and a digest of the address, so it
cannot be altered, forged without the secret key, or used for another person
(even one who later gets a reused id)."""

from __future__ import annotations

import functools
import hashlib

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

from distributor.errors import InvalidInput

CONFIRM_MAX_AGE = 7 * 86400


def email_digest(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


@functools.lru_cache(maxsize=4)
def _unsubscribe_serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="unsubscribe")  # built once: a token per email


def unsubscribe_token(secret: str, subscriber_id: int, list_id: int, email: str) -> str:
    return _unsubscribe_serializer(secret).dumps(
        [subscriber_id, list_id, email_digest(email)[:16]])


def confirm_token(secret: str, subscriber_id: int, list_id: int, email: str) -> str:
    serializer = URLSafeTimedSerializer(secret, salt="confirm")
    return serializer.dumps([subscriber_id, list_id, email_digest(email)[:16]])


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

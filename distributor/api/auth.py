"""Admin API auth: a Bearer token compared in constant time. The publish hook also
accepts a Standard Webhooks signature, refusing old timestamps and replays."""

from __future__ import annotations

import hmac

import redis
from fastapi import HTTPException, Request

from distributor.channels.adapters.webhook import verify
from distributor.errors import Unavailable

UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


def bearer_ok(request: Request) -> bool:
    token = request.app.state.settings.api_token
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    given = given.strip()
    if token is None or scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.encode(), token.get_secret_value().encode())


def require_token(request: Request) -> None:
    """Dependency for every /v1 admin endpoint."""
    if not bearer_ok(request):
        raise HTTPException(401, "missing or wrong API token", headers=UNAUTHORIZED)


class RedisReplayGuard:
    """Remembers webhook-ids for ten minutes; a second delivery of one is refused."""

    def __init__(self, client: redis.Redis, prefix: str = "", ttl: int = 600):
        self.client = client
        self.prefix = prefix
        self.ttl = ttl

    def first_time(self, message_id: str) -> bool:
        try:
            return bool(self.client.set(f"{self.prefix}distributor:webhook-id:{message_id}", 1,
                                        nx=True, ex=self.ttl))
        except redis.RedisError as exc:
            raise Unavailable(f"broker does not answer: {type(exc).__name__}") from None


def check_publish_auth(request: Request, body: bytes) -> None:
    """Bearer token, or a valid Standard Webhooks signature seen for the first time."""
    if bearer_ok(request):
        return
    secret = request.app.state.settings.webhook_secret
    if secret is None or "webhook-signature" not in request.headers:
        raise HTTPException(401, "missing or wrong API token", headers=UNAUTHORIZED)
    try:
        message_id = verify(secret.get_secret_value(), dict(request.headers), body)
    except ValueError as exc:
        raise HTTPException(401, f"webhook signature refused: {exc}") from None
    if not request.app.state.replay_guard.first_time(message_id):
        raise HTTPException(409, "webhook-id already received (replay refused)")

"""Admin API auth: a Bearer token, DISTRIBUTOR_API_TOKEN (admin, compared in constant
time) or a named token whose role allows the request: viewer reads (GET), admin acts,
publish only publishes. The publish hook also accepts a Standard Webhooks signature,
refusing old timestamps and replays."""

from __future__ import annotations

import redis
from fastapi import HTTPException, Request

from distributor.api.tokens import Identity, identify
from distributor.channels.adapters.webhook import verify
from distributor.errors import Unavailable
from distributor.inbound.ghost_signature import HEADER as GHOST_HEADER
from distributor.inbound.ghost_signature import verify_ghost
from distributor.mutations import disabled
from distributor.states import Role

UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}
READING = ("GET", "HEAD")


def bearer_identity(request: Request) -> Identity | None:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    state = request.app.state
    identity = identify(state.db, state.settings, given)
    if identity is not None:
        request.state.identity = identity  # for the audit log
    return identity


def require_token(request: Request) -> None:
    """Dependency for every /v1 admin endpoint: viewer or admin to read, admin to act."""
    identity = bearer_identity(request)
    if identity is None:
        raise HTTPException(401, "missing or wrong API token", headers=UNAUTHORIZED)
    wanted = Role.VIEWER if request.method in READING else Role.ADMIN
    if not identity.may(wanted):
        raise HTTPException(403, f"a {identity.role} token may not do this")


class RedisReplayGuard:
    """Remembers webhook-ids for ten minutes; a second delivery of one is refused."""

    def __init__(self, client: redis.Redis, prefix: str = "", ttl: int = 600):
        self.client = client
        self.prefix = prefix
        self.ttl = ttl

    def first_time(self, message_id: str) -> bool:
        if disabled("replay-cache"):
            return True
        try:
            return bool(self.client.set(f"{self.prefix}distributor:webhook-id:{message_id}", 1,
                                        nx=True, ex=self.ttl))
        except redis.RedisError as exc:
            raise Unavailable(f"broker does not answer: {type(exc).__name__}") from None


def check_publish_auth(request: Request, body: bytes) -> None:
    """Bearer token, a Ghost signature (X-Ghost-Signature), or a valid Standard
    Webhooks signature seen for the first time."""
    identity = bearer_identity(request)
    if identity is not None:
        if not identity.may(Role.PUBLISH):
            raise HTTPException(403, f"a {identity.role} token may not publish")
        return
    secret = request.app.state.settings.webhook_secret
    if secret is not None and GHOST_HEADER in request.headers:
        try:
            verify_ghost(secret.get_secret_value(), request.headers[GHOST_HEADER], body)
        except ValueError as exc:
            raise HTTPException(401, f"Ghost signature refused: {exc}") from None
        request.state.identity = Identity("ghost-signature", Role.PUBLISH, "")
        return
    if secret is None or "webhook-signature" not in request.headers:
        raise HTTPException(401, "missing or wrong API token", headers=UNAUTHORIZED)
    try:
        message_id = verify(secret.get_secret_value(), dict(request.headers), body)
    except ValueError as exc:
        raise HTTPException(401, f"webhook signature refused: {exc}") from None
    if not request.app.state.replay_guard.first_time(message_id):
        raise HTTPException(409, "webhook-id already received (replay refused)")
    request.state.identity = Identity("webhook-signature", Role.PUBLISH, "")

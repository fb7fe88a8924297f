"""Who is asking: DISTRIBUTOR_API_TOKEN (admin) or a named token with a role, stored
hashed; and dashboard sessions, stored server side so that logout revokes them.

A token is 32 random bytes, so one SHA-256 is the right hash (nothing to stretch),
and it lets a token be found by its hash in one indexed read."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from distributor.config import Settings
from distributor.errors import InvalidInput, NotFound
from distributor.states import Role
from distributor.store import ApiToken, DashboardSession, Database

TOKEN_PREFIX = "dst_"
ENV_TOKEN = ""  # `who` for DISTRIBUTOR_API_TOKEN


@dataclass(frozen=True)
class Identity:
    who: str  # the token's name; ENV_TOKEN for DISTRIBUTOR_API_TOKEN
    role: Role
    credential: str  # a fingerprint of the credential, never the credential

    def may(self, role: Role) -> bool:
        """Admin may do everything; viewer only view; publish only publish."""
        return self.role == Role.ADMIN or self.role == role


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _env_fingerprint(settings: Settings) -> str | None:
    if settings.api_token is None:
        return None
    return hmac.new(settings.secret.encode(), settings.api_token.get_secret_value().encode(),
                    hashlib.sha256).hexdigest()


def identify(db: Database, settings: Settings, given: str) -> Identity | None:
    """The identity a presented token proves, or None."""
    given = given.strip()
    if not given:
        return None
    if settings.api_token is not None and hmac.compare_digest(
            given.encode(), settings.api_token.get_secret_value().encode()):
        return Identity(ENV_TOKEN, Role.ADMIN, _env_fingerprint(settings))
    if not given.startswith(TOKEN_PREFIX):
        return None
    digest = _sha256(given)
    with db.session() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
        if row is None:
            return None
        row.last_used_at = datetime.now(UTC)
        return Identity(row.name, Role(row.role), row.token_hash)


def create_token(db: Database, name: str, role: str) -> str:
    """Store a new token's hash under `name`; return the token (shown once)."""
    name = name.strip()
    if not name or len(name) > 100 or not all(ch.isalnum() or ch in "-_." for ch in name):
        raise InvalidInput("invalid token name", {"name": "letters, digits, - _ . (1-100)"})
    try:
        role = Role(role)
    except ValueError:
        raise InvalidInput("invalid role", {"role": f"one of {', '.join(Role)}"}) from None
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.session() as session:
        if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
            raise InvalidInput(f"a token named {name!r} exists",
                               {"name": "exists; revoke it first"})
        session.add(ApiToken(name=name, role=role, token_hash=_sha256(token)))
    return token


def list_tokens(db: Database) -> list[dict]:
    with db.session() as session:
        rows = session.scalars(select(ApiToken).order_by(ApiToken.name)).all()
        return [{"name": r.name, "role": r.role, "created_at": r.created_at.isoformat(),
                 "last_used_at": r.last_used_at.isoformat() if r.last_used_at else None}
                for r in rows]


def revoke_token(db: Database, name: str) -> None:
    """Delete the token; its dashboard sessions die with it."""
    with db.session() as session:
        if not session.execute(delete(ApiToken).where(ApiToken.name == name)).rowcount:
            raise NotFound(f"no token named {name!r}", {"name": "not found"})
        session.execute(delete(DashboardSession).where(DashboardSession.who == name))


def start_session(db: Database, identity: Identity, seconds: int) -> str:
    """A new dashboard session; returns the random id that goes into the cookie."""
    sid = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with db.session() as session:
        session.execute(delete(DashboardSession).where(DashboardSession.expires_at < now))
        session.add(DashboardSession(sid_hash=_sha256(sid), who=identity.who, role=identity.role,
                                     credential=identity.credential,
                                     expires_at=now + timedelta(seconds=seconds)))
    return sid


def session_identity(db: Database, settings: Settings, sid: str) -> Identity | None:
    """Who holds this session, if it is live and its credential is still valid."""
    if not sid or len(sid) > 200:
        return None
    with db.session() as session:
        row = session.scalar(select(DashboardSession).where(
            DashboardSession.sid_hash == _sha256(sid),
            DashboardSession.expires_at > datetime.now(UTC)))
        if row is None:
            return None
        if row.who == ENV_TOKEN:
            valid = hmac.compare_digest(row.credential, _env_fingerprint(settings) or "")
        else:
            valid = session.scalar(select(ApiToken.id).where(
                ApiToken.name == row.who, ApiToken.token_hash == row.credential)) is not None
        return Identity(row.who, Role(row.role), row.credential) if valid else None


def end_session(db: Database, sid: str) -> None:
    with db.session() as session:
        session.execute(delete(DashboardSession).where(DashboardSession.sid_hash == _sha256(sid)))

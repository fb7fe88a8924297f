"""The audit log: every admin action and sign-in attempt, with who (the token's name,
or DISTRIBUTOR_API_TOKEN), what (method and path), when, from where, and the answer.

An ASGI middleware records each request that may change something (not GET/HEAD)
on /v1/*, /dashboard/*, /login and /logout, after it was answered; the auth code
leaves the caller's identity in the request state. Requests that prove no identity
are left out, except sign-in attempts. The CLI records its own token
commands. A failed write is logged, never turned into a failed request."""

from __future__ import annotations

import getpass
import logging

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from distributor.store import AuditEntry, Database

log = logging.getLogger("distributor.audit")
AUDITED = ("/v1/", "/dashboard/", "/login", "/logout")
READING = ("GET", "HEAD", "OPTIONS")
ENV_TOKEN_NAME = "DISTRIBUTOR_API_TOKEN"
UNKNOWN = "?"


def record(db: Database, who: str, role: str | None, action: str, status: int | None,
           source: str) -> None:
    try:
        with db.session() as session:
            session.add(AuditEntry(who=who[:100], role=role, action=action[:300], status=status,
                                   source=source[:100]))
    except SQLAlchemyError as exc:
        log.warning("audit entry not written (%s): %s by %s", type(exc).__name__, action, who)


def record_cli(db: Database, action: str) -> None:
    """A CLI command that changes access (tokens create/revoke)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = UNKNOWN
    record(db, f"cli:{user}", None, action, None, "cli")


def recent(db: Database, limit: int = 50) -> list[dict]:
    with db.session() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit))
        return [{"at": r.at.isoformat(), "who": r.who, "role": r.role, "action": r.action,
                 "status": r.status, "source": r.source} for r in rows]


class AuditTrail:
    """ASGI middleware: one audit entry per answered request that may act."""

    def __init__(self, app, db: Database):
        self.app = app
        self.db = db

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(AUDITED) or scope.get("method") in READING:
            return await self.app(scope, receive, send)
        answer: dict = {}

        async def noting(message):
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting)
        finally:
            await self._record(scope, path, answer.get("status"))

    async def _record(self, scope, path: str, status: int | None) -> None:
        identity = (scope.get("state") or {}).get("identity")
        # Refused requests without any credential are not written (anyone could fill
        # the table); sign-in attempts are, being throttled per address.
        if identity is None and path != "/login":
            return
        who = UNKNOWN if identity is None else (identity.who or ENV_TOKEN_NAME)
        role = None if identity is None else str(identity.role)
        client = scope.get("client")
        await run_in_threadpool(record, self.db, who, role, f"{scope['method']} {path}", status,
                                client[0] if client else UNKNOWN)

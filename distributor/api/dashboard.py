"""The dashboard at `/`: server-rendered pages, no build step, refreshing itself.

Access needs DISTRIBUTOR_API_TOKEN or a named viewer/admin token: the login form
(throttled per client address) checks it and sets an HttpOnly, SameSite=Strict
cookie holding only a random session id. The session lives in the database, valid
12 hours, void when its token changes or is revoked, and deleted by logout.
Without it: 401 and the login page, never data. Viewers see; admins act. Buttons
POST forms; cross-site POSTs are refused by the cookie's SameSite rule and by an
Origin check (the Referer when a browser sends no Origin)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from distributor.api.audit import recent
from distributor.api.tokens import Identity, end_session, identify, session_identity, start_session
from distributor.email.digests import send_now
from distributor.errors import DistributorError, Unavailable
from distributor.monitor import snapshot
from distributor.monitor.articles import latest_articles
from distributor.monitor.failures import list_failures, retry
from distributor.states import Role, SendState
from distributor.templates import environment

router = APIRouter(include_in_schema=False)
log = logging.getLogger("distributor.dashboard")
COOKIE = "distributor_session"
FLASH = "distributor_flash"
SESSION_SECONDS = 12 * 3600
REFRESH_SECONDS = 5
LOGINS_PER_MINUTE = 5  # per client address: guessing a token is hopeless at this pace


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.settings.secret, salt="distributor-dashboard")


def signed_in(request: Request) -> Identity | None:
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    state = request.app.state
    identity = session_identity(state.db, state.settings, cookie)
    if identity is not None:
        request.state.identity = identity  # for the audit log
    return identity


def logged_in(request: Request) -> bool:
    return signed_in(request) is not None


def same_origin(request: Request) -> bool:
    """The Origin header names this host; without one, the Referer does. A request with
    neither (not a browser's cross-site POST) rests on the SameSite=Strict cookie."""
    source = request.headers.get("origin")
    if source is None:
        source = request.headers.get("referer")
        if source is None:
            return True
    if source == "null":
        return False
    try:
        return urlsplit(source).netloc == request.headers.get("host", "")
    except ValueError:
        return False


def _login_allowed(request: Request) -> bool:
    ip = request.client.host if request.client else "unknown"
    try:
        return request.app.state.limiter.take(f"login:{ip}", LOGINS_PER_MINUTE, 60,
                                              burst=LOGINS_PER_MINUTE) == 0
    except Unavailable:
        # Sign-in stays possible while Redis is down (the dashboard says so); guesses
        # are then only as slow as the login itself.
        log.warning("dashboard login throttle unavailable: the broker does not answer")
        return True


def _ago(value: str | None) -> str:
    if not value:
        return "never"
    seconds = (datetime.now(UTC) - datetime.fromisoformat(value)).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        text = f"{seconds:.0f} s"
    elif seconds < 5400:
        text = f"{seconds / 60:.0f} min"
    elif seconds < 172800:
        text = f"{seconds / 3600:.0f} h"
    else:
        text = f"{seconds / 86400:.0f} days"
    return f"in {text}" if future else f"{text} ago"


def _render(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    settings = request.app.state.settings
    env = environment(settings.templates_dir)
    env.filters.setdefault("ago", _ago)
    html = env.get_template(f"dashboard/{template}").render(
        publisher=settings.publisher, refresh=REFRESH_SECONDS, **context)
    return HTMLResponse(html, status, headers={"Cache-Control": "no-store",
                                               "X-Frame-Options": "DENY",
                                               "Referrer-Policy": "same-origin"})


def _login_page(request: Request, status: int, error: str | None = None) -> HTMLResponse:
    configured = True  # named tokens may exist even without DISTRIBUTOR_API_TOKEN
    return _render(request, "login.html.j2", status, error=error, configured=configured,
                   title="Sign in")


def _back(request: Request, note: str, ok: bool = True) -> RedirectResponse:
    """Back to the dashboard, with a one-time note in a signed cookie."""
    response = RedirectResponse("/", 303)
    response.set_cookie(FLASH, _serializer(request).dumps(["ok" if ok else "error", note[:300]]),
                        max_age=60, httponly=True, samesite="strict", secure=_secure(request))
    return response


def _flash(request: Request) -> dict | None:
    raw = request.cookies.get(FLASH)
    if not raw:
        return None
    try:
        kind, text = _serializer(request).loads(raw, max_age=60)
    except (BadSignature, ValueError, TypeError):
        return None
    return {"kind": kind, "text": text}


def dashboard_data(request: Request) -> dict:

    state = request.app.state
    data = snapshot(state.db, getattr(state.dispatcher, "app", None), state.settings)
    data["articles"] = latest_articles(state.db)
    data["failures"] = list_failures(state.db, limit=50)
    data["audit"] = recent(state.db, limit=20)
    return data


@router.get("/", response_class=HTMLResponse)
async def index(request: Request) -> Response:
    identity = await run_in_threadpool(signed_in, request)
    if identity is None:
        return _login_page(request, 401)
    data = await run_in_threadpool(dashboard_data, request)
    data["can_act"] = identity.may(Role.ADMIN)  # viewers see no buttons
    data["can_send_digest"] = data["can_act"]
    flash = _flash(request)
    response = _render(request, "index.html.j2", title="Dashboard", data=data, flash=flash)
    if FLASH in request.cookies:
        response.delete_cookie(FLASH)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:  # sync: FastAPI runs it in the threadpool
    if logged_in(request):
        return RedirectResponse("/", 303)
    return _login_page(request, 200)


def _secure(request: Request) -> bool:
    # Behind a TLS proxy the scheme seen here may be http: a request for the public
    # https URL's host gets Secure cookies all the same.
    public = urlsplit(request.app.state.settings.public_url)
    return request.url.scheme == "https" or (
        public.scheme == "https" and public.netloc == request.headers.get("host"))


@router.post("/login")
def login(request: Request, token: str = Form("")) -> Response:
    where = request.client.host if request.client else "?"
    if not _login_allowed(request):
        log.warning("dashboard login throttled for %s", where)
        return _login_page(request, 429, error="Too many attempts; wait a minute.")
    state = request.app.state
    identity = identify(state.db, state.settings, token) if same_origin(request) else None
    if identity is None or not identity.may(Role.VIEWER):
        log.warning("dashboard login refused from %s", where)
        return _login_page(request, 401, error="That token is not right.")
    request.state.identity = identity
    sid = start_session(state.db, identity, SESSION_SECONDS)
    log.info("dashboard login by %s (%s) from %s", identity.who or "DISTRIBUTOR_API_TOKEN",
             identity.role, where)
    response = RedirectResponse("/", 303)
    response.set_cookie(COOKIE, sid, max_age=SESSION_SECONDS, httponly=True, samesite="strict",
                        secure=_secure(request), path="/")
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    if not same_origin(request):
        return HTMLResponse("cross-site request refused", 403)
    cookie = request.cookies.get(COOKIE)
    if cookie:
        signed_in(request)  # who is leaving, for the audit log
        end_session(request.app.state.db, cookie)  # the cookie is void from now on
    response = RedirectResponse("/login", 303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _guard(request: Request) -> Response | None:
    identity = signed_in(request)
    if identity is None:
        return _login_page(request, 401)
    if not same_origin(request):
        return HTMLResponse("cross-site request refused", 403)
    if not identity.may(Role.ADMIN):
        return HTMLResponse("a viewer may look but not act; sign in with an admin token", 403)
    return None


@router.post("/dashboard/failures/{failure_id}/retry")
async def retry_failure(failure_id: str, request: Request) -> Response:
    refused = await run_in_threadpool(_guard, request)
    if refused:
        return refused
    state = request.app.state
    try:
        done = await run_in_threadpool(retry, state.db, state.dispatcher, failure_id)
    except DistributorError as exc:
        return _back(request, str(exc), ok=False)
    return _back(request, f"{done.id}: {done.what} {done.status}")


@router.post("/dashboard/digests/{list_name}/send")
async def send_digest(list_name: str, request: Request) -> Response:
    refused = await run_in_threadpool(_guard, request)
    if refused:
        return refused
    state = request.app.state
    try:
        result = await run_in_threadpool(send_now, state.db, state.settings, state.dispatcher,
                                         list_name)
    except DistributorError as exc:
        return _back(request, str(exc), ok=False)
    log.info("digest for list %s sent from the dashboard: %s", list_name, result.state,
             extra={"list": list_name})
    if result.state != SendState.PLANNED:
        return _back(request, f"digest for {list_name}: {result.state} "
                              f"({result.articles} articles)")
    return _back(request, f"digest for {list_name}: {result.articles} articles to "
                          f"{result.recipients} readers; it goes out in a moment")

"""The dashboard at `/`: server-rendered pages, no build step, refreshing itself.

Access needs the API token: the login form checks it in constant time and sets a
signed (itsdangerous, with the secret key), HttpOnly, SameSite=Strict cookie,
valid 12 hours and void when the token changes. Without it: 401 and the login
page, never data. Buttons POST forms; cross-site POSTs are refused by the cookie's
SameSite rule and by an Origin check."""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import UTC, datetime
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from distributor.email.digests import send_now
from distributor.errors import DistributorError
from distributor.monitor import snapshot
from distributor.monitor.articles import latest_articles
from distributor.monitor.failures import list_failures, retry
from distributor.states import SendState
from distributor.templates import environment

router = APIRouter(include_in_schema=False)
log = logging.getLogger("distributor.dashboard")
COOKIE = "distributor_session"
FLASH = "distributor_flash"
SESSION_SECONDS = 12 * 3600
REFRESH_SECONDS = 5


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.settings.secret, salt="distributor-dashboard")


def _token_tag(request: Request) -> str | None:
    token = request.app.state.settings.api_token
    if token is None:
        return None
    return hashlib.sha256(token.get_secret_value().encode()).hexdigest()[:16]


def logged_in(request: Request) -> bool:
    tag, cookie = _token_tag(request), request.cookies.get(COOKIE)
    if tag is None or not cookie:
        return False
    try:
        data = _serializer(request).loads(cookie, max_age=SESSION_SECONDS)
    except BadSignature:
        return False
    return isinstance(data, dict) and hmac.compare_digest(str(data.get("t", "")), tag)


def same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


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
    configured = request.app.state.settings.api_token is not None
    return _render(request, "login.html.j2", status, error=error, configured=configured,
                   title="Sign in")


def _back(request: Request, note: str, ok: bool = True) -> RedirectResponse:
    """Back to the dashboard, with a one-time note in a signed cookie."""
    response = RedirectResponse("/", 303)
    response.set_cookie(FLASH, _serializer(request).dumps(["ok" if ok else "error", note[:300]]),
                        max_age=60, httponly=True, samesite="strict")
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
    data["can_send_digest"] = callable(getattr(state.dispatcher, "send_digest", None))
    return data


@router.get("/", response_class=HTMLResponse)
async def index(request: Request) -> Response:
    if not logged_in(request):
        return _login_page(request, 401)
    data = await run_in_threadpool(dashboard_data, request)
    flash = _flash(request)
    response = _render(request, "index.html.j2", title="Dashboard", data=data, flash=flash)
    if FLASH in request.cookies:
        response.delete_cookie(FLASH)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    if logged_in(request):
        return RedirectResponse("/", 303)
    return _login_page(request, 200)


@router.post("/login")
def login(request: Request, token: str = Form("")) -> Response:
    configured = request.app.state.settings.api_token
    given = token.strip().encode()
    expected = configured.get_secret_value().encode() if configured else b"\0" * 32
    if configured is None or not same_origin(request) or not hmac.compare_digest(given,
                                                                                 expected):
        log.warning("dashboard login refused from %s", request.client.host if request.client
                    else "?")
        return _login_page(request, 401, error="That token is not right.")
    response = RedirectResponse("/", 303)
    response.set_cookie(COOKIE, _serializer(request).dumps({"t": _token_tag(request)}),
                        max_age=SESSION_SECONDS, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", 303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _guard(request: Request) -> Response | None:
    if not logged_in(request):
        return _login_page(request, 401)
    if not same_origin(request):
        return HTMLResponse("cross-site request refused", 403)
    return None


@router.post("/dashboard/failures/{failure_id}/retry")
async def retry_failure(failure_id: str, request: Request) -> Response:
    refused = _guard(request)
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
    refused = _guard(request)
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

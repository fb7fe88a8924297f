"""Endpoints without a token: health, and the unsubscribe pages linked from every email."""

from __future__ import annotations

import time

import redis
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from distributor.audience.subscribers import unsubscribe
from distributor.audience.tokens import read_token
from distributor.email.mailbox import mailbox_status
from distributor.errors import DistributorError, InvalidInput
from distributor.monitor.progress import mail_trouble
from distributor.monitor.queues import worker_heartbeats
from distributor.templates import environment

router = APIRouter()


@router.get("/health", summary="200 when the database and broker answer and a worker is alive")
def health(request: Request) -> JSONResponse:
    """503 with the reasons when the database or the broker does not answer (short
    timeouts), when no worker left a heartbeat within the last minute, or when a batch
    said in the last ten minutes that mail does not go out (the mail transport fails).
    A bounce mailbox that cannot be read is a warning: sending goes on without it."""
    problems, warnings = [], []
    try:
        request.app.state.db.ping()
        trouble = mail_trouble(request.app.state.db)
        if trouble:
            problems.append(f"mail transport failing: {trouble}")
        warnings += [f"bounce mailbox {m['mailbox']}: {m['error']}"
                     for m in mailbox_status(request.app.state.db) if m["error"]]
    except DistributorError as exc:
        problems.append(str(exc))
    except SQLAlchemyError as exc:
        problems.append(f"database: cannot read the outbox ({type(exc).__name__})")
    client = request.app.state.broker
    try:
        beats = worker_heartbeats(client, request.app.state.settings.broker_prefix)
        now = time.time()
        if not any(now - ts < 60 for ts in beats.values()):
            problems.append("no worker alive: none left a heartbeat within the last minute")
    except (redis.RedisError, OSError) as exc:
        problems.append(f"broker does not answer: {type(exc).__name__}")
    extra = {"warnings": warnings} if warnings else {}
    if problems:
        return JSONResponse({"status": "unhealthy", "problems": problems, **extra}, 503)
    return JSONResponse({"status": "ok", **extra})


def page(request: Request, template: str, status: int = 200, locale: str = "en",
         **context) -> HTMLResponse:
    settings = request.app.state.settings
    html = environment(settings.templates_dir, locale=locale).get_template(
        f"pages/{template}").render(
        publisher=settings.publisher, **context)
    # Unsubscribe and confirm URLs carry a token: never send it on as a Referer.
    return HTMLResponse(html, status, headers={"Referrer-Policy": "no-referrer",
                                               "X-Frame-Options": "DENY"})


@router.get("/unsubscribe/{token}", response_class=HTMLResponse, summary="Unsubscribe page")
def unsubscribe_page(token: str, request: Request) -> HTMLResponse:
    try:
        read_token(request.app.state.settings.secret, token, "unsubscribe")
    except InvalidInput as exc:
        return page(request, "message.html.j2", 400, title="Link not valid", message=str(exc))
    return page(request, "unsubscribe.html.j2", token=token)


@router.post("/unsubscribe/{token}", summary="RFC 8058 one-click unsubscribe")
async def unsubscribe_post(token: str, request: Request):
    settings = request.app.state.settings
    try:
        list_name = await run_in_threadpool(unsubscribe, request.app.state.db,
                                            settings.secret, token)
    except InvalidInput as exc:
        return page(request, "message.html.j2", 400, title="Link not valid",
                     message=str(exc))
    return page(request, "message.html.j2", title="Unsubscribed",
                 message=f"You will receive no more emails from {list_name}.")

"""The public subscribe form and the double opt-in confirmation link."""

from __future__ import annotations

import asyncio
import json
import time

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse

from distributor.api.errors import error
from distributor.api.public import page
from distributor.audience.optin import confirm, request_subscription
from distributor.audience.tokens import read_token
from distributor.errors import InvalidInput

router = APIRouter()
PER_IP_PER_MINUTE = 10
ANSWER = "If the address can receive our emails, it is subscribed; check your inbox."
# Every accepted request answers no sooner than this, and enqueues one confirm task
# (a no-op unless a confirmation is due): how long the answer takes and what it costs
# the broker do not tell whether the address was already subscribed.
ANSWER_FLOOR_SECONDS = 0.25
NOTHING_TO_CONFIRM = 0  # no subscription has this id: the confirm task does nothing


def allowed(request: Request) -> bool:
    limiter = request.app.state.limiter
    ip = request.client.host if request.client else "unknown"
    return limiter.take(f"subscribe:{ip}", PER_IP_PER_MINUTE, 60,
                        burst=PER_IP_PER_MINUTE) == 0


async def _fields(request: Request) -> dict:
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(await request.body())
        except RecursionError:
            raise InvalidInput("body is not valid JSON: nested too deeply") from None
        except ValueError:
            raise InvalidInput("body is not valid JSON") from None
        if not isinstance(data, dict):
            raise InvalidInput("body must be a JSON object")
        _valid_unicode(data)
        return data
    form = await request.form()
    data = {k: v for k, v in form.items() if k != "section"}
    data["sections"] = form.getlist("section")
    return data


def _valid_unicode(data: dict) -> None:
    """JSON can spell a lone surrogate (\\ud800), which no database can store."""
    for key, value in data.items():
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str) and any("\ud800" <= ch <= "\udfff" for ch in text):
                raise InvalidInput("invalid subscription", {str(key): "is not valid Unicode text"})


async def request_and_answer(request: Request, data: dict, double_opt_in: bool = False,
                             honeypot: bool = False) -> None:
    """Ask for the subscription (unless a bot filled the honeypot), enqueue the confirm
    task and wait out the answer floor: every path looks the same from outside."""
    started = time.monotonic()
    email, list_name = data.get("email"), data.get("list")
    missing = {k: "required" for k, v in (("email", email), ("list", list_name))
               if not isinstance(v, str) or not v}
    if missing:
        raise InvalidInput("invalid subscription", missing)
    sections = data.get("sections") or []
    if not isinstance(sections, list):  # found by the fuzz: 5 or true here was a 500
        raise InvalidInput("invalid subscription", {"sections": "must be a list of names"})
    sections = [s for s in sections if isinstance(s, str)]
    subscription_id = None
    if not honeypot:
        subscription_id = await run_in_threadpool(
            request_subscription, request.app.state.db, email, list_name,
            str(data.get("name") or ""), sections, double_opt_in)
    await run_in_threadpool(request.app.state.dispatcher.confirm,
                            NOTHING_TO_CONFIRM if subscription_id is None else subscription_id)
    await asyncio.sleep(max(0.0, ANSWER_FLOOR_SECONDS - (time.monotonic() - started)))


def too_many():
    return error(429, "too many requests; try again in a minute", headers={"Retry-After": "60"})


SUBSCRIPTION = {"type": "object", "required": ["email", "list"], "properties": {
    "email": {"type": "string", "format": "email"}, "list": {"type": "string"},
    "name": {"type": "string"}, "sections": {"type": "array", "items": {"type": "string"}}}}
FORM = {"type": "object", "required": ["email", "list"], "properties": {
    "email": {"type": "string"}, "list": {"type": "string"}, "name": {"type": "string"},
    "section": {"type": "array", "items": {"type": "string"}}}}


@router.post("/subscribe", summary="Public subscribe form (form or JSON)",
             responses={202: {"description": "asked to confirm by email (whether or not the "
                                             "address was new: nothing is revealed)"},
                        422: {"description": "a field is missing or invalid"},
                        429: {"description": "too many requests from this address"}},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": SUBSCRIPTION},
                 "application/x-www-form-urlencoded": {"schema": FORM}}}})
async def subscribe(request: Request):
    if not await run_in_threadpool(allowed, request):
        return too_many()
    data = await _fields(request)
    await request_and_answer(request, data)
    if "application/json" in request.headers.get("accept", "") or \
            request.headers.get("content-type", "").startswith("application/json"):
        return JSONResponse({"status": "ok", "message": ANSWER}, 202)
    return page(request, "message.html.j2", 202, title="Thank you", message=ANSWER)


@router.get("/confirm/{token}", response_class=HTMLResponse,
            summary="The confirmation page: a button, so that link scanners confirm nobody")
def confirm_page(token: str, request: Request) -> HTMLResponse:
    try:
        read_token(request.app.state.settings.secret, token, "confirm")
    except InvalidInput as exc:
        return page(request, "message.html.j2", 400, title="Link not valid", message=str(exc))
    return page(request, "confirm.html.j2")


@router.post("/confirm/{token}", response_class=HTMLResponse, summary="Confirm a subscription")
def confirm_link(token: str, request: Request) -> HTMLResponse:
    try:
        list_name = confirm(request.app.state.db, request.app.state.settings.secret, token)
    except InvalidInput as exc:
        return page(request, "message.html.j2", 400, title="Link not valid", message=str(exc))
    return page(request, "message.html.j2", title="Subscribed",
                message=f"Thank you: you are now subscribed to {list_name}.")

"""Admin API: lists, subscribers, digests and previews (Bearer token)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from distributor.api.auth import require_token
from distributor.audience.lists import create_list, delete_list, list_lists
from distributor.audience.subscribers import (
    MAX_ID,
    add_subscriber,
    list_subscribers,
    normalise_email,
    remove_subscriber,
)
from distributor.email.digests import send_now
from distributor.email.preview import preview_alert, preview_digest
from distributor.errors import NotFound

router = APIRouter(prefix="/v1", dependencies=[Depends(require_token)])


class ListIn(BaseModel):
    name: str = Field(max_length=100)
    instant: bool = False
    schedule: str | None = Field(None, max_length=100)
    timezone: str = Field("UTC", max_length=64)
    sections: list[str] = Field(default_factory=list, max_length=50)
    double_opt_in: bool = False
    max_age: str | None = Field(None, max_length=20, description="alerts: e.g. 6h")
    quiet: str | None = Field(None, max_length=20, description="alerts wait: e.g. 22:00-06:00")
    from_address: str | None = Field(None, max_length=400, alias="from")
    reply_to: str | None = Field(None, max_length=400)
    local_time: bool = Field(False, description="digests at the hour in each reader's zone")
    public: bool = Field(False, description="hosted sign-up page and web archive are served")
    tracking: str = Field("off", max_length=20, description="off | aggregate | per-subscriber")
    utm: str | None = Field(None, max_length=500, description="utm_source=…&utm_medium=…")
    track_opens: bool = Field(False, description="an open pixel (unreliable)")
    locale: str = Field("en", max_length=16, description="en | hi_IN: emails and pages")


class SubscriberIn(BaseModel):
    email: str = Field(max_length=320)
    list_name: str = Field(max_length=100, alias="list")
    name: str = Field("", max_length=200)
    sections: list[str] = Field(default_factory=list, max_length=50)
    resubscribe: bool = Field(False, description="add someone who unsubscribed again")
    timezone: str | None = Field(None, max_length=64, description="IANA zone, e.g. Asia/Kolkata")


@router.get("/lists", summary="All lists")
def get_lists(request: Request) -> list[dict]:
    return [dataclasses.asdict(r) for r in list_lists(request.app.state.db)]


@router.post("/lists", status_code=201, summary="Create a list")
def post_list(body: ListIn, request: Request) -> dict:
    created = create_list(request.app.state.db, body.name, instant=body.instant,
                          schedule=body.schedule, timezone=body.timezone,
                          sections=body.sections, double_opt_in=body.double_opt_in,
                          max_age=body.max_age, quiet=body.quiet,
                          from_address=body.from_address, reply_to=body.reply_to,
                          local_time=body.local_time, public=body.public,
                          tracking=body.tracking, utm=body.utm,
                          track_opens=body.track_opens, locale=body.locale)
    return {"name": created.name, "kind": created.kind}


@router.delete("/lists/{name}", summary="Delete a list, its subscriptions and its sends")
def remove_list(name: str, request: Request) -> dict:
    delete_list(request.app.state.db, name)
    return {"name": name, "result": "deleted"}


@router.post("/subscribers", status_code=201, summary="Subscribe an address to a list")
def post_subscriber(body: SubscriberIn, request: Request) -> dict:
    added = add_subscriber(request.app.state.db, body.email, body.list_name, body.name,
                           body.sections, resubscribe=body.resubscribe,
                           timezone=body.timezone)
    return {"email": normalise_email(body.email), "list": body.list_name,
            "status": added.subscription.status, "outcome": added.outcome}


@router.get("/subscribers", summary="Subscriptions, a page at a time")
def get_subscribers(request: Request, list_name: str | None = Query(None, alias="list"),
                    status: str | None = None, limit: int = Query(100, ge=1, le=1000),
                    after: int = Query(0, ge=0, le=MAX_ID)) -> dict:
    rows = list_subscribers(request.app.state.db, list_name, status, limit, after)
    return {"items": rows, "next_after": rows[-1]["id"] if len(rows) == limit else None}


@router.delete("/subscribers/{email}", summary="Unsubscribe (or erase) an address")
def delete_subscriber(email: str, request: Request,
                      list_name: str | None = Query(None, alias="list"),
                      erase: bool = False) -> dict:
    return {"email": email, "result": remove_subscriber(request.app.state.db, email,
                                                         list_name, erase)}


class DigestIn(BaseModel):
    list_name: str = Field(alias="list", max_length=100)
    since: datetime | None = None
    dry_run: bool = False


@router.post("/digests", status_code=202, summary="Send a digest now")
def post_digest(body: DigestIn, request: Request) -> dict:
    state = request.app.state
    if body.since is not None and body.since.tzinfo is None:
        body.since = body.since.replace(tzinfo=UTC)
    result = send_now(state.db, state.settings, state.dispatcher, body.list_name,
                      since=body.since, dry_run=body.dry_run)
    return result.as_dict()


@router.get("/preview/{kind}", summary="Exactly what an alert or digest would look like")
def get_preview(kind: str, request: Request, list_name: str = Query(alias="list"),
                article: str | None = None) -> dict:
    state = request.app.state
    if kind == "alert":
        return preview_alert(state.db, state.settings, list_name, article).as_dict()
    if kind == "digest":
        return preview_digest(state.db, state.settings, list_name).as_dict()
    raise NotFound("preview is alert or digest", {"kind": "alert or digest"})

"""Admin API for lists and subscribers (Bearer token)."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from distributor.api.auth import require_token
from distributor.audience import add_subscriber, create_list, list_lists

router = APIRouter(prefix="/v1", dependencies=[Depends(require_token)])


class ListIn(BaseModel):
    name: str = Field(max_length=100)
    instant: bool = False
    schedule: str | None = Field(None, max_length=100)
    timezone: str = Field("UTC", max_length=64)
    sections: list[str] = Field(default_factory=list, max_length=50)
    double_opt_in: bool = False


class SubscriberIn(BaseModel):
    email: str = Field(max_length=320)
    list_name: str = Field(max_length=100, alias="list")
    name: str = Field("", max_length=200)
    sections: list[str] = Field(default_factory=list, max_length=50)


@router.get("/lists", summary="All lists")
def get_lists(request: Request) -> list[dict]:
    return [dataclasses.asdict(r) for r in list_lists(request.app.state.db)]


@router.post("/lists", status_code=201, summary="Create a list")
def post_list(body: ListIn, request: Request) -> dict:
    created = create_list(request.app.state.db, body.name, instant=body.instant,
                          schedule=body.schedule, timezone=body.timezone,
                          sections=body.sections, double_opt_in=body.double_opt_in)
    return {"name": created.name, "kind": created.kind}


@router.post("/subscribers", status_code=201, summary="Subscribe an address to a list")
def post_subscriber(body: SubscriberIn, request: Request) -> dict:
    subscription = add_subscriber(request.app.state.db, body.email, body.list_name, body.name,
                                  body.sections)
    return {"email": body.email.strip().lower(), "list": body.list_name,
            "status": subscription.status}

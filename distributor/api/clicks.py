"""Tracked links (/r/…) and the open pixel (/o/…) of lists that track. A link leads
only to an article its edition carried; a pixel is always a pixel."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from distributor.api.public import page
from distributor.audience.tracking import follow, record_open
from distributor.errors import InvalidInput, NotFound

router = APIRouter()
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


async def _follow(request: Request, token: str, reader: str | None):
    settings = request.app.state.settings
    try:
        target = await run_in_threadpool(follow, request.app.state.db, settings.secret, token,
                                         reader, datetime.now(UTC),
                                         request.method == "GET",
                                         {c.name: c for c in settings.channels})
    except NotFound as exc:
        return page(request, "message.html.j2", 404, title="Link not found", message=str(exc))
    except InvalidInput as exc:
        return page(request, "message.html.j2", 400, title="Link not valid", message=str(exc))
    return RedirectResponse(target, 302, headers=PRIVATE)


@router.head("/r/{token}", include_in_schema=False)
@router.get("/r/{token}", summary="A tracked article link (HEAD: followed, not counted)")
async def tracked(token: str, request: Request):
    return await _follow(request, token, None)


@router.head("/r/{token}/{reader}", include_in_schema=False)
@router.get("/r/{token}/{reader}",
            summary="A tracked article link of a list that tracks per subscriber")
async def tracked_reader(token: str, reader: str, request: Request):
    return await _follow(request, token, reader)


async def _pixel(request: Request, token: str, reader: str | None) -> Response:
    await run_in_threadpool(record_open, request.app.state.db,
                            request.app.state.settings.secret, token, reader, datetime.now(UTC))
    return Response(PIXEL, media_type="image/gif", headers=PRIVATE)


@router.get("/o/{token}", summary="The open pixel (unreliable: clients load or block it)")
async def opened(token: str, request: Request) -> Response:
    return await _pixel(request, token, None)


@router.get("/o/{token}/{reader}", summary="The open pixel, per subscriber")
async def opened_reader(token: str, reader: str, request: Request) -> Response:
    return await _pixel(request, token, reader)

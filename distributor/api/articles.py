from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from distributor.api.auth import check_publish_auth, require_token
from distributor.articles import ingest
from distributor.formats import convert
from distributor.reports import deliveries

router = APIRouter()
log = logging.getLogger("distributor.api")


@router.post("/v1/articles", status_code=202, summary="Publish an article",
             responses={200: {"description": "already published; nothing sent"},
                        401: {"description": "no or wrong token/signature"},
                        413: {"description": "body too large"},
                        422: {"description": "invalid article"}})
async def publish(request: Request, format: str | None = Query(
        None, description="json (default), wordpress (REST post object) or ghost "
                          "(post.published webhook body)")) -> JSONResponse:
    """Store the article JSON (INTERFACE.md) and send it out. A known guid sends nothing."""
    body = await request.body()
    check_publish_auth(request, body)
    data = convert(format, body)
    state = request.app.state
    result = await run_in_threadpool(ingest, state.db, state.settings, data)
    if not result.created:
        return JSONResponse({"guid": result.guid, "status": "already published"}, 200)
    try:
        await run_in_threadpool(state.dispatcher.fan_out, result.article_id)
    except Exception as exc:  # stored and planned: the sweeper sends it when the broker is back
        log.warning("guid=%s stored but not enqueued (%s); the sweeper will send it",
                    result.guid, type(exc).__name__)
    log.info("guid=%s published", result.guid)
    return JSONResponse({"guid": result.guid, "status": "accepted"}, 202)


@router.get("/v1/articles/{guid:path}/deliveries", dependencies=[Depends(require_token)],
            summary="Delivery state of an article")
def article_deliveries(guid: str, request: Request) -> dict:
    return deliveries(request.app.state.db, guid)

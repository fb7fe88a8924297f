from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from distributor.api.auth import check_publish_auth, require_token
from distributor.inbound.article import ArticleIn
from distributor.inbound.publish import publish as publish_article
from distributor.inbound.publish import unpublish
from distributor.inbound.sources import convert
from distributor.monitor.deliveries import deliveries

router = APIRouter()


@router.post("/v1/articles", status_code=202, summary="Publish an article",
             responses={200: {"description": "already published; nothing sent"},
                        401: {"description": "no or wrong token/signature"},
                        409: {"description": "a signed request whose webhook-id was seen"},
                        413: {"description": "body too large"},
                        422: {"description": "invalid article"}},
             # The body is read raw (it may be signed, or a WordPress/Ghost body), so
             # FastAPI cannot see it: declared here, for clients and the fuzz.
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": ArticleIn.model_json_schema()}}}})
async def publish(request: Request, format: str | None = Query(
        None, description="json (default), wordpress (REST post object) or ghost "
                          "(post.published webhook body)")) -> JSONResponse:
    """Store the article JSON (INTERFACE.md) and send it out. A known guid sends nothing."""
    body = await request.body()
    check_publish_auth(request, body)
    data = convert(format, body)
    state = request.app.state
    result = await run_in_threadpool(publish_article, state.db, state.settings,
                                     state.dispatcher, data)
    if not result.created:
        return JSONResponse({"guid": result.guid, "status": result.status}, 200)
    return JSONResponse({"guid": result.guid, "status": result.status}, 202)


@router.delete("/v1/articles/{guid:path}", dependencies=[Depends(require_token)],
               summary="Unpublish: cancel what of the article has not gone yet")
def unpublish_article(guid: str, request: Request) -> dict:
    return unpublish(request.app.state.db, guid)


@router.get("/v1/articles/{guid:path}/deliveries", dependencies=[Depends(require_token)],
            summary="Delivery state of an article")
def article_deliveries(guid: str, request: Request) -> dict:
    return deliveries(request.app.state.db, guid)

"""Monitoring endpoints: /v1/status, /v1/failures (+ retry) with the API token,
and /metrics in Prometheus text for scrapers."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from distributor.api.auth import require_token
from distributor.monitor import snapshot
from distributor.monitor.failures import list_failures, retry

router = APIRouter()


def celery_app_of(request: Request):
    """The Celery app behind the dispatcher, when there is one (for control pings)."""
    return getattr(request.app.state.dispatcher, "app", None)


@router.get("/v1/status", dependencies=[Depends(require_token)],
            summary="Queues, workers, sends and their progress (as `distributor status --json`)")
def status(request: Request) -> dict:
    state = request.app.state
    return snapshot(state.db, celery_app_of(request), state.settings)


@router.get("/v1/failures", dependencies=[Depends(require_token)],
            summary="Failed channel posts, sends, batches and deliveries")
def failures(request: Request) -> dict:
    return {"failures": list_failures(request.app.state.db)}


@router.post("/v1/failures/{failure_id}/retry", dependencies=[Depends(require_token)],
             status_code=202, summary="Re-open a failure (post:N, send:N, batch:N) and enqueue it")
def retry_failure(failure_id: str, request: Request) -> dict:
    state = request.app.state
    return retry(state.db, state.dispatcher, failure_id).as_dict()


@router.get("/metrics", summary="Prometheus metrics, read from the ledger and Redis at scrape time")
async def metrics(request: Request) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST

    from distributor.monitor.metrics import make_registry, render

    state = request.app.state
    registry = getattr(state, "metrics_registry", None)
    if registry is None:
        registry = state.metrics_registry = make_registry(state.db, state.settings,
                                                                   state.broker)
    body = await run_in_threadpool(render, registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)

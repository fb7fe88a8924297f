"""The dashboard's pages per list and per article: what was sent and what readers did,
as server-drawn SVG charts with the figures beside them. Viewers may read them."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from distributor.api.dashboard import _login_page, _render, signed_in
from distributor.errors import InvalidInput, NotFound
from distributor.monitor.charts import bars, columns
from distributor.monitor.deliveries import deliveries
from distributor.monitor.report import article_clicks, list_report, parse_since
from distributor.states import DeliveryState

router = APIRouter(include_in_schema=False)


def _list_page(request: Request, name: str, since: str) -> HTMLResponse:
    now = datetime.now(UTC)
    try:
        data = list_report(request.app.state.db, name, parse_since(since, now), now)
    except NotFound as exc:
        return _render(request, "message.html.j2", 404, title="Not found", message=str(exc))
    except InvalidInput as exc:
        return _render(request, "message.html.j2", 400, title="Not a period", message=str(exc))
    days = [row["day"][5:] for row in data["by_day"]]
    states = (DeliveryState.SENT, DeliveryState.FAILED, DeliveryState.BOUNCED)
    charts = {
        "delivery": columns(f"Emails of {name} per day", days,
                            {str(s): [row[s] for row in data["by_day"]] for s in states}),
        "clicks": columns(f"Clicks on {name} per day", days,
                          {"clicks": [row["clicks"] for row in data["by_day"]]}),
        "top": bars("Most clicked articles",
                    [(a["title"], a["clicks"]) for a in data["top_articles"]]),
        "compare": bars("Clicks per 100 emails, instant against digest lists",
                        [(kind, round(100 * (figures["click_rate"] or 0), 1))
                         for kind, figures in data["compare"].items()]),
    }
    return _render(request, "list.html.j2", title=f"List {name}", data=data, since=since,
                   charts={k: Markup(v) for k, v in charts.items()})  # noqa: S704 (escaped SVG)


@router.get("/dashboard/lists/{name}", response_class=HTMLResponse)
async def list_page(name: str, request: Request, since: str = "7d") -> Response:
    if await run_in_threadpool(signed_in, request) is None:
        return _login_page(request, 401)
    return await run_in_threadpool(_list_page, request, name, since)


def _article_page(request: Request, guid: str) -> HTMLResponse:
    try:
        report = deliveries(request.app.state.db, guid)
    except NotFound as exc:
        return _render(request, "message.html.j2", 404, title="Not found", message=str(exc))
    clicks = article_clicks(request.app.state.db, guid)
    chart = bars("Clicks per list and channel",
                 [(f"{c['list'] or '–'} · {c['channel']}", c["clicks"]) for c in clicks])
    return _render(request, "article.html.j2", title=report["title"], report=report,
                   clicks=clicks, chart=Markup(chart))  # noqa: S704 (escaped SVG)


@router.get("/dashboard/articles", response_class=HTMLResponse)
async def article_page(request: Request, guid: str = "") -> Response:
    if await run_in_threadpool(signed_in, request) is None:
        return _login_page(request, 401)
    return await run_in_threadpool(_article_page, request, guid)

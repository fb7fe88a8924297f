"""The public archive: an index per public list, each edition's web copy, an Atom feed.
No cookies, no tracking, nothing personal: anyone may read and cache these."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from distributor.api.public import page
from distributor.email.archive import archive_page, atom_feed, edition_page, page_number
from distributor.errors import InvalidInput, NotFound

router = APIRouter()
CACHE = {"Cache-Control": "public, max-age=300"}


def _missing(request: Request, exc: NotFound) -> HTMLResponse:
    return page(request, "message.html.j2", 404, title="Not found", message=str(exc))


@router.get("/archive/{name}", response_class=HTMLResponse,
            summary="A public list's past editions, newest first (?page=N)")
def archive_index(name: str, request: Request) -> HTMLResponse:
    settings = request.app.state.settings
    try:
        number = page_number(request.query_params.get("page"))
        listing = archive_page(request.app.state.db, settings, name, number)
    except NotFound as exc:
        return _missing(request, exc)
    except InvalidInput as exc:
        return page(request, "message.html.j2", 400, title="Not a page", message=str(exc))
    answer = page(request, "archive.html.j2", locale=listing.locale, archive=listing,
                  feed_url=f"{settings.public_url}/archive/{listing.list_name}/feed.atom")
    answer.headers.update(CACHE)
    return answer


@router.get("/archive/{name}/feed.atom", summary="A public list's editions as Atom")
def archive_feed(name: str, request: Request) -> Response:
    try:
        body = atom_feed(request.app.state.db, request.app.state.settings, name)
    except NotFound as exc:
        return _missing(request, exc)
    return Response(body, media_type="application/atom+xml", headers=CACHE)


@router.get("/archive/{name}/{send_id}", response_class=HTMLResponse,
            summary="One edition as everyone may read it (view online)")
def archive_edition(name: str, send_id: str, request: Request) -> HTMLResponse:
    try:
        if not (send_id.isascii() and send_id.isdigit()) or len(send_id) > 18:
            raise NotFound(f"no edition {send_id[:40]!r}", {"edition": "not found"})
        html = edition_page(request.app.state.db, request.app.state.settings, name,
                            int(send_id))
    except NotFound as exc:
        return _missing(request, exc)
    return HTMLResponse(html, headers={**CACHE, "Referrer-Policy": "no-referrer"})

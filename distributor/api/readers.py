"""The preference centre: the page a reader's signed manage link opens (no login, no
JavaScript). Each form posts back here and is answered by a redirect to the page
(post/redirect/get), or by the page again with what was wrong."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from distributor.api.public import page
from distributor.audience.preferences import (
    PAUSE_WEEKS,
    common_timezones,
    leave_everything,
    pause,
    read_preferences,
    resume,
    save_preferences,
)
from distributor.errors import InvalidInput

router = APIRouter()
DONE = {"saved": "Saved. Your choices apply from the next email.",
        "break": "Paused. We will write again when the pause ends.",
        "back": "Welcome back: the next email will reach you.",
        "left": "You are unsubscribed from every list. You can come back here at any time."}


def _manage_page(request: Request, token: str, status: int = 200, done: str | None = None,
                 error: InvalidInput | None = None) -> HTMLResponse:
    settings = request.app.state.settings
    try:
        preferences = read_preferences(request.app.state.db, settings.secret, token,
                                       datetime.now(UTC))
    except InvalidInput as exc:
        return page(request, "message.html.j2", 400, title="Link not valid",
                    message=f"{exc}: use the newest link from one of our emails.")
    return page(request, "manage.html.j2", status, preferences.locale, prefs=preferences,
                token=token,
                done=DONE.get(done or ""), error=error, weeks=PAUSE_WEEKS,
                zones=common_timezones())


@router.get("/manage/{token}", response_class=HTMLResponse,
            summary="The reader's preference centre (signed link from every email)")
def manage_page(token: str, request: Request, done: str | None = None) -> HTMLResponse:
    return _manage_page(request, token, done=done)


@router.post("/manage/{token}", response_class=HTMLResponse,
             summary="Save preferences, pause, resume or leave every list")
async def manage_post(token: str, request: Request):
    form = await request.form()
    fields: dict[str, object] = {k: form.get(k) for k in form if k != "section"}
    fields["section"] = form.getlist("section")
    action = fields.get("action")
    db, secret, now = request.app.state.db, request.app.state.settings.secret, datetime.now(UTC)
    try:
        if action == "save":
            await run_in_threadpool(save_preferences, db, secret, token, fields)
        elif action == "pause":
            await run_in_threadpool(pause, db, secret, token, fields.get("weeks"), now)
        elif action == "resume":
            await run_in_threadpool(resume, db, secret, token)
        elif action == "leave":
            await run_in_threadpool(leave_everything, db, secret, token)
        else:
            raise InvalidInput("action: save, pause, resume or leave", {"action": "unknown"})
    except InvalidInput as exc:
        return await run_in_threadpool(_manage_page, request, token, 400, None, exc)
    done = {"save": "saved", "pause": "break", "resume": "back", "leave": "left"}[action]
    return RedirectResponse(f"?done={done}", 303,
                            headers={"Referrer-Policy": "no-referrer"})

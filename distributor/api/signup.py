"""The hosted sign-up page of each public list, and the form snippet to paste into the
publisher's own site. Both post to the same place: double opt-in whatever the list's
setting, a honeypot field for bots, the per-IP limit of the public form, and one
answer for every address, known or not."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from distributor.api.public import page
from distributor.api.subscribe import ANSWER, allowed, request_and_answer, too_many
from distributor.audience.lists import public_list
from distributor.errors import InvalidInput, NotFound
from distributor.templates import environment

router = APIRouter()
HONEYPOT = "website"  # hidden from people; a bot that fills every field fills this one


def _list_view(request: Request, name: str) -> dict:
    with request.app.state.db.session() as session:
        mailing_list = public_list(session, name)
        return {"name": mailing_list.name, "kind": mailing_list.kind,
                "schedule": mailing_list.schedule, "timezone": mailing_list.timezone,
                "sections": list(mailing_list.sections), "locale": mailing_list.locale}


def _form_page(request: Request, name: str, status: int = 200, error: InvalidInput | None = None,
               values: dict | None = None) -> HTMLResponse:
    try:
        view = _list_view(request, name)
    except NotFound:
        return page(request, "message.html.j2", 404, title="No such list",
                    message="There is no public list by that name.")
    return page(request, "signup.html.j2", status, view["locale"], list=view, error=error,
                values=values or {}, honeypot=HONEYPOT)


@router.get("/lists/{name}/subscribe", response_class=HTMLResponse,
            summary="A public list's hosted sign-up page")
def signup_page(name: str, request: Request) -> HTMLResponse:
    return _form_page(request, name)


@router.post("/lists/{name}/subscribe", response_class=HTMLResponse,
             summary="Sign up from the hosted page or the embedded form (double opt-in)")
async def signup(name: str, request: Request):
    if not await run_in_threadpool(allowed, request):
        return too_many()
    form = await request.form()
    values = {"email": str(form.get("email") or ""), "name": str(form.get("name") or ""),
              "list": name, "sections": [str(s) for s in form.getlist("section")]}
    try:
        view = await run_in_threadpool(_list_view, request, name)
        await request_and_answer(request, values, double_opt_in=True,
                                 honeypot=bool(form.get(HONEYPOT)))
    except NotFound:
        return await run_in_threadpool(_form_page, request, name)
    except InvalidInput as exc:
        return await run_in_threadpool(_form_page, request, name, 400, exc, values)
    return page(request, "message.html.j2", 202, view["locale"], title="Check your inbox",
                message=ANSWER)


@router.get("/lists/{name}/form.html", response_class=HTMLResponse,
            summary="The sign-up form as a snippet to paste into another site")
def signup_snippet(name: str, request: Request) -> HTMLResponse:
    try:
        view = _list_view(request, name)
    except NotFound:
        return HTMLResponse("<!-- no public list by that name -->", 404)
    settings = request.app.state.settings
    snippet = environment(settings.templates_dir, locale=view["locale"]).get_template(
        "pages/signup_form.html.j2")
    return HTMLResponse(snippet.render(list=view, values={}, error=None, honeypot=HONEYPOT,
                                       action=f"{settings.public_url}/lists/{view['name']}"
                                              "/subscribe", embedded=True))

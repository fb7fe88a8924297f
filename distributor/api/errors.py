"""Errors as JSON ({"error": …, "fields": {…}}) with a 4xx, and a cap on body size."""

from __future__ import annotations

import logging
import uuid
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException

from distributor.errors import InvalidInput, Unavailable

log = logging.getLogger("distributor.api")


def error(status: int, message: str, fields: dict[str, str] | None = None,
          headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "fields": fields or {}}, status_code=status,
                        headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InvalidInput)
    async def invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        return error(exc.status_code, exc.args[0], exc.fields)

    @app.exception_handler(RequestValidationError)
    async def validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = {}
        for item in exc.errors():
            loc = [str(p) for p in item["loc"] if p not in ("body", "query", "path")]
            fields[".".join(loc) or "body"] = ("required" if item["type"] == "missing"
                                                else item["msg"])
        return error(422, "invalid request", fields)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(Unavailable)
    async def unavailable(_: Request, exc: Unavailable) -> JSONResponse:
        return error(503, str(exc))

    @app.exception_handler(DataError)
    async def unstorable(request: Request, exc: DataError) -> JSONResponse:
        # PostgreSQL refuses what SQLite stores (a NUL in text, an integer over its
        # column): the request's fault, found by the fuzz on PostgreSQL.
        log.warning("refused on %s %s: the database cannot store a value (%s)",
                    request.method, request.url.path, type(exc.orig).__name__)
        return error(422, "invalid request: a value the database cannot store "
                          "(a NUL character, or a number out of range)")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The id ties the answer to the log line; neither carries the exception's text
        # (it may hold a secret), and the client never sees a traceback.
        request_id = uuid.uuid4().hex[:16]
        log.error("unexpected error on %s %s: %s (request id %s)", request.method,
                  request.url.path, type(exc).__name__, request_id)
        return JSONResponse({"error": "internal error; see the server log", "fields": {},
                             "request_id": request_id}, status_code=500,
                            headers={"X-Request-ID": request_id})


def document_errors(router: APIRouter) -> None:
    """Add to each operation's OpenAPI the error answers the handlers above give it, so a
    client (and the fuzz) knows every status it may see. Every /v1 path wants a token."""
    for route in router.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        errors = {503: "the database or the broker does not answer",
                  500: "an unexpected error: JSON with a request id, logged with it"}
        if route.path.startswith("/v1/"):
            errors |= {401: "no or wrong token", 403: "this token's role may not do this"}
        if route.dependant.path_params or route.dependant.query_params or \
                route.methods & {"POST", "PUT", "PATCH", "DELETE"}:
            errors[422] = "invalid input: `fields` names each wrong field"
            errors[404] = "no list, article, token or failure by that name or id"
        if route.dependant.path_params or route.methods & {"POST", "PUT", "PATCH"}:
            errors[400] = "malformed: a body that is not JSON, a link that does not verify"
        if route.methods & {"POST", "PUT", "PATCH"}:
            errors[413] = "request body over DISTRIBUTOR_MAX_BODY_BYTES"
        for status, description in errors.items():
            route.responses.setdefault(status, {"description": description})


class NoNul:
    """Refuse a NUL character in the path or the query with 422 naming where it is: no
    database text column can store one (PostgreSQL refuses it; found by the fuzz)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            fields = {name or "query": "contains a NUL character"
                      for name, value in parse_qsl(scope.get("query_string", b"").decode(
                          "latin-1"), keep_blank_values=True) if "\x00" in name + value}
            if "\x00" in scope.get("path", ""):
                fields["path"] = "contains a NUL character"
            if fields:
                return await error(422, "invalid request", fields)(scope, receive, send)
        return await self.app(scope, receive, send)


class BodyLimit:
    """Refuse request bodies over `limit` bytes with 413, also when chunked."""

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not (length.isascii() and length.isdigit()) or int(length) > self.limit):
            return await error(413, f"request body over {self.limit} bytes")(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await error(413, f"request body over {self.limit} bytes")(scope, receive, send)


class _TooLarge(Exception):
    pass

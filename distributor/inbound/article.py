"""Articles: validate, sanitise and store idempotently by guid, planning the
outbox in the same transaction."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import nh3
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from distributor.config import Settings
from distributor.errors import InvalidInput
from distributor.inbound.nesting import nesting_problem
from distributor.outbox.plan import plan_article, reschedule
from distributor.store import Article, Database

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "div", "dl", "dt",
    "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "li",
    "ol", "p", "pre", "q", "s", "small", "span", "strong", "sub", "sup", "table", "tbody",
    "td", "tfoot", "th", "thead", "tr", "u", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}


def sanitise_html(html: str) -> str:
    """Allow-list sanitising: no script, no event handlers, no javascript: URLs."""
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener")


def _no_controls(value: str | None) -> str | None:
    if value is not None and any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ValueError("must not contain control characters (such as CR or LF)")
    return value


def _http_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http(s) URL")
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in value):
        raise ValueError("must not contain spaces or control characters")
    return value


class ArticleIn(BaseModel):
    """The article JSON of INTERFACE.md."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    guid: str | None = Field(None, max_length=500)
    url: str = Field(max_length=2000)
    title: str = Field(min_length=1, max_length=500)
    summary: str = Field("", max_length=5000)
    body_html: str = Field("", max_length=2_000_000)
    section: str | None = Field(None, max_length=200)
    tags: list[str] = Field(default_factory=list, max_length=50)
    author: str | None = Field(None, max_length=200)
    image_url: str | None = Field(None, max_length=2000)
    published_at: datetime | None = None
    priority: Literal["normal", "breaking"] = "normal"  # breaking: through quiet hours

    _urls = field_validator("url", "image_url")(_http_url)
    _plain = field_validator("title", "author", "section", "guid")(_no_controls)

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        for tag in tags:
            _no_controls(tag)
        return [t.strip() for t in tags if t.strip()]

    @field_validator("body_html")
    @classmethod
    def _shallow(cls, value: str) -> str:
        problem = nesting_problem(value)
        if problem:
            raise ValueError(f"{problem}; flatten the markup")
        return value

    @field_validator("summary")
    @classmethod
    def _summary(cls, value: str) -> str:
        return "".join(ch for ch in value if ch in "\n\t" or unicodedata.category(ch) != "Cc")

    @field_validator("published_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must carry a timezone, e.g. 2026-11-29T05:30:00Z")
        return value


def field_errors(exc: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for error in exc.errors():
        name = ".".join(str(p) for p in error["loc"]) or "body"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "required"
        fields.setdefault(name, message)
    return fields


def parse_article(data: Any) -> ArticleIn:
    """Validate raw JSON (bytes/str) or a decoded object; InvalidInput names each bad field."""
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data)
        except RecursionError:
            raise InvalidInput("body is not valid JSON: nested too deeply",
                               {"body": "nested too deeply"}) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput("body must be a JSON object", {"body": "must be a JSON object"})
    try:
        return ArticleIn.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput("invalid article", field_errors(exc)) from None


@dataclass(frozen=True)
class Ingested:
    article_id: int
    guid: str
    created: bool
    published_at: datetime
    moved: bool = False  # a known guid's embargo moved to a new time


def ingest(db: Database, settings: Settings, data: Any, source: str = "api",
           now: datetime | None = None) -> Ingested:
    """Store a new article and its plan in one transaction. A known guid changes
    nothing, except the time of an embargo that has not been released yet."""
    article = parse_article(data)
    guid = article.guid or article.url
    now = now or datetime.now(UTC)
    try:
        with db.session() as session:
            known = session.scalar(select(Article).where(Article.guid == guid))
            if known is not None:
                when = article.published_at
                moved = (when is not None and when != known.published_at
                         and known.published_at > now and reschedule(session, known, when, now))
                return Ingested(known.id, guid, False, known.published_at, moved)
            row = Article(
                guid=guid, url=article.url, title=article.title, summary=article.summary,
                body_html=sanitise_html(article.body_html), section=article.section or None,
                tags=article.tags, author=article.author or None, image_url=article.image_url,
                published_at=article.published_at or now, source=source,
            )
            session.add(row)
            session.flush()
            plan_article(session, row, settings, now, breaking=article.priority == "breaking")
    except IntegrityError:
        # Another process stored the same guid between our check and our insert.
        with db.session() as session:
            known = session.scalar(select(Article).where(Article.guid == guid))
        if known is None:
            raise
        return Ingested(known.id, guid, False, known.published_at)
    return Ingested(row.id, guid, True, row.published_at)

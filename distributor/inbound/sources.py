"""Other shapes of an article, turned into the article JSON of INTERFACE.md:
an RSS/Atom item as feedparser gives it, a WordPress REST post object, a Ghost
`post.published` webhook body.

Each converter only reshapes; distributor.inbound.article validates and sanitises the
result like any other article. A missing or wrong field raises InvalidInput
naming it in the source format (e.g. `title.rendered`, `post.current.url`).
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import nh3

from distributor.errors import InvalidInput, SkipItem

FORMATS = ("json", "wordpress", "ghost")


def plain_text(markup: str | None, limit: int = 5000) -> str:
    """HTML (an excerpt, a rendered title) as one line of plain text."""
    if not markup:
        return ""
    text = html.unescape(nh3.clean(markup, tags=set()))
    return " ".join(text.split())[:limit]


def _refuse(source: str, field: str, why: str) -> InvalidInput:
    return InvalidInput(f"invalid {source} body", {field: why})


def _rendered(post: dict, key: str, source: str) -> str:
    """WordPress fields are objects {"rendered": "..."}; accept a bare string too."""
    value = post.get(key)
    if isinstance(value, dict):
        value = value.get("rendered")
    if value is not None and not isinstance(value, str):
        raise _refuse(source, f"{key}.rendered", "must be a string")
    return value or ""


def _wp_terms(post: dict) -> tuple[list[str], list[str]]:
    """Category and tag names from `_embedded["wp:term"]` (present with ?_embed)."""
    categories: list[str] = []
    tags: list[str] = []
    groups = (post.get("_embedded") or {}).get("wp:term") or []
    for group in groups if isinstance(groups, list) else []:
        for term in group if isinstance(group, list) else []:
            if not isinstance(term, dict) or not isinstance(term.get("name"), str):
                continue
            name = plain_text(term["name"], 200)
            target = categories if term.get("taxonomy") == "category" else tags
            if name and name not in target:
                target.append(name)
    return categories, tags


def _first_embedded(post: dict, key: str) -> dict:
    items = (post.get("_embedded") or {}).get(key)
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return items[0]
    return {}


def wordpress_to_article(post: Any) -> dict[str, Any]:
    """A WordPress REST API post object (GET /wp-json/wp/v2/posts/ID?_embed)."""
    source = "WordPress post"
    if not isinstance(post, dict):
        raise _refuse(source, "body", "must be a JSON object")
    status = post.get("status")
    if status is not None and status != "publish":
        raise _refuse(source, "status", f"is {status!r}; only published posts are sent")
    title = plain_text(_rendered(post, "title", source), 500)
    if not title:
        raise _refuse(source, "title.rendered", "required")
    link = post.get("link")
    if not isinstance(link, str) or not link:
        raise _refuse(source, "link", "required")
    categories, tags = _wp_terms(post)
    guid = _rendered(post, "guid", source) or link
    date_gmt = post.get("date_gmt")
    if date_gmt is not None and not isinstance(date_gmt, str):
        raise _refuse(source, "date_gmt", "must be a string")
    article: dict[str, Any] = {
        "guid": html.unescape(guid),
        "url": link,
        "title": title,
        "summary": plain_text(_rendered(post, "excerpt", source)),
        "body_html": _rendered(post, "content", source),
        "section": categories[0] if categories else None,
        "tags": (categories + [t for t in tags if t not in categories])[:50],
        "author": plain_text(_first_embedded(post, "author").get("name"), 200) or None,
        "image_url": _first_embedded(post, "wp:featuredmedia").get("source_url") or None,
    }
    if date_gmt:
        # WordPress gives date_gmt without an offset; it is UTC by definition.
        has_zone = date_gmt.endswith("Z") or "+" in date_gmt[10:]
        article["published_at"] = date_gmt if has_zone else date_gmt + "Z"
    return article


def ghost_to_article(body: Any) -> dict[str, Any]:
    """A Ghost `post.published` webhook body: {"post": {"current": {...}}}."""
    source = "Ghost webhook"
    if not isinstance(body, dict):
        raise _refuse(source, "body", "must be a JSON object")
    post = body.get("post")
    current = post.get("current") if isinstance(post, dict) else None
    if not isinstance(current, dict) or not current:
        raise _refuse(source, "post.current", "required (a post.published webhook body)")
    status = current.get("status")
    if status is not None and status != "published":
        raise _refuse(source, "post.current.status",
                      f"is {status!r}; only published posts are sent")
    for key in ("title", "url"):
        if not isinstance(current.get(key), str) or not current[key].strip():
            raise _refuse(source, f"post.current.{key}", "required")
    excerpt = current.get("custom_excerpt") or current.get("excerpt") or ""
    visibility = current.get("visibility") or "public"
    tags = [t["name"] for t in current.get("tags") or []
            if isinstance(t, dict) and isinstance(t.get("name"), str)]
    primary_tag = current.get("primary_tag") if isinstance(current.get("primary_tag"), dict) else {}
    author = (current.get("primary_author")
              if isinstance(current.get("primary_author"), dict) else {})
    return {
        # Ghost's own RSS feed uses the post id as guid: the two paths dedupe.
        "guid": str(current.get("id") or current["url"]),
        "url": current["url"],
        "title": " ".join(current["title"].split()),
        "summary": plain_text(excerpt if isinstance(excerpt, str) else ""),
        # Members-only posts: never copy the paid body into email or channels.
        "body_html": (current.get("html") or "") if visibility == "public" else "",
        "section": primary_tag.get("name") or (tags[0] if tags else None),
        "tags": tags[:50],
        "author": author.get("name") or None,
        "image_url": current.get("feature_image") or None,
        "published_at": current.get("published_at") or None,
    }




def _http(url: Any) -> str | None:
    if not isinstance(url, str):
        return None
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def _entry_image(entry: Any) -> str | None:
    """An image enclosure, else media:content with an image, else media:thumbnail."""
    for enclosure in entry.get("enclosures") or []:
        if str(enclosure.get("type", "")).startswith("image/") and _http(enclosure.get("href")):
            return _http(enclosure.get("href"))
    for media in entry.get("media_content") or []:
        is_image = media.get("medium") == "image" or str(media.get("type", "")).startswith("image/")
        if is_image and _http(media.get("url")):
            return _http(media.get("url"))
    for thumbnail in entry.get("media_thumbnail") or []:
        if _http(thumbnail.get("url")):
            return _http(thumbnail.get("url"))
    return None


def _entry_section(categories: list[str], sections: dict[str, str],
                   fixed: str | None) -> str | None:
    """The first category named in the feed's `sections` mapping, else the feed's
    `section`, else the item's first category."""
    mapping = {key.casefold(): value for key, value in sections.items()}
    for category in categories:
        if category.casefold() in mapping:
            return mapping[category.casefold()]
    return fixed or (categories[0] if categories else None)


def entry_to_article(entry: Any, feed: Any) -> tuple[str, dict[str, Any]]:
    """(guid, article data) for one feedparser entry of `feed` (a FeedConfig)."""
    link = _http(entry.get("link"))
    title_detail = entry.get("title_detail") or {}
    title = entry.get("title") or ""
    title = plain_text(title, 500) if "html" in title_detail.get("type", "") else " ".join(
        title.split())[:500]
    label = f"{title!r}" if title else "untitled item"
    if not link:
        raise SkipItem(f"{label}: no link" if not entry.get("link") else
                       f"{label}: link is not an http(s) URL")
    guid = (entry.get("id") or link).strip()
    if len(guid) > 500:
        raise SkipItem(f"{label}: guid longer than 500 characters")
    if not title:
        raise SkipItem(f"{link}: no title")
    categories = []
    for tag in entry.get("tags") or []:
        name = " ".join(str(tag.get("term") or tag.get("label") or "").split())[:200]
        if name and name not in categories:
            categories.append(name)
    content = entry.get("content") or []
    body = content[0].get("value", "") if content else ""
    author = (entry.get("author_detail") or {}).get("name") or entry.get("author")
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    return guid, {
        "guid": guid,
        "url": link,
        "title": title,
        "summary": plain_text(entry.get("summary")),
        "body_html": body or entry.get("summary") or "",
        "section": _entry_section(categories, feed.sections, feed.section),
        "tags": categories[:50],
        "author": " ".join(author.split())[:200] if isinstance(author, str) and author.strip()
        else None,
        "image_url": _entry_image(entry),
        "published_at": datetime(*stamp[:6], tzinfo=UTC) if stamp else None,
    }


def convert(format_name: str | None, body: bytes | str) -> Any:
    """The raw request body in `format_name` as article data for distributor.inbound.article.ingest."""
    name = (format_name or "json").lower()
    if name not in FORMATS:
        raise InvalidInput(f"unknown format {format_name!r}",
                           {"format": f"must be one of {', '.join(FORMATS)}"})
    if name == "json":
        return body
    try:
        data = json.loads(body)
    except RecursionError:
        raise InvalidInput("body is not valid JSON: nested too deeply",
                           {"body": "nested too deeply"}) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"body is not valid JSON: {exc}", {"body": "not valid JSON"}) from None
    return wordpress_to_article(data) if name == "wordpress" else ghost_to_article(data)

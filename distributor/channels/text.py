"""Channel text: templates/channels/<type>.j2 (or the channel's own `template`),
rendered without HTML autoescaping; each format escapes with its own filter
(adapters/formats.py), and the result is shortened to the adapter's limit
(shorten.py) with the article link kept."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from distributor.channels.adapters import adapter_class
from distributor.channels.adapters.formats import FILTERS, measure, slack_url
from distributor.channels.shorten import shorten
from distributor.config import ChannelConfig, Settings
from distributor.templates import environment


@dataclass(frozen=True)
class ChannelText:
    text: str
    length: int  # as the service counts it
    limit: int
    format: str
    shortened: bool


def link_forms(url: str) -> list[str]:
    """How the article link may appear in rendered text, in any format."""
    return [url, html.escape(url, quote=True), slack_url(url)]


def render_channel(settings: Settings, channel: ChannelConfig,
                   article: dict[str, Any]) -> ChannelText:
    limits = adapter_class(channel.type).text_limits(channel.options, article)
    env = environment(settings.templates_dir, autoescape=False)
    env.filters.update(FILTERS)
    name = channel.template or f"channels/{channel.type}.j2"
    context = {"article": article, "publisher": settings.publisher, "channel": channel.name}
    full = env.get_template(name).render(context).strip()
    text = full
    if limits.format != "json":
        text = shorten(full, limits.max_length, limits.format, keep=link_forms(article["url"]))
    return ChannelText(text, measure(text, limits.format), limits.max_length, limits.format,
                       shortened=text != full)


def render_channel_text(settings: Settings, channel: ChannelConfig,
                        article: dict[str, Any]) -> str:
    return render_channel(settings, channel, article).text

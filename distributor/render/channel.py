"""Channel text: templates/channels/<type>.j2 (or the channel's own `template`),
rendered without HTML autoescaping; each format escapes with its own filter."""

from __future__ import annotations

from typing import Any

from distributor.config import ChannelConfig, Settings
from distributor.render.templates import environment


def render_channel_text(settings: Settings, channel: ChannelConfig,
                        article: dict[str, Any]) -> str:
    env = environment(settings.templates_dir, autoescape=False)
    name = channel.template or f"channels/{channel.type}.j2"
    context = {"article": article, "publisher": settings.publisher, "channel": channel.name}
    return env.get_template(name).render(context).strip()

"""Channel adapters, one module per service, registered here by hand."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from distributor.channels.adapters.base import Adapter, Limits, Outgoing, Receipt, http_url
from distributor.channels.adapters.discord import DiscordAdapter
from distributor.channels.adapters.slack import SlackAdapter
from distributor.channels.adapters.telegram import TelegramAdapter
from distributor.channels.adapters.waha import WahaAdapter
from distributor.channels.adapters.webhook import WebhookAdapter
from distributor.channels.adapters.whapi import WhapiAdapter
from distributor.errors import ConfigError

ADAPTERS: dict[str, type[Adapter]] = {
    WebhookAdapter.type: WebhookAdapter,
    WahaAdapter.type: WahaAdapter,
    WhapiAdapter.type: WhapiAdapter,
    TelegramAdapter.type: TelegramAdapter,
    SlackAdapter.type: SlackAdapter,
    DiscordAdapter.type: DiscordAdapter,
}


def adapter_class(channel_type: str) -> type[Adapter]:
    try:
        return ADAPTERS[channel_type]
    except KeyError:
        known = ", ".join(sorted(ADAPTERS))
        raise ConfigError(f"type: unknown channel type {channel_type!r} (known: {known})") from None


def validate_channel_options(channel_type: str, options: dict[str, Any],
                             base_url: str | None = None) -> Any:
    """Check the type-specific keys of a [[channels]] table; ConfigError names the key."""
    cls = adapter_class(channel_type)
    if base_url is not None:
        try:
            http_url(base_url, "base_url")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    elif getattr(cls, "requires_base_url", False):
        raise ConfigError(f"base_url: required for type {channel_type!r} (it has no public API)")
    try:
        return cls.Options.model_validate(options)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "options"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            known = ", ".join(cls.Options.model_fields)
            message = f"not a key of type {channel_type!r} (its keys: {known})"
        raise ConfigError(f"{where}: {message}") from None


def make_adapter(channel, http, timeout: float) -> Adapter:
    """The adapter for a configured channel (a ChannelConfig)."""
    cls = adapter_class(channel.type)
    return cls(channel.name, channel.base_url or cls.default_base_url, channel.options,
               http, timeout)


__all__ = ["ADAPTERS", "Adapter", "Limits", "Outgoing", "Receipt", "adapter_class",
           "make_adapter", "validate_channel_options"]

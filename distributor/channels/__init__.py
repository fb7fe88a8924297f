"""Channel adapters, one module per type, registered here by hand."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from distributor.channels.base import Adapter, Limits, Outgoing, Receipt
from distributor.channels.webhook import WebhookAdapter

ADAPTERS: dict[str, type[Adapter]] = {
    WebhookAdapter.type: WebhookAdapter,
}


def adapter_class(channel_type: str) -> type[Adapter]:
    try:
        return ADAPTERS[channel_type]
    except KeyError:
        known = ", ".join(sorted(ADAPTERS))
        raise ValueError(f"type: unknown channel type {channel_type!r} (known: {known})") from None


def validate_channel_options(channel_type: str, options: dict[str, Any]) -> Any:
    """Check the type-specific keys of a [[channels]] table; ValueError names the key."""
    cls = adapter_class(channel_type)
    try:
        return cls.Options.model_validate(options)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "options"
        message = error["msg"].removeprefix("Value error, ")
        raise ValueError(f"{where}: {message}") from None


__all__ = ["ADAPTERS", "Adapter", "Limits", "Outgoing", "Receipt", "adapter_class",
           "validate_channel_options"]

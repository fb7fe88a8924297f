"""Optional DKIM signing. h= covers From, Subject and both List-Unsubscribe headers
(RFC 8058 asks for that), plus the other identity headers."""

from __future__ import annotations

from collections.abc import Callable

import dkim

from distributor.config import DkimConfig, Settings
from distributor.email.message import WireBytes, from_domain

SIGNED_HEADERS = [b"from", b"to", b"subject", b"date", b"message-id", b"list-id",
                  b"list-unsubscribe", b"list-unsubscribe-post", b"mime-version",
                  b"content-type"]


def key_for(settings: Settings, domain: str | None) -> DkimConfig | None:
    """With several keys ([[dkim]]), the one for the From domain (or a parent of it, as
    DMARC's relaxed alignment allows); else the first."""
    keys = ([settings.file.dkim] if settings.file.dkim else []) + settings.file.dkim_keys
    domain = (domain or "").lower()
    for config in keys:
        if domain == config.domain.lower() or domain.endswith("." + config.domain.lower()):
            return config
    return keys[0] if keys else None


def dkim_signer(settings: Settings, domain: str | None = None) -> Callable[[bytes], bytes]:
    """A function that signs a message from `domain` (None: DISTRIBUTOR_FROM's), or
    returns it as is when DKIM is not configured."""
    config = key_for(settings, domain or from_domain(settings.from_address))
    if config is None:
        return lambda message: message
    key = config.private_key()
    selector, domain = config.selector.encode(), config.domain.encode()

    def sign(message: bytes) -> bytes:
        signature = dkim.sign(message, selector, domain, key, include_headers=SIGNED_HEADERS,
                              linesep=b"\r\n")
        signed = signature + message  # the signature's lines are CRLF, folded with a space
        return WireBytes(signed) if isinstance(message, WireBytes) else signed

    return sign

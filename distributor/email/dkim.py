"""Optional DKIM signing. h= covers From, Subject and both List-Unsubscribe headers
(RFC 8058 asks for that), plus the other identity headers."""

from __future__ import annotations

from collections.abc import Callable

import dkim

from distributor.config import Settings

SIGNED_HEADERS = [b"from", b"to", b"subject", b"date", b"message-id", b"list-id",
                  b"list-unsubscribe", b"list-unsubscribe-post", b"mime-version",
                  b"content-type"]


def dkim_signer(settings: Settings) -> Callable[[bytes], bytes]:
    """A function that signs a message, or returns it as is when DKIM is not configured."""
    config = settings.file.dkim
    if config is None:
        return lambda message: message
    key = config.private_key()
    selector, domain = config.selector.encode(), config.domain.encode()

    def sign(message: bytes) -> bytes:
        signature = dkim.sign(message, selector, domain, key, include_headers=SIGNED_HEADERS,
                              linesep=b"\r\n")
        return signature + message

    return sign

"""JSON log lines carry the context and never a secret."""

from __future__ import annotations

import io
import json
import logging

from distributor.logs import bind, setup_logging, unbind
from tests.conftest import API_TOKEN, SECRET_KEY


def test_json_lines_carry_context_and_redact_every_secret(make_settings):
    settings = make_settings(log_format="json")
    stream = io.StringIO()
    setup_logging(settings, level="INFO", stream=stream)
    log = logging.getLogger("distributor.test")
    token = bind(task="channels.post", post_id=12)
    try:
        log.info("calling hook with token %s", API_TOKEN, extra={"channel": "ops-hook",
                                                                 "guid": "g-1"})
        try:
            raise RuntimeError(f"boom {SECRET_KEY}")
        except RuntimeError:
            log.exception("failed")
    finally:
        unbind(token)
    log.info("after")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["msg"] == "calling hook with token [redacted]"
    assert (lines[0]["channel"], lines[0]["guid"], lines[0]["post_id"]) == ("ops-hook", "g-1", 12)
    assert lines[0]["level"] == "info" and lines[0]["logger"] == "distributor.test"
    assert SECRET_KEY not in stream.getvalue() and API_TOKEN not in stream.getvalue()
    assert "[redacted]" in lines[1]["error"]
    assert "post_id" not in lines[2]
    logging.getLogger().handlers = [h for h in logging.getLogger().handlers
                                    if not getattr(h, "_distributor_handler", False)]


def test_text_lines_show_context_as_key_values(make_settings):
    stream = io.StringIO()
    setup_logging(make_settings(), level="INFO", stream=stream)
    logging.getLogger("distributor.test").info("sent", extra={"send_id": 3})
    assert stream.getvalue().rstrip().endswith("distributor.test: sent [send_id=3]")
    logging.getLogger().handlers = [h for h in logging.getLogger().handlers
                                    if not getattr(h, "_distributor_handler", False)]

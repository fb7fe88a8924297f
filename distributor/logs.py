"""Logging for every process (CLI, API, worker, beat): one line per event, as
text or as JSON lines (DISTRIBUTOR_LOG_FORMAT=json), with every secret we hold
redacted before it reaches a handler.

Context travels as `extra=`: guid, send_id, batch_id, post_id, channel, list
become JSON fields (and key=value pairs in text)."""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

from distributor.config import Settings

CONTEXT = ("guid", "article_id", "send_id", "batch_id", "post_id", "channel", "list",
           "failure_id", "task", "task_id")
REDACTED = "[redacted]"
_MARK = "_distributor_handler"
# What the current task works on; set by the worker around each task (tasks/app.py).
current: ContextVar[dict | None] = ContextVar("distributor_log_context", default=None)


def bind(**values) -> object:
    """Attach values to every log line of this thread until `unbind(token)`."""
    return current.set({k: v for k, v in values.items() if v is not None})


def unbind(token) -> None:
    try:
        current.reset(token)
    except ValueError:  # set in another context: nothing of ours to undo here
        current.set(None)


class AddContext(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (current.get() or {}).items():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        return True


class RedactSecrets(logging.Filter):
    """Replaces every secret value in the message, its arguments and the traceback."""

    def __init__(self, secrets: list[str]):
        super().__init__()
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what we have
            message = str(record.msg)
        record.msg, record.args = self.scrub(message), None
        if record.exc_info:
            record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        for key in CONTEXT:
            value = getattr(record, key, None)
            if isinstance(value, str):
                setattr(record, key, self.scrub(value))
        return True


class RedactLinkTokens(logging.Filter):
    """Unsubscribe and confirm links carry a capability in their path: access log lines
    show `/unsubscribe/[redacted]` instead. Named API tokens (dst_…) are redacted too."""

    LINK = re.compile(r"(/(?:unsubscribe|confirm)/)[^\s\"?#]+")
    NAMED_TOKEN = re.compile(r"dst_[A-Za-z0-9_-]{16,}")

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it to the formatter
            return True
        scrubbed = message
        if "/unsubscribe/" in message or "/confirm/" in message:
            scrubbed = self.LINK.sub(r"\1" + REDACTED, scrubbed)
        if "dst_" in scrubbed:
            scrubbed = self.NAMED_TOKEN.sub(REDACTED, scrubbed)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in CONTEXT:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["error"] = record.exc_text
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(f"{key}={getattr(record, key)}" for key in CONTEXT
                           if getattr(record, key, None) is not None)
        return f"{line} [{context}]" if context else line


def setup_logging(settings: Settings, level: str | int | None = None, stream=None) -> None:
    """Install our handler on the root logger, once per process (repeat calls
    replace it, so tests and re-configured processes do not log twice)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _MARK, True)
    handler.setFormatter(JSONFormatter() if settings.log_format == "json" else TextFormatter())
    handler.addFilter(AddContext())
    handler.addFilter(RedactSecrets(settings.secret_values()))
    handler.addFilter(RedactLinkTokens())
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not getattr(h, _MARK, False)]
    root.addHandler(handler)
    root.setLevel(level or settings.log_level)
    for noisy in ("urllib3", "httpx", "kombu", "amqp", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # uvicorn keeps its own handlers; route its lines through ours
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers, logger.propagate = [], True

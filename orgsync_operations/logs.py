"""Structured logging for orgsync processes: one line per event, `key=value` text or JSON.

orgsync's log calls read like `log.warning("sink retry target=%s records=%d", ...)`: an event
name, then `key=value` pairs (messages of other libraries are kept whole). The formatters here
turn each record into one line with fixed fields (`ts`, `level`, `logger`, `event`) followed by
those pairs, so both formats carry the same fields. A `key=org/module/id` pair (the key of every
topic) also yields `org`, `module` and `record_id`, so a line names the record even when its call
site only passed the key.

`SecretRedactor` is the last line of defence: secrets never belong in a log call, but if one slips
into a message, an argument, an `extra` field or a traceback, the configured secret values (and
anything shaped like a Zoho OAuth token) are replaced by `***` before any handler writes it.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Iterable
from typing import Any, TextIO

import orjson

FORMATS = ("text", "json")
REDACTED = "***"
MIN_SECRET_LENGTH = 6  # shorter values would redact ordinary words
# Zoho access/refresh tokens: 1000.<32 hex>.<32 hex>
_ZOHO_TOKEN = re.compile(r"\b1000\.[0-9a-f]{32}\.[0-9a-f]{32}\b")
_PAIR = re.compile(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=")
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_FIXED = ("ts", "level", "logger", "event")
TRACEBACK = "traceback"
OWN_LOGGERS = ("pipeline", "connectors", "zoho_emulator", "orgsync")


def split_message(message: str) -> tuple[str, dict[str, str]]:
    """`"sink retry target=a records=3"` -> `("sink retry", {"target": "a", "records": "3"})`.

    A value runs up to the next ` name=`, so the last value may hold spaces (a Zoho message).
    """
    matches = list(_PAIR.finditer(message))
    if not matches:
        return message.strip(), {}
    event = message[: matches[0].start()].strip()
    pairs: dict[str, str] = {}
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        end = following.start() if following is not None else len(message)
        pairs[match.group(1)] = message[match.end() : end].strip()
    return event, pairs


def record_fields(pairs: dict[str, Any]) -> dict[str, Any]:
    """`org`, `module` and `record_id` from a topic key `org/module/id`, unless already given."""
    key = pairs.get("key")
    parts = key.split("/") if isinstance(key, str) else []
    if len(parts) != 3 or not all(parts):
        return {}
    found = dict(zip(("org", "module", "record_id"), parts, strict=True))
    return {name: value for name, value in found.items() if name not in pairs}


def event_fields(record: logging.LogRecord) -> dict[str, Any]:
    """Every field of one log line, fixed fields first."""
    message = record.getMessage()
    # Only orgsync's own messages follow the `event key=value` convention; a library's message
    # (which may hold `=` inside reprs) stays whole.
    event, pairs = split_message(message) if record.name.startswith(OWN_LOGGERS) else (message, {})
    extra = {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}
    fields: dict[str, Any] = {
        "ts": _timestamp(record.created),
        "level": record.levelname.lower(),
        "logger": record.name,
        "event": event,
    }
    fields.update({k: v for k, v in {**pairs, **extra}.items() if k not in _FIXED})
    fields.update(record_fields(fields))
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        fields[TRACEBACK] = record.exc_text
    return fields


def _timestamp(created: float) -> str:
    millis = int(created * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{millis:03d}Z"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return orjson.dumps(event_fields(record), default=str).decode()


class TextFormatter(logging.Formatter):
    """`ts=… level=warning logger=pipeline.sync.sink event="sink retry" target=tgt records=3`."""

    def format(self, record: logging.LogRecord) -> str:
        fields = event_fields(record)  # a traceback too stays on the line, quoted
        return " ".join(f"{name}={_quote(value)}" for name, value in fields.items())


def _quote(value: Any) -> str:
    text = str(value)
    if text and not any(c in text for c in ' "=\n\t'):
        return text
    return orjson.dumps(text).decode()


class SecretRedactor(logging.Filter):
    """Replaces configured secret values and Zoho-token-shaped strings by `***` in a record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        values = {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
        # longest first, so a secret containing another is replaced whole
        self._secrets = sorted(values, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _ZOHO_TOKEN.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD and isinstance(value, str):
                setattr(record, name, self.redact(value))
        return True


def secret_values(settings: Any) -> list[str]:
    """Every secret of a `orgsync_kernel.settings.Settings` (ingress secrets, org credentials)."""
    secrets = [settings.ingress.webhook_secret, settings.ingress.admin_secret]
    for org in settings.orgs.values():
        secrets += [org.client_secret, org.refresh_token]
    return [s.get_secret_value() for s in secrets if s is not None]


def configure(
    level: str = "info",
    fmt: str = "text",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> logging.Handler:
    """Make the root logger write one structured line per event to `stream` (stderr)."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(SecretRedactor(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler

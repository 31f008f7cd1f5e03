"""Notification API callbacks (reference §5.3): a JSON object with ``channel_id``, ``token``,
``module``, ``ids`` and ``operation`` (insert/update/delete). Pure parsing; the server
checks the token between ``parse_envelope`` and ``parse_callback``.

An ``update`` whose ``affected_fields`` name no field is taken for a related action (reference
§20: a note, attachment or linked record of the parent changed, the parent's own fields did
not; Zoho documents no payload for it): its hints ask for the records' related items.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from .hints import BadInput, HintBatch, check_ids, check_module, check_operation

_MAX_SERVER_TIME_MS = 10**14  # year ~5138: beyond it the value is not a time


@dataclass(frozen=True)
class Envelope:
    """The parts needed to authenticate a callback, and the whole body for the rest."""

    channel_id: str
    token: str | None
    body: dict[str, Any]


def parse_envelope(raw: bytes) -> Envelope:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadInput("malformed", "body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadInput("malformed", "body must be a JSON object")
    channel = body.get("channel_id")
    if isinstance(channel, int) and not isinstance(channel, bool):
        channel = str(channel)
    if not isinstance(channel, str) or not channel:
        raise BadInput("unauthorized", "channel_id is missing", status=401)
    token = body.get("token")
    return Envelope(channel, token if isinstance(token, str) else None, body)


def parse_callback(envelope: Envelope, synced: Collection[str]) -> HintBatch:
    body = envelope.body
    module = check_module(body.get("module"), synced)
    ids = body.get("ids")
    if not isinstance(ids, list):
        raise BadInput("malformed", "ids must be a list")
    operation = check_operation(body.get("operation"))
    return HintBatch(
        module,
        check_ids(ids),
        operation,
        _server_time(body.get("server_time")),
        related=operation == "update" and _no_field_named(body.get("affected_fields")),
    )


def _no_field_named(affected: Any) -> bool:
    """``affected_fields`` is a list of ``{id: [field, …]}`` in which no field is named."""
    if not isinstance(affected, list):
        return False
    for entry in affected:
        if not isinstance(entry, dict) or any(entry.values()):
            return False
    return True


def _server_time(value: Any) -> str | None:
    """Zoho's ``server_time`` (epoch milliseconds) as ISO-8601 UTC text."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < _MAX_SERVER_TIME_MS:
        return None
    moment = datetime.fromtimestamp(value / 1000, UTC)
    return moment.isoformat(timespec="milliseconds")

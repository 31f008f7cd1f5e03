"""Workflow-rule webhooks (reference §6): Zoho sends whatever the admin configured, so we
accept the same named parameters from the URL query, a form body or a JSON object body
(see docs/webhooks.md). Pure parsing; the server does the I/O."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any
from urllib.parse import parse_qs

import orjson
from multidict import MultiMapping

from .hints import BadInput, HintBatch, check_ids, check_module, check_operation, event_time

Fields = dict[str, list[Any]]
MAX_FIELDS = 1000
SECRET_PARAM = "secret"
SECRET_HEADER = "X-Orgsync-Secret"


def query_fields(query: MultiMapping[Any]) -> Fields:
    """A MultiDict (request.query / request.post()) as name -> values."""
    return {key: list(query.getall(key)) for key in query.keys()}


def body_fields(body: bytes, content_type: str) -> Fields:
    """Fields of a JSON object or form-encoded body; an empty body has none."""
    if not body.strip():
        return {}
    if content_type == "application/x-www-form-urlencoded":
        return _form(body)
    if content_type == "application/json" or body.lstrip()[:1] == b"{":
        return _json(body)
    return _form(body)


def _json(body: bytes) -> Fields:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadInput("malformed", "body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadInput("malformed", "JSON body must be an object")
    return {str(k): v if isinstance(v, list) else [v] for k, v in data.items()}


def _form(body: bytes) -> Fields:
    try:
        text = body.decode("utf-8")
        parsed = parse_qs(
            text, keep_blank_values=True, strict_parsing=True, max_num_fields=MAX_FIELDS
        )
    except ValueError:  # also UnicodeDecodeError
        raise BadInput("malformed", "body is neither a JSON object nor a form") from None
    return {key: list(values) for key, values in parsed.items()}


def merged(query: Fields, body: Fields) -> Fields:
    """Body parameters win over query parameters of the same name."""
    return {**query, **body}


def secret_of(fields: Fields) -> str | None:
    values = fields.get(SECRET_PARAM) or []
    return values[0] if len(values) == 1 and isinstance(values[0], str) else None


def parse_webhook(fields: Fields, synced: Collection[str]) -> HintBatch:
    module = check_module(_single(fields, "module"), synced)
    ids = check_ids(_ids(fields))
    operation = check_operation(_single(fields, "operation"), default="update")
    when = event_time(_single(fields, "modified_time") or _single(fields, "event_time"))
    return HintBatch(module, ids, operation, when)


def _single(fields: Fields, name: str) -> Any:
    values = fields.get(name) or [None]
    if any(value != values[0] for value in values[1:]):
        raise BadInput("malformed", f"{name} is given more than once")
    return values[0]


def _ids(fields: Fields) -> Iterable[Any]:
    yield from fields.get("id") or ()
    for value in fields.get("ids") or ():
        yield from (
            (part.strip() for part in value.split(",")) if isinstance(value, str) else [value]
        )

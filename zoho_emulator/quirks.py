"""Zoho's production quirks, as switchable faults (off by default; README, *Quirks*).

* ``broken_bodies`` / ``broken_body_rate`` (+ ``broken_body``: ``truncated`` | ``empty``): a
  200 answer of a single-record GET or of the Notification API (``/actions/watch``) arrives
  with its JSON cut in half, or empty — seen in production integrations of both.
* ``hidden_fields`` ``{module: [field, …]}``: fields hidden from the integration user's layout;
  a search criterion or a COQL column naming one answers ``INVALID_QUERY`` as an unknown field.
* Formula fields change without ``Modified_Time`` moving: ``POST
  /__emulator/orgs/{org}/formulas {"module", "id", "values": {field: value}}`` sets formula
  values silently (no write event, no notification, no ``Modified_Time``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
from aiohttp import web

from .http import json_response
from .keys import STATE
from .schema import ModuleDef
from .state import OrgState

BROKEN_BODY_KINDS = ("truncated", "empty")
_NOT_RECORD = frozenset({"settings", "actions", "users", "org", "coql"})
_SUB_RESOURCES = frozenset({"deleted", "search", "upsert", "actions"})


def hidden(org: OrgState, module: str) -> frozenset[str]:
    fields = org.faults.hidden_fields.get(module)
    return frozenset(fields) if fields else frozenset()


def without_hidden(org: OrgState, module: ModuleDef) -> ModuleDef:
    """The module as the integration user sees it: its hidden fields are unknown."""
    gone = hidden(org, module.api_name)
    if not gone:
        return module
    kept = {name: fd for name, fd in module.fields.items() if name not in gone}
    return dataclasses.replace(module, fields=kept)


def _eligible(request: web.Request) -> bool:
    parts = request.path.split("/")[3:]  # after /crm/{v}
    if parts[:2] == ["actions", "watch"]:
        return True
    return (
        request.method == "GET"
        and len(parts) == 2
        and parts[0] not in _NOT_RECORD
        and parts[1] not in _SUB_RESOURCES
    )


def _due(org: OrgState) -> bool:
    faults = org.faults
    if faults.broken_bodies > 0:
        faults.broken_bodies -= 1
        return True
    return bool(faults.broken_body_rate) and org.random.random() < faults.broken_body_rate


def maybe_break(
    org: OrgState, request: web.Request, response: web.StreamResponse
) -> web.StreamResponse:
    """The answer with its body broken when a body fault is due (else unchanged)."""
    faults = org.faults
    if not (faults.broken_bodies or faults.broken_body_rate):
        return response
    if response.status != 200 or not isinstance(response, web.Response):
        return response
    if not _eligible(request) or not _due(org):
        return response
    body = response.body if isinstance(response.body, bytes) else b""
    cut = b"" if faults.broken_body == "empty" else body[: len(body) // 2]
    content_type = response.headers.get("Content-Type", "application/json")
    return web.Response(body=cut, status=200, headers={"Content-Type": content_type})


async def set_formulas(request: web.Request) -> web.Response:
    org = request.app[STATE].orgs.get(request.match_info["org"])
    body = orjson.loads(await request.read() or b"null")
    if org is None or not isinstance(body, dict):
        return json_response({"error": "unknown org or body not a JSON object"}, 404)
    module, rid, values = body.get("module"), body.get("id"), body.get("values")
    store = org.stores.get(module) if isinstance(module, str) else None
    record = store.records.get(str(rid)) if store else None
    if store is None or record is None or not isinstance(values, dict):
        return json_response({"error": "unknown module or record, or no values"}, 404)
    if any(store.module.fields.get(k) is None for k in values) or any(
        store.module.fields[k].data_type != "formula" for k in values
    ):
        return json_response({"error": "only formula fields change silently"}, 400)
    record.values = {**record.values, **values}  # replaced, never changed in place
    return json_response({"id": record.id, "values": _formulas(record.values, values)})


def _formulas(values: dict[str, Any], changed: dict[str, Any]) -> dict[str, Any]:
    return {k: values.get(k) for k in changed}


def quirk_routes() -> list[web.RouteDef]:
    return [web.post("/__emulator/orgs/{org}/formulas", set_formulas)]

"""/__emulator/: introspection and fault injection (not Zoho API, never credit-metered)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from .http import json_response
from .keys import STATE
from .state import EmulatorState, OrgState


def _error(status: int, message: str) -> web.Response:
    return json_response({"error": message}, status)


def _org(state: EmulatorState, name: Any) -> OrgState | None:
    return state.orgs.get(name) if isinstance(name, str) else None


async def stats(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return json_response({"orgs": {name: org.stats.as_dict() for name, org in state.orgs.items()}})


async def write_log(request: web.Request) -> web.Response:
    org = _org(request.app[STATE], request.match_info["org"])
    if org is None:
        return _error(404, "unknown org")
    try:
        since = int(request.query.get("since_ms", "0"))
    except ValueError:
        return _error(400, "since_ms must be an integer")
    return json_response(org.write_log_since(since))


async def records(request: web.Request) -> web.Response:
    """Every stored record of a module, ``id`` and the stored values of ``fields`` (comma
    separated): an observer's count of a whole org at any size (the API's listings stop at
    the page-token cap), with no credits spent and no listing logic of its own to trust."""
    org = _org(request.app[STATE], request.match_info["org"])
    store = None if org is None else org.stores.get(request.match_info["module"])
    if store is None:
        return _error(404, "unknown org or module")
    names = [f for f in request.query.get("fields", "").split(",") if f]
    rows = [{"id": r.id, **{f: r.values.get(f) for f in names}} for r in store.records.values()]
    return json_response(rows)


async def faults(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return _error(400, "body must be JSON")
    if not isinstance(body, dict):
        return _error(400, "body must be a JSON object")
    org = _org(state, body.get("org"))
    if org is None:
        return _error(404, "unknown org")
    changes = {k: v for k, v in body.items() if k not in ("org", "clear", "revoke_tokens")}
    if body.get("clear"):
        org.faults.clear()
    try:
        org.faults.merge(changes)
    except ValueError as exc:
        return _error(400, str(exc))
    if body.get("revoke_tokens"):
        state.tokens.revoke_org_access(org.name)
    return json_response({"org": org.name, "faults": org.faults.as_dict()})


async def reset(request: web.Request) -> web.Response:
    request.app[STATE].reset()
    return json_response({"status": "success"})


def admin_routes() -> list[web.RouteDef]:
    return [
        web.get("/__emulator/stats", stats),
        web.get("/__emulator/orgs/{org}/log", write_log),
        web.get("/__emulator/orgs/{org}/records/{module}", records),
        web.post("/__emulator/faults", faults),
        web.post("/__emulator/reset", reset),
    ]

"""Tags API (reference §15): ``/settings/tags?module=`` and ``/{Module}[/{id}]/actions/add_tags``,
``remove_tags``. Tags live per module on the org (``OrgState.tags``); a record keeps its tag ids
in ``values["Tag"]`` and is rendered with ``Tag: [{"name", "id", "color_code"}]`` (renderer).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .http import ApiError, json_response, param_missing, read_json
from .keys import CLIENT_ID, ORG
from .record_error import RecordError, batch_status
from .records import module_of
from .state import OrgState, WriteEvent

MAX_IDS = 500
MAX_NAME = 25
# (tags per record, tags per module) by edition: Zoho help "tagging records" (Standard 5/20,
# Professional 10/60, Enterprise 10/100, Ultimate 10/200); Free: Standard's (UNCONFIRMED)
EDITION_LIMITS = {
    "free": (5, 20),
    "standard": (5, 20),
    "professional": (10, 60),
    "enterprise": (10, 100),
    "ultimate": (10, 200),
}
FORBIDDEN = frozenset("<>,")  # v7 create-tag page: no <, > or comma, and no emoji
PALETTE = frozenset(
    "#57B1FD #879BFC #658BA8 #FD87BD #969696 #F48435 #1DB9B4 #E7A826 #63C57E #F17574 #D297EE "
    "#A8C026 #B88562".split()
)


def _module_param(request: web.Request) -> tuple[OrgState, str]:
    org: OrgState = request[ORG]
    module = request.query.get("module")
    if not module:
        raise param_missing("module")
    if module not in org.modules:
        raise ApiError(
            400, "INVALID_MODULE", "the module name given seems to be invalid", {"param": "module"}
        )
    return org, module


def _shown(org: OrgState, tag: dict[str, Any]) -> dict[str, Any]:
    r = org.renderer(tag["module"])
    writer = {"name": org.api_user.name, "id": org.api_user.id}
    return {
        "id": tag["id"],
        "name": tag["name"],
        "color_code": tag["color_code"],
        "created_time": r.time(tag["created_s"]),
        "modified_time": r.time(tag["modified_s"]),
        "created_by": writer,
        "modified_by": writer,
    }


async def list_tags(request: web.Request) -> web.Response:
    org, module = _module_param(request)
    tags = [_shown(org, t) for t in org.tags.setdefault(module, {}).values()]
    per_record, per_module = limits(org)
    info = {"count": len(tags), "allowed_count": per_module, "record_limit": per_record}
    return json_response({"tags": tags, "info": info})


def limits(org: OrgState) -> tuple[int, int]:
    """Tags allowed per record and per module: the edition's, unless a switch says otherwise."""
    per_record, per_module = EDITION_LIMITS[org.config.edition]
    b = org.behaviour
    return b.tags_per_record or per_record, b.tags_per_module or per_module


def _bad_name(name: str) -> bool:
    return any(c in FORBIDDEN or _emoji(c) for c in name)


def _emoji(c: str) -> bool:
    code = ord(c)
    return code >= 0x1F000 or 0x2600 <= code <= 0x27BF


def _by_name(org: OrgState, module: str, name: str) -> dict[str, Any] | None:
    key = name.strip().lower()
    for tag in org.tags.setdefault(module, {}).values():
        if tag["name"].lower() == key:
            return tag
    return None


def _new_tag(org: OrgState, module: str, raw: dict[str, Any], path: str) -> dict[str, Any]:
    """Creates a tag after Zoho's checks (name ≤25, palette colour, unique name, module cap)."""
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RecordError("MANDATORY_NOT_FOUND", "required field not found", _at(path, "name"))
    if len(name) > MAX_NAME:
        details = {**_at(path, "name"), "maximum_length": MAX_NAME}
        raise RecordError("INVALID_DATA", "invalid data", details)
    if _bad_name(name):
        raise RecordError("INVALID_DATA", "invalid data", _at(path, "name"))
    color = raw.get("color_code")
    if color is not None and color not in PALETTE:
        raise RecordError("INVALID_DATA", "invalid data", _at(path, "color_code"))
    existing = _by_name(org, module, name)
    if existing is not None:
        details = {"api_name": "name", "id": existing["id"]}
        raise RecordError("DUPLICATE_DATA", "duplicate data", details)
    tags = org.tags.setdefault(module, {})
    if len(tags) >= limits(org)[1]:
        # v7 create-tag page: LIMIT_EXCEEDED past 100 tags in a module (details UNCONFIRMED)
        raise RecordError("LIMIT_EXCEEDED", "limit exceeded", {"limit": limits(org)[1]})
    now_s = org.now_ms() // 1000
    tag = {
        "id": org.new_id(),
        "name": name.strip(),
        "color_code": color,
        "module": module,
        "created_s": now_s,
        "modified_s": now_s,
    }
    tags[tag["id"]] = tag
    return tag


def _at(path: str, name: str) -> dict[str, Any]:
    return {"api_name": name, "json_path": f"{path}.{name}"}


async def create_tags(request: web.Request) -> web.Response:
    org, module = _module_param(request)
    body = await read_json(request)
    items = body.get("tags") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise ApiError(400, "MANDATORY_NOT_FOUND", "required field not found", {"api_name": "tags"})
    results: list[dict[str, Any]] = []
    for i, raw in enumerate(items):
        try:
            tag = _new_tag(org, module, raw if isinstance(raw, dict) else {}, f"$.tags[{i}]")
        except RecordError as exc:
            results.append(exc.entry())
            continue
        results.append(
            {
                "code": "SUCCESS",
                "details": _shown(org, tag),
                "message": "tags created successfully",
                "status": "success",
            }
        )
    return json_response({"tags": results}, batch_status(results, 201))


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


async def _tag_body(
    request: web.Request, org: OrgState, module: str
) -> tuple[list[str], dict[str, Any]]:
    body = await read_json(request)
    body = body if isinstance(body, dict) else {}
    items = body.get("tags")
    if items is None and request.query.get("tag_names"):  # the v2/v2.1 query form
        items = [{"name": n} for n in request.query["tag_names"].split(",") if n]
    if not isinstance(items, list) or not items:
        raise ApiError(400, "MANDATORY_NOT_FOUND", "required field not found", {"api_name": "tags"})
    return items, body


def _resolve(org: OrgState, module: str, items: list[Any], adding: bool) -> list[str]:
    """Tag ids of the body: by ``id``, else by ``name`` (adding an unknown name creates it)."""
    tags = org.tags.setdefault(module, {})
    out: list[str] = []
    for i, raw in enumerate(items):
        raw = raw if isinstance(raw, dict) else {}
        path = f"$.tags[{i}]"
        if raw.get("id") is not None:
            if str(raw["id"]) not in tags:
                raise ApiError(400, "INVALID_DATA", "invalid data", _at(path, "id"))
            out.append(str(raw["id"]))
            continue
        name = raw.get("name")
        found = _by_name(org, module, name) if isinstance(name, str) else None
        if found is None and adding:
            try:
                found = _new_tag(org, module, raw, path)
            except RecordError as exc:
                raise ApiError(400, exc.code, exc.message, exc.details) from None
        if found is None:
            raise ApiError(
                400, "INVALID_DATA", "invalid data", _at(path, "id" if not adding else "name")
            )
        out.append(found["id"])
    return list(dict.fromkeys(out))


async def _tagging(request: web.Request, adding: bool) -> web.Response:
    org, module = module_of(request)
    items, body = await _tag_body(request, org, module)
    one = request.match_info.get("id")
    if one is not None:
        ids = [one]
    else:
        raw_ids = body.get("ids")
        if raw_ids is None and request.query.get("ids"):
            raw_ids = request.query["ids"].split(",")
        if not isinstance(raw_ids, list) or not raw_ids:
            raise param_missing("ids")
        ids = [str(i) for i in raw_ids]
    if len(ids) > MAX_IDS:
        raise ApiError(
            400,
            "LIMIT_EXCEEDED",
            "the given limit exceeds the maximum",
            {"api_name": "ids", "limit": MAX_IDS},
        )
    tag_ids = _resolve(org, module, items, adding)
    over_write = _flag(body.get("over_write", request.query.get("over_write")))
    return _apply(request, org, module, list(dict.fromkeys(ids)), tag_ids, adding, over_write)


def _apply(
    request: web.Request,
    org: OrgState,
    module: str,
    ids: list[str],
    tag_ids: list[str],
    adding: bool,
    over_write: bool,
) -> web.Response:
    store, renderer = org.stores[module], org.renderer(module)
    limit = limits(org)[0]
    now_ms = org.now_ms()
    bump = org.behaviour.tagging_bumps_modified_time
    results: list[dict[str, Any]] = []
    changed: list[str] = []
    tagged: list[str] = []
    for rid in ids:
        record = store.records.get(rid)
        if record is None:
            details = {"id": rid}
            results.append(
                RecordError("INVALID_DATA", "the id given seems to be invalid", details).entry()
            )
            continue
        before = tuple(record.values.get("Tag") or ())
        if adding:
            after = tuple(tag_ids) if over_write else tuple(dict.fromkeys((*before, *tag_ids)))
        else:
            after = tuple(t for t in before if t not in tag_ids)
        if len(after) > limit:
            details = {"id": rid, "limit": limit}
            results.append(
                RecordError("LIMIT_EXCEEDED", "tags limit exceeded for the record", details).entry()
            )
            continue
        if after != before:
            values = {**record.values, "Tag": after}
            if not after:
                values.pop("Tag")
            record.values = values  # replaced, never changed in place (write snapshots)
            tagged.append(rid)
            if bump:
                record.modified_s = now_ms // 1000
                record.modified_by = org.api_user.id
                changed.append(rid)
        message = "tags updated successfully"  # remove too (v7 remove-tags sample)
        results.append(
            {
                "code": "SUCCESS",
                "details": {"id": rid, "tags": renderer.tag_list(record)},
                "message": message,
                "status": "success",
            }
        )
    if tagged and not bump and org.behaviour.tagging_is_related_action:
        org.emit_related(module, tuple(tagged), "tags")
    if changed:
        records = [store.records[r] for r in changed]
        org.emit_write(
            WriteEvent(
                org.name,
                module,
                "update",
                tuple(changed),
                now_ms,
                request[CLIENT_ID],
                None,
                tuple(r.values for r in records),
                lambda: tuple(map(renderer.full, records)),
            )
        )
    ok = sum(r["status"] == "success" for r in results)
    payload = {"data": results, "success_count": str(ok), "locked_count": "0"}
    return json_response(payload, batch_status(results, 200))


async def add_tags(request: web.Request) -> web.Response:
    return await _tagging(request, adding=True)


async def remove_tags(request: web.Request) -> web.Response:
    return await _tagging(request, adding=False)


def tag_routes(prefix: str) -> list[web.RouteDef]:
    return [
        web.get(prefix + "/settings/tags", list_tags),
        web.post(prefix + "/settings/tags", create_tags),
        web.post(prefix + "/{module}/actions/add_tags", add_tags),
        web.post(prefix + "/{module}/{id:\\d+}/actions/add_tags", add_tags),
        web.post(prefix + "/{module}/actions/remove_tags", remove_tags),
        web.post(prefix + "/{module}/{id:\\d+}/actions/remove_tags", remove_tags),
    ]

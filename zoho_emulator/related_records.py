"""Related records API (reference §17): ``/{Module}/{id}/{related_list}[/{related_id}]`` and the
related lists' metadata, ``/settings/related_lists?module=``.

GET lists a related list's records (``fields`` required, paging as the record list; a price
book relation adds its ``list_price``); PUT links (≤100) or changes a link's extras; DELETE
delinks. Lookup views are read-only. Linking and delinking is a related action on both records
(related.py). Deleting a record drops its relations (writes.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

from .http import (
    ApiError,
    invalid_module,
    json_response,
    param_missing,
    related_id_invalid,
    related_list_invalid,
)
from .keys import ORG
from .paging import list_page
from .record_error import RecordError, batch_status
from .records import module_of, write_body
from .related import touch_parents
from .relations import RelatedList, related_lists
from .state import OrgState
from .validation import invalid_id, mandatory_missing

MAX_IDS = 100
SERVED = ("link", "lookup")  # Notes and Attachments have their own routes


def _target(request: web.Request) -> tuple[OrgState, str, str, RelatedList]:
    """The org, parent module, parent id and related list in the path; all must exist."""
    org, module = module_of(request)
    rid = request.match_info["id"]
    if rid not in org.stores[module].records:
        raise related_id_invalid()
    found = related_lists(org.modules, module).get(request.match_info["related_list"])
    if found is None or found.kind not in SERVED:
        raise related_list_invalid()
    return org, module, rid, found


def _writable(found: RelatedList) -> None:
    """A lookup view changes through the lookup field of its records, not here (UNCONFIRMED:
    Zoho documents which relations PUT supports, not what the others answer)."""
    if found.kind != "link":
        raise ApiError(
            400, "INVALID_REQUEST_METHOD", "The http request method type is not a valid one", {}
        )


async def list_related(request: web.Request) -> web.Response:
    org, module, rid, found = _target(request)
    scope = f"|{module}|{rid}|{found.api_name}"
    if found.kind == "lookup":
        field = found.lookup_field or ""
        return list_page(
            request, org, found.module, keep=lambda r: r.values.get(field) == rid, scope=scope
        )
    linked = org.relations.of((module, rid), found.module)
    return list_page(
        request,
        org,
        found.module,
        keep=lambda r: r.id in linked,
        scope=scope,
        extra=lambda r: linked[r.id],
    )


def _success(rid: str, message: str) -> dict[str, Any]:
    return {"code": "SUCCESS", "details": {"id": rid}, "message": message, "status": "success"}


def _link_item(org: OrgState, found: RelatedList, raw: Any, i: int) -> tuple[str, dict[str, Any]]:
    """The related id and the link's extras of one item of a PUT body."""
    if not isinstance(raw, dict) or raw.get("id") in (None, ""):
        raise mandatory_missing(i, "id")
    other = str(raw["id"])
    if other not in org.stores[found.module].records:
        raise invalid_id(i)
    extras: dict[str, Any] = {}
    for name in found.required:
        value = raw.get(name)
        if value is None:
            raise mandatory_missing(i, name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            details = {"api_name": name, "json_path": f"$.data[{i}].{name}"}
            raise RecordError(
                "INVALID_DATA", "invalid data", {**details, "expected_data_type": "double"}
            )
        extras[name] = value
    return other, extras


async def link_related(request: web.Request) -> web.Response:
    org, module, rid, found = _target(request)
    _writable(found)
    data, _ = await write_body(request)
    path_id = request.match_info.get("related_id")
    if path_id is not None:  # one relation: its extras in data[0], the id in the path
        first = data[0] if isinstance(data[0], dict) else {}
        data = [{**first, "id": path_id}]
    results: list[dict[str, Any]] = []
    linked: list[str] = []
    for i, raw in enumerate(data):
        try:
            other, extras = _link_item(org, found, raw, i)
        except RecordError as exc:
            results.append(exc.entry())
            continue
        org.relations.link((module, rid), (found.module, other), extras)
        linked.append(other)
        results.append(_success(other, "relation added"))
    _related_action(org, module, rid, found, linked)
    return json_response({"data": results}, batch_status(results, 200))


def _delink_ids(request: web.Request) -> list[str]:
    path_id = request.match_info.get("related_id")
    ids = [path_id] if path_id else [i for i in request.query.get("ids", "").split(",") if i]
    if not ids:
        raise param_missing("ids")
    if len(ids) > MAX_IDS:
        raise ApiError(
            400,
            "LIMIT_EXCEEDED",
            "Limit Exceeded, You cannot give more than 100 record ids",
            {"limit": str(MAX_IDS), "param_name": "ids"},
        )
    return list(dict.fromkeys(ids))


async def delink_related(request: web.Request) -> web.Response:
    org, module, rid, found = _target(request)
    _writable(found)
    results: list[dict[str, Any]] = []
    removed: list[str] = []
    for other in _delink_ids(request):
        if org.relations.unlink((module, rid), (found.module, other)):
            removed.append(other)
            results.append(_success(other, "relation removed"))
        else:
            results.append(RecordError("INVALID_DATA", "relation not found", {"id": other}).entry())
    _related_action(org, module, rid, found, removed)
    return json_response({"data": results}, batch_status(results, 200))


def _related_action(
    org: OrgState, module: str, rid: str, found: RelatedList, others: Iterable[str]
) -> None:
    """Both ends of a changed relation had a related action: the parent in this list, each
    related record in its own list of the parent's module."""
    others = tuple(others)
    if others:
        now_s = org.now_ms() // 1000
        touch_parents(org, module, (rid,), found.api_name, now_s)
        touch_parents(org, found.module, others, module, now_s)


def _list_json(org: OrgState, module: str, n: int, found: RelatedList) -> dict[str, Any]:
    target = org.modules.get(found.module)
    # Attachments is no module of the org's: it gets a stable id of its own
    target_id = target.id if target else org.relations.list_id(found.module, "", org.new_id)
    standard = found.kind != "lookup" or not found.custom
    return {
        "id": org.relations.list_id(module, found.api_name, org.new_id),
        "sequence_number": str(n),
        "display_label": found.api_name.replace("_", " "),
        "api_name": found.api_name,
        "module": {"api_name": found.module, "id": target_id},
        "name": found.api_name,
        "action": None,
        "href": f"{module}/{{ENTITYID}}/{found.api_name}",
        "type": "default" if standard else "custom_lookup",
        "connectedmodule": None,
        "linkingmodule": None,
        "customize_sort": found.kind in SERVED,
        "customize_fields": found.kind in SERVED,
        "customize_display_label": True,
        "sort_by": None,
        "sort_order": None,
        "fields": None,
        "status": "visible",
        "visible": True,
    }


async def list_related_lists(request: web.Request) -> web.Response:
    org: OrgState = request[ORG]
    module = request.query.get("module")
    if not module:
        raise param_missing("module")
    if module not in org.modules:
        raise invalid_module()
    found: Mapping[str, RelatedList] = related_lists(org.modules, module)
    lists = [_list_json(org, module, n, rl) for n, rl in enumerate(found.values(), start=1)]
    return json_response({"related_lists": lists})


def related_routes(prefix: str) -> list[web.RouteDef]:
    """After the Notes and Attachments routes, which take those two list names first."""
    base = prefix + "/{module}/{id:\\d+}/{related_list}"
    one = base + "/{related_id:\\d+}"
    return [
        web.get(prefix + "/settings/related_lists", list_related_lists),
        web.get(base, list_related),
        web.put(base, link_related),
        web.delete(base, delink_related),
        web.put(one, link_related),
        web.delete(one, delink_related),
    ]

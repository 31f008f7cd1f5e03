"""Records API handlers: list, get, insert, update, upsert, delete, count."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import external
from .dc import parse_datetime
from .external import ExternalPaths
from .http import ApiError, empty, invalid_module, json_response, param_missing, read_json
from .keys import CLIENT_ID, ORG
from .paging import list_page
from .record_error import RecordError
from .state import OrgState
from .store import index_key
from .writes import Batch

MAX_WRITE = 100


def module_of(request: web.Request) -> tuple[OrgState, str]:
    org: OrgState = request[ORG]
    module = request.match_info["module"]
    if module not in org.modules:
        raise invalid_module()
    return org, module


async def list_records(request: web.Request) -> web.Response:
    org, module = module_of(request)
    paths = external.paths_of(request, org, module)
    if paths is not None and paths.own is not None and "ids" in request.query:
        ids = [_by_value(request, org, module, paths, v) or "0" for v in _ids(request)]
        request = request.clone(rel_url=request.rel_url.update_query(ids=",".join(ids)))
    return list_page(request, org, module)


def _ids(request: web.Request) -> list[str]:
    return [i for i in request.query.get("ids", "").split(",") if i]


def _by_value(
    request: web.Request, org: OrgState, module: str, paths: ExternalPaths, value: str
) -> str | None:
    """The id of the record whose own external field (the header's) holds ``value``."""
    assert paths.own is not None
    user = external.acting_user(org, request[CLIENT_ID])
    return external.find(org, org.stores[module], paths.own, value, user)


def _path_id(request: web.Request, org: OrgState, module: str) -> str | None:
    """``/{module}/{id}``: a record id, or with X-EXTERNAL the record's external value."""
    rid = request.match_info.get("id")
    paths = external.paths_of(request, org, module)
    if rid is None or paths is None or paths.own is None:
        if rid is not None and not rid.isdigit():
            raise web.HTTPNotFound()
        return rid
    return _by_value(request, org, module, paths, rid) or ""


async def get_record(request: web.Request) -> web.Response:
    org, module = module_of(request)
    rid = _path_id(request, org, module) or ""
    record = org.stores[module].records.get(rid)
    if record is None and request.headers.get(external.HEADER) is not None:
        return empty(204)  # get-records-ext page: NO_CONTENT for an unknown value
    if record is None:
        if org.behaviour.get_missing_record == "invalid_data":
            raise ApiError(400, "INVALID_DATA", "the id given seems to be invalid", {"id": rid})
        return empty(204)
    return json_response({"data": [org.renderer(module).full(record)]})


async def write_body(request: web.Request) -> tuple[list[Any], dict[str, Any]]:
    body = await read_json(request)
    if not isinstance(body, dict) or "data" not in body:
        raise param_missing("data")
    data = body["data"]
    if not isinstance(data, list) or not data:
        raise ApiError(
            400,
            "INVALID_DATA",
            "invalid data",
            {"api_name": "data", "json_path": "$.data", "expected_data_type": "jsonarray"},
        )
    if len(data) > MAX_WRITE:
        raise ApiError(
            400,
            "LIMIT_EXCEEDED",
            "the given limit exceeds the maximum",
            {"api_name": "data", "json_path": "$.data", "limit": MAX_WRITE},
        )
    return data, body


def write_trigger(body: dict[str, Any]) -> tuple[str, ...] | None:
    if "trigger" not in body:
        return None
    value = body["trigger"]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(
            400,
            "INVALID_DATA",
            "invalid data",
            {"api_name": "trigger", "json_path": "$.trigger", "expected_data_type": "jsonarray"},
        )
    return tuple(value)


def write_batch(
    request: web.Request, org: OrgState, module: str, trigger: tuple[str, ...] | None
) -> Batch:
    batch = Batch(org, module, request[CLIENT_ID], trigger)
    header = request.headers.get("If-Unmodified-Since")
    if header:
        batch.if_unmodified_since = parse_datetime(header)
    return batch


def finish_batch(batch: Batch, all_ok: int) -> web.Response:
    batch.emit()
    return json_response({"data": batch.results}, batch.status(all_ok))


def _resolved(
    request: web.Request, batch: Batch, paths: ExternalPaths | None, raw: Any, i: int
) -> Any:
    """The record with lookups named by external values resolved; None once it has failed."""
    if paths is None:
        return raw
    try:
        return external.resolve(paths, batch.org, raw, i, batch.acting_user)
    except RecordError as exc:
        batch.results.append(exc.entry())
        return None


async def insert_records(request: web.Request) -> web.Response:
    org, module = module_of(request)
    data, body = await write_body(request)
    batch = write_batch(request, org, module, write_trigger(body))
    paths = external.paths_of(request, org, module)
    for i, raw in enumerate(data):
        if (record := _resolved(request, batch, paths, raw, i)) is not None:
            batch.insert(record, i)
    return finish_batch(batch, 201)


async def update_records(request: web.Request) -> web.Response:
    org, module = module_of(request)
    data, body = await write_body(request)
    batch = write_batch(request, org, module, write_trigger(body))
    paths = external.paths_of(request, org, module)
    rid = _plain_path_id(request)
    for i, raw in enumerate(data):
        record = _resolved(request, batch, paths, raw, i)
        if record is None:
            continue
        try:
            target = _update_target(request, paths, record, i, rid if i == 0 else None)
        except RecordError as exc:
            batch.results.append(exc.entry())
            continue
        batch.update(record, i, target)
        external.show_own(paths, batch.store, batch.results[-1])
    return finish_batch(batch, 200)


def _plain_path_id(request: web.Request) -> str | None:
    rid = request.match_info.get("id")
    if rid is not None and not rid.isdigit() and external.HEADER not in request.headers:
        raise web.HTTPNotFound()
    return rid


def _update_target(
    request: web.Request, paths: ExternalPaths | None, raw: Any, i: int, rid: str | None
) -> str | None:
    """The record to update: by the external value (path or body) with the header naming the
    module's own external field, else the path's or the body's id."""
    if paths is None or paths.own is None:
        return rid
    value = (
        rid if rid is not None else raw.get(paths.own.api_name) if isinstance(raw, dict) else None
    )
    if value is None:
        return None
    org, module = request[ORG], request.match_info["module"]
    found = _by_value(request, org, module, paths, str(value))
    if found is None:
        raise external.unknown_value(paths.own, value, i)
    return found


async def upsert_records(request: web.Request) -> web.Response:
    org, module = module_of(request)
    data, body = await write_body(request)
    check_fields = _check_fields(org, module, body.get("duplicate_check_fields"))
    batch = write_batch(request, org, module, write_trigger(body))
    paths = external.paths_of(request, org, module)
    if paths is None:
        for i, raw in enumerate(data):
            batch.upsert(raw, i, check_fields)
        return finish_batch(batch, org.behaviour.upsert_success_status)
    for i, raw in enumerate(data):
        if (record := _resolved(request, batch, paths, raw, i)) is not None:
            batch.upsert(record, i, check_fields)
    return finish_batch(batch, org.behaviour.upsert_success_status)


def _check_fields(org: OrgState, module: str, given: Any) -> list[str]:
    store = org.stores[module]
    mod = org.modules[module]
    # External fields are duplicate-check fields of upsert (upsert-records-ext page), first
    ext = [f.api_name for f in external.externals(mod)]
    unique = [*ext, *mod.unique_fields]
    if given is None:
        return [n for n in (*ext, mod.dup_field, *mod.unique_fields) if n in store.indexes]
    if not isinstance(given, list) or not given:
        raise ApiError(
            400,
            "INVALID_DATA",
            "invalid data",
            {"api_name": "duplicate_check_fields", "json_path": "$.duplicate_check_fields"},
        )
    for i, name in enumerate(given):
        if name not in store.indexes:
            raise ApiError(
                400,
                "INVALID_DATA",
                "invalid data",
                {"api_name": name, "json_path": f"$.duplicate_check_fields[{i}]"},
            )
    # the listed fields first, then the module's other user-defined unique fields (Zoho)
    return [*given, *(n for n in unique if n not in given and n in store.indexes)]


async def delete_records(request: web.Request) -> web.Response:
    org, module = module_of(request)
    rid = _plain_path_id(request)
    if rid is not None:
        ids = [rid]
    else:
        raw = request.query.get("ids", "")
        ids = [i for i in raw.split(",") if i]
        if not ids:
            raise param_missing("ids")
        if len(ids) > MAX_WRITE:
            raise ApiError(
                400,
                "LIMIT_EXCEEDED",
                "the given limit exceeds the maximum",
                {"param": "ids", "param_name": "ids", "limit": MAX_WRITE},
            )
    wf = request.query.get("wf_trigger", "true").lower()
    batch = write_batch(request, org, module, () if wf == "false" else None)
    paths = external.paths_of(request, org, module)
    for i, one in enumerate(dict.fromkeys(ids)):
        if paths is None or paths.own is None:
            batch.delete(one, i)
            continue
        found = _by_value(request, org, module, paths, one)
        if found is None:
            batch.results.append(external.unknown_value(paths.own, one).entry())
            continue
        batch.delete(found, i)
        batch.results[-1]["details"] = {paths.own.api_name: one, **batch.results[-1]["details"]}
    return finish_batch(batch, 200)


async def count_records(request: web.Request) -> web.Response:
    org, module = module_of(request)
    store = org.stores[module]
    email = request.query.get("email")
    if email:
        key = index_key(email)
        count = sum(1 for r in store.records.values() if index_key(r.values.get("Email")) == key)
    else:
        count = len(store.records)
    return json_response({"count": count})


def record_routes(prefix: str) -> list[web.RouteDef]:
    return [
        web.get(prefix + "/{module}/actions/count", count_records),
        web.post(prefix + "/{module}/upsert", upsert_records),
        web.get(prefix + "/{module}/{id:\\d+}", get_record),
        web.put(prefix + "/{module}/{id:\\d+}", update_records),
        web.delete(prefix + "/{module}/{id:\\d+}", delete_records),
        web.get(prefix + "/{module}", list_records),
        web.post(prefix + "/{module}", insert_records),
        web.put(prefix + "/{module}", update_records),
        web.delete(prefix + "/{module}", delete_records),
        # an external value in place of the id (X-EXTERNAL); without the header → 404
        web.get(prefix + _BY_EXTERNAL_VALUE, get_record),
        web.put(prefix + _BY_EXTERNAL_VALUE, update_records),
        web.delete(prefix + _BY_EXTERNAL_VALUE, delete_records),
    ]


# module API names start with a capital (not actions/settings/org/users); not a sub-resource
_BY_EXTERNAL_VALUE = r"/{module:[A-Z][^/]*}/{id:(?!upsert$|deleted$|search$|actions$)[^/]+}"

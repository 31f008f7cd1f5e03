"""Records API handlers: list, get, insert, update, upsert, delete, count."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .dc import parse_datetime
from .http import ApiError, empty, invalid_module, json_response, param_missing, read_json
from .keys import CLIENT_ID, ORG
from .paging import list_page
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
    return list_page(request, org, module)


async def get_record(request: web.Request) -> web.Response:
    org, module = module_of(request)
    rid = request.match_info["id"]
    record = org.stores[module].records.get(rid)
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


async def insert_records(request: web.Request) -> web.Response:
    org, module = module_of(request)
    data, body = await write_body(request)
    batch = write_batch(request, org, module, write_trigger(body))
    for i, raw in enumerate(data):
        batch.insert(raw, i)
    return finish_batch(batch, 201)


async def update_records(request: web.Request) -> web.Response:
    org, module = module_of(request)
    data, body = await write_body(request)
    batch = write_batch(request, org, module, write_trigger(body))
    rid = request.match_info.get("id")
    for i, raw in enumerate(data):
        batch.update(raw, i, rid if i == 0 else None)
    return finish_batch(batch, 200)


async def upsert_records(request: web.Request) -> web.Response:
    org, module = module_of(request)
    data, body = await write_body(request)
    check_fields = _check_fields(org, module, body.get("duplicate_check_fields"))
    batch = write_batch(request, org, module, write_trigger(body))
    for i, raw in enumerate(data):
        batch.upsert(raw, i, check_fields)
    return finish_batch(batch, org.behaviour.upsert_success_status)


def _check_fields(org: OrgState, module: str, given: Any) -> list[str]:
    store = org.stores[module]
    unique = org.modules[module].unique_fields
    if given is None:
        return [n for n in (org.modules[module].dup_field, *unique) if n in store.indexes]
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
    rid = request.match_info.get("id")
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
    for i, one in enumerate(dict.fromkeys(ids)):
        batch.delete(one, i)
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
    ]

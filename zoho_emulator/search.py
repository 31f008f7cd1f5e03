"""GET /{module}/deleted and GET /{module}/search."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from . import criteria
from .dc import format_datetime
from .http import ApiError, empty, expected_param_missing, invalid_param, json_response
from .paging import MAX_PER_PAGE, int_param, modified_since, render_rows, wanted_fields
from .quirks import without_hidden
from .records import module_of
from .state import OrgState
from .store import StoredRecord, index_key

SEARCH_LIMIT = 2000
DAY_S = 86_400
RECYCLE_DAYS = 60
PERMANENT_DAYS = 120


def _info(per_page: int, count: int, page: int, more: bool) -> dict[str, Any]:
    return {"per_page": per_page, "count": count, "page": page, "more_records": more}


def _deleted_type(age_s: int) -> str | None:
    if age_s <= RECYCLE_DAYS * DAY_S:
        return "recycle"
    if age_s <= PERMANENT_DAYS * DAY_S:
        return "permanent"
    return None


async def deleted_records(request: web.Request) -> web.Response:
    org, module = module_of(request)
    wanted = request.query.get("type", "all")
    if wanted not in ("all", "recycle", "permanent"):
        raise ApiError(
            400,
            "PATTERN_NOT_MATCHED",
            "Please check whether the input values are correct",
            {"param": "type", "param_name": "type"},
        )
    per_page = int_param(request, "per_page", MAX_PER_PAGE, 1, MAX_PER_PAGE)
    page = int_param(request, "page", 1, 1, 10**6)
    _within_cap(org, page * per_page)
    now_s = org.now_ms() // 1000
    since = modified_since(request)
    renderer = org.renderer(module)
    rows = []
    for entry in reversed(org.stores[module].deleted):
        kind = _deleted_type(now_s - entry.deleted_s)
        if kind is None or (wanted != "all" and kind != wanted):
            continue
        if since is not None and entry.deleted_s < since:
            continue
        rows.append((entry, kind))
    chunk = rows[(page - 1) * per_page : page * per_page]
    if not chunk:
        return empty(304 if since is not None and page == 1 else 204)
    data = [
        {
            "deleted_by": _name_id(renderer.user(e.deleted_by)) if kind == "recycle" else None,
            "id": e.id,
            "display_name": e.display_name if kind == "recycle" else None,
            "type": kind,
            "created_by": _name_id(renderer.user(e.created_by)) if kind == "recycle" else None,
            "deleted_time": _fmt(org, e.deleted_s),
        }
        for e, kind in chunk
    ]
    return json_response(
        {"data": data, "info": _info(per_page, len(chunk), page, len(rows) > page * per_page)}
    )


def _within_cap(org: OrgState, reach: int) -> None:
    """Zoho documents no cap on ``/deleted`` (``page`` only, no ``page_token``); a records
    list refuses ``page`` past 2,000 records, and ``behaviour.deleted_page_limit`` makes
    ``/deleted`` do the same, to show what a client does if Zoho capped it too."""
    limit = org.behaviour.deleted_page_limit
    if limit is not None and reach > limit:
        raise ApiError(
            400,
            "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
            f"cannot fetch more than {limit} records",
            {"param": "page", "param_name": "page"},
        )


def _name_id(user: dict[str, str] | None) -> dict[str, str] | None:
    return {"name": user["name"], "id": user["id"]} if user else None


def _fmt(org: OrgState, epoch_s: int) -> str:
    return format_datetime(epoch_s, org.tz)


def _predicate(request: web.Request, org: OrgState, module: str) -> Callable[[StoredRecord], bool]:
    q = request.query
    definition = without_hidden(org, org.modules[module])
    renderer = org.renderer(module)
    if q.get("criteria"):
        try:
            node = criteria.parse(q["criteria"], definition)
        except criteria.CriteriaError as exc:
            raise ApiError(
                400,
                "INVALID_QUERY",
                "invalid query formed",
                {"reason": str(exc), "param": "criteria"},
            ) from None

        def value_of(rec: StoredRecord, name: str) -> Any:
            if name in ("Created_Time", "Modified_Time"):
                return rec.created_s if name == "Created_Time" else rec.modified_s
            return rec.id if name == "id" else rec.values.get(name)

        del renderer
        return criteria.matcher(node, value_of, org.behaviour.search_equals_contains)
    for param, types in (("email", ("email",)), ("phone", ("phone",))):
        if q.get(param):
            names = [n for n, f in definition.fields.items() if f.data_type in types]
            key = index_key(q[param])
            return lambda rec: any(index_key(rec.values.get(n)) == key for n in names)
    if q.get("word"):
        word = q["word"].lower()
        if len(word) < 2:
            raise invalid_param("word", "the word should contain at least 2 characters")
        return lambda rec: any(
            isinstance(v, str) and word in v.lower() for v in rec.values.values()
        )
    raise expected_param_missing("criteria", "email", "phone", "word")


async def search_records(request: web.Request) -> web.Response:
    org, module = module_of(request)
    predicate = _predicate(request, org, module)
    names = wanted_fields(request, org, module, required=False)
    per_page = int_param(request, "per_page", MAX_PER_PAGE, 1, MAX_PER_PAGE)
    page = int_param(request, "page", 1, 1, 10**6)
    if page * per_page > SEARCH_LIMIT:
        raise ApiError(
            400,
            "LIMIT_REACHED",
            "search results exceed the limit of 2000 records",
            {"limit": SEARCH_LIMIT},
        )
    visible_before = (org.now_ms() - org.behaviour.search_index_delay_ms) // 1000
    delay = org.behaviour.search_index_delay_ms > 0
    matches = [
        r
        for r in org.stores[module].records.values()
        if (not delay or r.modified_s < visible_before) and predicate(r)
    ]
    chunk = matches[(page - 1) * per_page : page * per_page]
    if not chunk:
        return empty(204)
    more = len(matches) > page * per_page
    return json_response(
        {
            "data": render_rows(org.renderer(module), chunk, names),
            "info": _info(per_page, len(chunk), page, more),
        }
    )


def search_routes(prefix: str) -> list[web.RouteDef]:
    return [
        web.get(prefix + "/{module}/deleted", deleted_records),
        web.get(prefix + "/{module}/search", search_records),
    ]

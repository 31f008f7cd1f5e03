"""GET records listing: fields, ids, If-Modified-Since, sorting, page and page_token pagination."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from .dc import format_datetime, parse_datetime
from .http import ApiError, empty, invalid_param, json_response, param_missing
from .state import OrgState
from .store import StoredRecord

MAX_FIELDS = 50
MAX_PER_PAGE = 200
DISCRETE_LIMIT = 2000
TOKEN_TTL_MS = 86_400_000
SORT_FIELDS = ("id", "Created_Time", "Modified_Time")


def int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_param(name, expected_data_type="integer") from None
    if not low <= value <= high:
        raise invalid_param(name, maximum=high, minimum=low)
    return value


def wanted_fields(request: web.Request, org: OrgState, module: str, required: bool) -> list[str]:
    raw = request.query.get("fields")
    if not raw:
        if required:
            raise param_missing("fields")
        return list(org.modules[module].fields)
    names = [n.strip() for n in raw.split(",") if n.strip()]
    if len(names) > MAX_FIELDS:
        raise ApiError(
            400,
            "LIMIT_EXCEEDED",
            "the given limit exceeds the maximum",
            {"param": "fields", "param_name": "fields", "limit": MAX_FIELDS},
        )
    known = org.modules[module].fields
    return [n for n in dict.fromkeys(names) if n in known or n in ("id", "Tag")]


def modified_since(request: web.Request) -> int | None:
    header = request.headers.get("If-Modified-Since")
    return parse_datetime(header) if header else None


def default_order(module: str) -> str:
    """Records newest first; notes oldest first (v7 get-notes page: "sorted chronologically,
    the oldest note first")."""
    return "asc" if module == "Notes" else "desc"


def _sorted(
    org: OrgState,
    module: str,
    request: web.Request,
    keep: Callable[[StoredRecord], bool] | None = None,
) -> tuple[list[StoredRecord], str, str]:
    sort_by = request.query.get("sort_by", "id")
    sort_order = request.query.get("sort_order", default_order(module))
    if sort_by not in SORT_FIELDS:
        raise invalid_param("sort_by", supported_values=list(SORT_FIELDS))
    if sort_order not in ("asc", "desc"):
        raise invalid_param("sort_order", supported_values=["asc", "desc"])
    store = org.stores[module]
    ids = request.query.get("ids")
    if ids:
        records = [store.records[i] for i in dict.fromkeys(ids.split(",")) if i in store.records]
        records.sort(key=lambda r: r.id)
    else:
        records = list(store.records.values())  # insertion order == id order == Created_Time
    if keep is not None:
        records = [r for r in records if keep(r)]
    since = modified_since(request)
    if since is not None:
        inclusive = org.behaviour.if_modified_since_inclusive
        records = [
            r for r in records if r.modified_s > since or (inclusive and r.modified_s == since)
        ]
    if sort_by == "Modified_Time":
        records.sort(key=lambda r: (r.modified_s, r.id))
    if sort_order == "desc":
        records.reverse()
    return records, sort_by, sort_order


def _offset(request: web.Request, org: OrgState, bound: str, per_page: int) -> int:
    token = request.query.get("page_token")
    if token is None:
        page = int_param(request, "page", 1, 1, 10**6)
        if page * per_page > DISCRETE_LIMIT:
            raise ApiError(
                400,
                "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                "cannot fetch more than 2000 records. Use page_token instead",
                {"param": "page", "param_name": "page"},
            )
        return (page - 1) * per_page
    if "page" in request.query:
        raise ApiError(
            400,
            "AMBIGUITY_DURING_PROCESSING",
            "page and page_token cannot be given together",
            {"ambiguity_due_to": ["page", "page_token"]},
        )
    found = org.page_tokens.get(token)
    if found is None:
        raise invalid_param("page_token")
    if found[2] <= org.now_ms():
        raise ApiError(
            400,
            "EXPIRED_VALUE",
            "the page token has expired",
            {"param": "page_token", "param_name": "page_token"},
        )
    if found[0] != bound:
        raise ApiError(
            400,
            "TOKEN_BOUND_DATA_MISMATCH",
            "the parameters do not match the page token",
            {"param": "page_token", "param_name": "page_token"},
        )
    limit = org.behaviour.page_token_limit  # Zoho: 100,000
    if found[1] + per_page > limit:
        raise ApiError(
            400,
            "PAGINATION_LIMIT_EXCEEDED",
            f"cannot fetch more than {limit} records",
            {"param": "page_token", "param_name": "page_token"},
        )
    return found[1]


def _token_for(org: OrgState, bound: str, offset: int) -> tuple[str, int]:
    token = hashlib.sha1(f"{org.name}|{bound}|{offset}".encode()).hexdigest()[:24]
    expiry = org.now_ms() + TOKEN_TTL_MS
    org.page_tokens[token] = (bound, offset, expiry)
    return token, expiry


def list_page(
    request: web.Request,
    org: OrgState,
    module: str,
    keep: Callable[[StoredRecord], bool] | None = None,
    scope: str = "",
    extra: Callable[[StoredRecord], Mapping[str, Any]] | None = None,
) -> web.Response:
    """One page of a module's records (``keep``: only these, e.g. the notes of one parent;
    ``scope`` names that subset in page tokens; ``extra``: keys added to each row, e.g. a
    related price book's ``list_price``)."""
    names = wanted_fields(request, org, module, required=True)
    per_page = int_param(request, "per_page", MAX_PER_PAGE, 1, MAX_PER_PAGE)
    q = request.query
    bound = "|".join(
        (
            module + scope,
            ",".join(names),
            q.get("sort_by", "id"),
            q.get("sort_order", default_order(module)),
            q.get("ids", ""),
            request.headers.get("If-Modified-Since", ""),
        )
    )
    offset = _offset(request, org, bound, per_page)
    records, sort_by, sort_order = _sorted(org, module, request, keep)
    if not records:
        return empty(304 if modified_since(request) is not None else 204)
    rows = records[offset : offset + per_page]
    if not rows:
        return empty(204)
    more = len(records) > offset + per_page
    renderer = org.renderer(module)
    info: dict[str, Any] = {
        "call": False,
        "per_page": per_page,
        "next_page_token": None,
        "count": len(rows),
        "sort_by": sort_by,
        "page": offset // per_page + 1,
        "previous_page_token": None,
        "page_token_expiry": None,
        "sort_order": sort_order,
        "email": False,
        "more_records": more,
    }
    if more:
        token, expiry = _token_for(org, bound, offset + per_page)
        info["next_page_token"] = token
        info["page_token_expiry"] = format_datetime(expiry // 1000, org.tz)
    if offset:
        info["previous_page_token"] = _token_for(org, bound, max(0, offset - per_page))[0]
    data = render_rows(renderer, rows, names)
    if extra is not None:
        data = [{**row, **extra(record)} for row, record in zip(data, rows, strict=True)]
    return json_response({"data": data, "info": info})


def render_rows(
    renderer: Any, rows: Sequence[StoredRecord], names: Sequence[str]
) -> list[dict[str, Any]]:
    return [renderer.select(r, names) for r in rows]

"""POST /crm/{v}/coql: run a parsed COQL query over one module's records.

Not index-based (unlike search), so it sees writes at once. Rows: the selected columns plus
`id`; lookups and users as {"name", "id"} (v7+); no rows → 204; info {count, more_records}.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .coql_columns import Column, invalid_column, resolve
from .coql_parse import Comparison, Condition, Logical, Query, Token, limit_exceeded, literal, parse
from .dc import parse_datetime
from .http import ApiError, empty, json_response, read_json
from .keys import ORG
from .quirks import hidden
from .schema import FieldDef, ModuleDef
from .scopes import READ, demand, module_need, module_scope
from .state import OrgState
from .store import StoredRecord

MAX_LIMIT = 2000
MAX_REACHABLE = 100_000
_STRING = frozenset({"text", "email", "phone", "website", "picklist", "textarea", "autonumber"})
_NUMBER = frozenset({"integer", "bigint", "double", "currency", "percent", "date", "datetime"})
_REFERENCE = frozenset({"lookup", "ownerlookup", "userlookup"})
_ORDERED = {"<": "__lt__", ">": "__gt__", "<=": "__le__", ">=": "__ge__"}
_OPERATORS = {  # the documented operators per field type
    "string": {"=", "!=", "like", "not like", "in", "not in", "is null", "is not null"},
    "reference": {"=", "!=", "in", "not in", "is null", "is not null"},
    "number": {"=", "!=", "<", ">", "<=", ">=", "in", "not in", "is null", "is not null"}
    | {"between", "not between"},
    "boolean": {"="},
}
Predicate = Callable[[StoredRecord], bool]


def _kind(fd: FieldDef) -> str:
    if fd.data_type in _STRING:
        return "string"
    if fd.data_type in _REFERENCE:
        return "reference"
    return "boolean" if fd.data_type == "boolean" else "number"


class _Compiler:
    def __init__(self, org: OrgState, module: ModuleDef) -> None:
        self.org = org
        self.module = module
        self.modules = org.modules
        self.stores = org.stores

    def column(self, name: str) -> Column:
        column = resolve(name, self.module, self.modules)
        if column.field.api_name in hidden(self.org, column.module):  # a quirk (quirks.py)
            raise invalid_column(name)
        return column

    def predicate(self, node: Condition) -> Predicate:
        if isinstance(node, Logical):
            first, second = (self.predicate(n) for n in node.operands)
            if node.operator == "and":
                return lambda rec: first(rec) and second(rec)
            return lambda rec: first(rec) or second(rec)
        return self.comparison(node)

    def comparison(self, node: Comparison) -> Predicate:
        column, stores = self.column(node.column), self.stores
        if column.field.api_name == "id" and not column.hops:
            return _id_test(node)
        fd = column.field
        if fd.data_type == "textarea" or node.operator not in _OPERATORS[_kind(fd)]:
            raise _bad_operator(node)
        test = _test(node, [self.convert(fd, t) for t in _tokens(node.value)])
        return lambda rec: test(column.raw(rec, stores))

    def convert(self, fd: FieldDef, token: Token) -> Any:
        value = literal(token)
        kind = _kind(fd)
        if fd.data_type == "datetime":
            value = parse_datetime(value) if isinstance(value, str) else None
        elif kind == "number" and fd.data_type != "date" and isinstance(value, str):
            value = _number(value)
        elif kind in ("string", "reference"):
            value = str(value).casefold() if kind == "string" else str(value)
        if value is None or (kind == "boolean") != isinstance(value, bool):
            raise ApiError(
                400,
                "INVALID_QUERY",
                "value given seems to be invalid for the column",
                {"column_name": fd.api_name},
            )
        return value


def _tokens(value: Any) -> tuple[Token, ...]:
    return value if isinstance(value, tuple) else (() if value is None else (value,))


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _bad_operator(node: Comparison) -> ApiError:
    return ApiError(
        400,
        "INVALID_QUERY",
        "Invalid query formed",
        {"reason": "invalid operator found", "column_name": node.column, "operator": node.operator},
    )


def _norm(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _id_test(node: Comparison) -> Predicate:
    """``id`` takes =, !=, in, not in, and is (not) null (the page's `where id is not null`)."""
    if node.operator in ("is null", "is not null"):
        return lambda rec: node.operator == "is not null"
    if node.operator not in ("=", "!=", "in", "not in"):
        raise _bad_operator(node)
    wanted = {str(literal(t)) for t in _tokens(node.value)}
    return lambda rec: (rec.id in wanted) == (node.operator in ("=", "in"))


def _test(node: Comparison, values: list[Any]) -> Callable[[Any], bool]:
    op = node.operator
    if op in ("between", "not between"):
        low, high = values
        inside = op == "between"
        return lambda v: v is not None and (low <= _norm(v) <= high) == inside
    if op in ("is null", "is not null"):
        return lambda v: (v is None or v == "" or v == []) == (op == "is null")
    if op in ("like", "not like"):
        pattern = re.compile(".*".join(re.escape(part) for part in str(values[0]).split("%")), re.S)
        return lambda v: (
            isinstance(v, str) and bool(pattern.fullmatch(v.casefold())) == (op == "like")
        )
    if op in ("in", "not in", "=", "!="):
        wanted = set(values)
        positive = op in ("in", "=")
        return lambda v: v is not None and (_norm(v) in wanted) == positive
    method = _ORDERED[op]
    return lambda v: v is not None and bool(getattr(_norm(v), method)(values[0]))


def _check_paging(query: Query) -> None:
    if query.limit <= 0:
        raise ApiError(400, "INVALID_DATA", "limit should be greater than 0", {})
    if query.limit > MAX_LIMIT:
        raise limit_exceeded("limit", MAX_LIMIT)
    if query.offset + query.limit > MAX_REACHABLE:
        raise limit_exceeded("offset", MAX_REACHABLE)


SortKey = tuple[Callable[[StoredRecord], Any], bool]


def _sort_key(query: Query, compiler: _Compiler) -> list[SortKey]:
    stores = compiler.stores
    keys: list[SortKey] = []
    for name, descending in query.order_by:
        column = compiler.column(name)
        keys.append((lambda rec, c=column: _sortable(c.raw(rec, stores)), descending))
    return keys


def _sortable(value: Any) -> tuple[int, Any]:
    return (0, "") if value is None else (1, _norm(value))


def _rows(query: Query, org: OrgState, module: ModuleDef) -> list[StoredRecord]:
    compiler = _Compiler(org, module)
    for name in query.columns:
        compiler.column(name)
    keep = compiler.predicate(query.where) if query.where is not None else None
    rows = sorted(org.stores[module.api_name].records.values(), key=lambda rec: rec.id)
    if keep is not None:
        rows = [rec for rec in rows if keep(rec)]
    for key, descending in reversed(_sort_key(query, compiler)):
        rows.sort(key=key, reverse=descending)
    return rows


def _render(org: OrgState, columns: list[Column], rec: StoredRecord) -> dict[str, Any]:
    row = {c.name: c.render(rec, org.stores, org.renderer) for c in columns}
    row["id"] = rec.id
    return row


async def coql_query(request: web.Request) -> web.Response:
    org: OrgState = request[ORG]
    body = await read_json(request)
    text = body.get("select_query") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise ApiError(
            400, "MANDATORY_NOT_FOUND", "mandatory key not found", {"api_name": "select_query"}
        )
    query = parse(text)
    module = org.modules.get(query.module)
    if module is None:
        raise ApiError(400, "INVALID_MODULE", "the given module is not supported in api", {})
    # ZohoCRM.coql.READ (middleware) and the module's READ, or ZohoCRM.modules.READ (v7 page)
    demand(request, ((module_need(module_scope(module, ""), READ),),))
    _check_paging(query)
    rows = _rows(query, org, module)
    chunk = rows[query.offset : query.offset + query.limit]
    if not chunk:
        return empty(204)
    columns = [resolve(name, module, org.modules) for name in query.columns]
    data = [_render(org, columns, rec) for rec in chunk]
    more = len(rows) > query.offset + query.limit
    return json_response({"data": data, "info": {"count": len(data), "more_records": more}})


def coql_routes(prefix: str) -> list[web.RouteDef]:
    return [web.post(prefix + "/coql", coql_query)]

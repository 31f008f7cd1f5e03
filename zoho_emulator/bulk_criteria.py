"""Bulk Read criteria: one condition or nested and/or groups, as JSON, checked and compiled.

A condition is ``{"field": {"api_name"}, "comparator", "value"}``; a group is
``{"group_operator": "and"|"or", "group": [...]}``. Comparators per field type, the 25-condition
and 200-value limits and ``${EMPTY}`` follow the bulk-read create-job page; error codes follow
[oas] v8.0 bulk_read.json (details shapes where it shows them, else ``api_name``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .dc import parse_datetime
from .http import ApiError
from .schema import FieldDef, ModuleDef
from .store import StoredRecord

MAX_CONDITIONS = 25
MAX_VALUES = 200
EMPTY = "${EMPTY}"
_TEXT = (
    *("equal", "not_equal", "in", "not_in"),
    *("contains", "not_contains", "starts_with", "ends_with"),
)
_NUMBER = (
    "equal",
    "not_equal",
    "in",
    "not_in",
    "less_than",
    "less_equal",
    "greater_than",
    "greater_equal",
)
_COMPARATORS: dict[str, tuple[str, ...]] = {
    "text": _TEXT,
    "number": _NUMBER,
    "date": (*_NUMBER, "between", "not_between"),
    "boolean": ("equal",),
    "reference": ("equal", "not_equal", "in", "not_in"),
}
_KINDS = {
    **dict.fromkeys(("text", "textarea", "email", "phone", "website", "picklist"), "text"),
    **dict.fromkeys(("autonumber", "formula"), "text"),
    **dict.fromkeys(("integer", "bigint", "double", "currency", "percent"), "number"),
    **dict.fromkeys(("date", "datetime"), "date"),
    "boolean": "boolean",
    **dict.fromkeys(("lookup", "ownerlookup", "userlookup"), "reference"),
}
_ID_FIELD = FieldDef("id", "bigint")
_ORDERED: dict[str, Callable[[Any, Any], bool]] = {
    "less_than": lambda a, b: a < b,
    "less_equal": lambda a, b: a <= b,
    "greater_than": lambda a, b: a > b,
    "greater_equal": lambda a, b: a >= b,
}
Predicate = Callable[[StoredRecord], bool]


def raw_value(rec: StoredRecord, name: str) -> Any:
    """A record's stored value (system fields live on the record itself)."""
    if name == "id":
        return rec.id
    if name == "Created_Time":
        return rec.created_s
    if name == "Modified_Time":
        return rec.modified_s
    if name == "Created_By":
        return rec.created_by
    if name == "Modified_By":
        return rec.modified_by
    return rec.values.get(name)


def invalid_criteria(message: str = "invalid criteria", **details: Any) -> ApiError:
    return ApiError(400, "INVALID_CRITERIA", message, details)


def compile_criteria(criteria: Any, module: ModuleDef) -> Predicate:
    """Check ``criteria`` (raise ApiError) and return the record filter."""
    counter = [0]
    return _node(criteria, module, counter)


def _node(node: Any, module: ModuleDef, counter: list[int]) -> Predicate:
    if not isinstance(node, dict):
        raise invalid_criteria()
    has_group = "group" in node or "group_operator" in node
    if has_group and ("field" in node or "comparator" in node):
        raise ApiError(400, "AMBIGUOUS_CRITERIA", "ambiguous criteria", {})
    if has_group:
        return _group(node, module, counter)
    counter[0] += 1
    if counter[0] > MAX_CONDITIONS:
        raise ApiError(
            400,
            "CRITERIA_LIMIT_EXCEEDED",
            "criteria limit exceeded",
            {"max_limit": MAX_CONDITIONS},
        )
    return _condition(node, module)


def _group(node: dict[str, Any], module: ModuleDef, counter: list[int]) -> Predicate:
    operator, group = node.get("group_operator"), node.get("group")
    if not isinstance(group, list) or not group:
        raise invalid_criteria("group should be a non-empty array")
    if not isinstance(operator, str) or operator.lower() not in ("and", "or"):
        raise ApiError(
            400,
            "GROUP_OPERATOR_NOT_SUPPORTED",
            "group operator not supported",
            {"supported_group_operators": ["and", "or"]},
        )
    tests = [_node(child, module, counter) for child in group]
    if operator.lower() == "and":
        return lambda rec: all(t(rec) for t in tests)
    return lambda rec: any(t(rec) for t in tests)


def _condition(node: dict[str, Any], module: ModuleDef) -> Predicate:
    field, comparator = node.get("field"), node.get("comparator")
    name = field.get("api_name") if isinstance(field, dict) else None
    if not isinstance(name, str) or not isinstance(comparator, str) or "value" not in node:
        raise invalid_criteria("field, comparator and value are required")
    fd = _ID_FIELD if name == "id" else module.fields.get(name)
    kind = _KINDS.get(fd.data_type, "") if fd is not None else ""
    if fd is None or not kind:
        raise ApiError(
            400,
            "FIELD_IN_CRITERIA_NOT_SUPPORTED",
            "field not supported in criteria",
            {"api_name": name},
        )
    if name == "id":
        kind = "reference"
    allowed = _COMPARATORS[kind]
    if comparator not in allowed:
        raise ApiError(
            400,
            "FIELD_COMPARATOR_IN_CRITERIA_NOT_SUPPORTED",
            "comparator not supported for the field",
            {"api_name": name, "supported": list(allowed)},
        )
    values = _values(fd, kind, comparator, node["value"])
    return _test(fd.api_name, kind, comparator, values)


def _values(fd: FieldDef, kind: str, comparator: str, value: Any) -> list[Any]:
    multi = comparator in ("in", "not_in", "between", "not_between")
    if multi != isinstance(value, list) or (multi and not value):
        raise _value_type(fd, comparator)
    items = value if isinstance(value, list) else [value]
    if comparator in ("between", "not_between") and len(items) != 2:
        raise _value_type(fd, comparator)
    if len(items) > MAX_VALUES:
        raise ApiError(
            400,
            "VALUE_LIMIT_EXCEEDED_IN_CRITERIA",
            "value limit exceeded in criteria",
            {"api_name": fd.api_name, "max_limit": MAX_VALUES},
        )
    return [_typed(fd, kind, comparator, item) for item in items]


def _typed(fd: FieldDef, kind: str, comparator: str, item: Any) -> Any:
    if item == EMPTY and comparator in ("equal", "not_equal"):
        return EMPTY
    if isinstance(item, dict) and kind == "reference":
        item = item.get("id")
    converted: Any = None
    if kind == "boolean":
        converted = item if isinstance(item, bool) else None
    elif kind == "number" and not isinstance(item, bool):
        try:
            converted = float(item) if isinstance(item, int | float | str) else None
        except ValueError:
            converted = None
    elif fd.data_type == "datetime":
        converted = parse_datetime(item) if isinstance(item, str) else None
    elif isinstance(item, str | int) and not isinstance(item, bool):
        converted = str(item) if kind == "reference" else str(item).casefold()
    if converted is None:
        raise _value_type(fd, comparator)
    return converted


def _value_type(fd: FieldDef, comparator: str) -> ApiError:
    return ApiError(
        400,
        "VALUE_TYPE_NOT_SUPPORTED",
        "value type not supported for the comparator",
        {"api_name": fd.api_name, "comparator": comparator},
    )


def _norm(value: Any, kind: str) -> Any:
    if value is None or value == "" or value == []:
        return None
    if kind == "number" and not isinstance(value, bool):
        return float(value)
    if kind == "text" and isinstance(value, str):
        return value.casefold()
    return value


def _test(name: str, kind: str, comparator: str, values: list[Any]) -> Predicate:
    first = values[0]

    def test(rec: StoredRecord) -> bool:
        value = _norm(raw_value(rec, name), kind)
        if first == EMPTY:
            return (value is None) == (comparator == "equal")
        if comparator in ("equal", "in"):
            return value is not None and value in values
        if comparator in ("not_equal", "not_in"):
            return value is None or value not in values
        if value is None:
            return comparator == "not_contains"
        if comparator in ("between", "not_between"):
            inside = bool(values[0] <= value <= values[1])
            return inside == (comparator == "between")
        if comparator in _ORDERED:
            return _ORDERED[comparator](value, first)
        if comparator == "contains":
            return first in value
        if comparator == "not_contains":
            return first not in value
        if comparator == "starts_with":
            return bool(value.startswith(first))
        return bool(value.endswith(first))

    return test

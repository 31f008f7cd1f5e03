"""Search API criteria: ((Field:operator:value)and(Field:operator:value)), parsed and evaluated."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .dc import parse_datetime
from .schema import FieldDef, ModuleDef

MAX_CONDITIONS = 10
OPERATORS = frozenset(
    {
        "equals",
        "not_equal",
        "starts_with",
        "in",
        "greater_than",
        "greater_equal",
        "less_than",
        "less_equal",
        "between",
    }
)
_ORDERED = {
    "greater_than": lambda a, b: a > b,
    "greater_equal": lambda a, b: a >= b,
    "less_than": lambda a, b: a < b,
    "less_equal": lambda a, b: a <= b,
}


class CriteriaError(ValueError):
    pass


@dataclass(frozen=True)
class Condition:
    field: FieldDef
    operator: str
    values: tuple[Any, ...]


Node = Condition | tuple[str, list["Node"]]


def _split_unescaped(text: str, sep: str, limit: int = -1) -> list[str]:
    parts, current, escaped = [], [], False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == sep and limit != 0:
            parts.append("".join(current))
            current = []
            limit -= 1
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


class _Parser:
    def __init__(self, text: str, module: ModuleDef) -> None:
        self.s = text.strip()
        self.i = 0
        self.module = module
        self.count = 0

    def parse(self) -> Node:
        node = self._group()
        if self.i != len(self.s):
            raise CriteriaError("trailing characters")
        return node

    def _group(self) -> Node:
        if self.i >= len(self.s) or self.s[self.i] != "(":
            raise CriteriaError("expected (")
        self.i += 1
        if self.i < len(self.s) and self.s[self.i] == "(":
            return self._sequence()
        return self._condition()

    def _sequence(self) -> Node:
        nodes, ops = [self._group()], set()
        while self.i < len(self.s) and self.s[self.i] != ")":
            for op in ("and", "or"):
                if self.s.startswith(op, self.i):
                    ops.add(op)
                    self.i += len(op)
                    break
            else:
                raise CriteriaError("expected and/or")
            nodes.append(self._group())
        if self.i >= len(self.s) or len(ops) > 1:
            raise CriteriaError("unbalanced or mixed operators")
        self.i += 1
        return (ops.pop() if ops else "and", nodes)

    def _condition(self) -> Node:
        start, escaped = self.i, False
        while self.i < len(self.s):
            ch = self.s[self.i]
            if ch == ")" and not escaped:
                break
            escaped = ch == "\\" and not escaped
            self.i += 1
        else:
            raise CriteriaError("missing )")
        body = self.s[start : self.i]
        self.i += 1
        self.count += 1
        if self.count > MAX_CONDITIONS:
            raise CriteriaError("more than 10 conditions")
        parts = _split_unescaped(body, ":", 2)
        if len(parts) != 3 or parts[1] not in OPERATORS:
            raise CriteriaError(f"invalid condition {body!r}")
        field = self.module.fields.get(parts[0]) if parts[0] != "id" else FieldDef("id", "bigint")
        if field is None:
            raise CriteriaError(f"unknown field {parts[0]!r}")
        raw_values = (
            _split_unescaped(parts[2], ",")
            if parts[1] in ("in", "between")
            else ["".join(_split_unescaped(parts[2], "\x00"))]
        )
        return Condition(field, parts[1], tuple(_typed(field, v) for v in raw_values))


def _typed(field: FieldDef, raw: str) -> Any:
    dt = field.data_type
    if dt in ("integer", "double", "currency", "percent"):
        try:
            return float(raw)
        except ValueError:
            raise CriteriaError(f"{field.api_name} expects a number") from None
    if dt == "datetime":
        epoch = parse_datetime(raw)
        if epoch is None:
            raise CriteriaError(f"{field.api_name} expects an ISO-8601 date-time")
        return epoch
    if dt == "boolean":
        return raw.lower() == "true"
    return raw


def parse(text: str, module: ModuleDef) -> Node:
    return _Parser(text, module).parse()


def matcher(
    node: Node, value_of: Callable[[Any, str], Any], equals_contains: bool
) -> Callable[[Any], bool]:
    if isinstance(node, Condition):
        return _condition_matcher(node, value_of, equals_contains)
    op, children = node
    tests = [matcher(c, value_of, equals_contains) for c in children]
    if op == "and":
        return lambda rec: all(t(rec) for t in tests)
    return lambda rec: any(t(rec) for t in tests)


def _norm(value: Any) -> Any:
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


def _condition_matcher(
    cond: Condition, value_of: Callable[[Any, str], Any], equals_contains: bool
) -> Callable[[Any], bool]:
    name, op = cond.field.api_name, cond.operator
    wanted = [_norm(v) for v in cond.values]
    text = cond.field.data_type in ("text", "textarea", "email", "phone", "website")

    def test(rec: Any) -> bool:
        value = _norm(value_of(rec, name))
        if isinstance(value, list):
            return any(v.lower() in wanted for v in value) if op in ("equals", "in") else False
        if op == "equals":
            if value is None:
                return False
            return bool(wanted[0] in value if text and equals_contains else value == wanted[0])
        if op == "not_equal":
            return bool(value != wanted[0])
        if op == "starts_with":
            return isinstance(value, str) and value.startswith(wanted[0])
        if op == "in":
            return value in wanted
        if value is None:
            return False
        try:
            if op == "between":
                return bool(wanted[0] <= value <= wanted[-1])
            return bool(_ORDERED[op](value, wanted[0]))
        except TypeError:
            return False

    return test

"""COQL text → a Query: the documented subset (select/from/where/order by/limit/offset).

Shapes of the errors are Zoho's (crm-oas v8.0 coql.json and its examples): SYNTAX_ERROR with
`near` or `clause`, INVALID_QUERY with `limit`, LIMIT_EXCEEDED, DUPLICATE_DATA. Column checks
against the module happen in coql.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .http import ApiError

MAX_COLUMNS = 500
MAX_CONDITIONS = 25
MAX_IN_VALUES = 100
MAX_ORDER_BY = 10
DEFAULT_LIMIT = 200

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op><=|>=|!=|=|<|>)"
    r"|(?P<punct>[(),*])|(?P<word>[A-Za-z_$][\w$.]*(?:->[\w$.]+)?))"
)
_KEYWORDS = frozenset(
    {
        "select",
        "from",
        "where",
        "order",
        "by",
        "limit",
        "offset",
        "and",
        "or",
        "asc",
        "desc",
        "like",
        "in",
        "is",
        "not",
        "null",
        "between",
    }
)


@dataclass(frozen=True)
class Token:
    kind: str  # str | num | op | punct | word | keyword | end
    text: str


@dataclass(frozen=True)
class Comparison:
    column: str
    operator: str  # = != < > <= >= like "not like" in "not in" "is null" "is not null" between…
    value: Any = None  # a literal Token, a tuple of them (in, between), or None (is null)


@dataclass(frozen=True)
class Logical:
    operator: str  # and | or
    operands: tuple[Condition, ...]


Condition = Comparison | Logical


@dataclass
class Query:
    columns: list[str]
    module: str
    where: Condition | None = None
    order_by: list[tuple[str, bool]] = field(default_factory=list)  # (column, descending)
    limit: int = DEFAULT_LIMIT
    offset: int = 0


def syntax_error(near: str) -> ApiError:
    return ApiError(400, "SYNTAX_ERROR", "error occured while parsing the query", {"near": near})


def missing_clause(clause: str) -> ApiError:
    return ApiError(400, "SYNTAX_ERROR", "missing clause", {"clause": clause})


def limit_exceeded(what: str, limit: int) -> ApiError:
    return ApiError(400, "LIMIT_EXCEEDED", f"{what} exceeds the limit", {"limit": limit})


def tokenize(text: str) -> list[Token]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise syntax_error(text[pos:].split()[0])
        kind = match.lastgroup or "word"
        raw = match.group(kind)
        if kind == "word" and raw.lower() in _KEYWORDS:
            tokens.append(Token("keyword", raw.lower()))
        else:
            tokens.append(Token(kind, raw))
        pos = match.end()
    return [*tokens, Token("end", "")]


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0
        self.conditions = 0

    def peek(self, *keywords: str) -> bool:
        token = self.tokens[self.pos]
        return token.kind == "keyword" and token.text in keywords

    def take(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expect(self, kind: str, text: str | None = None) -> Token:
        token = self.take()
        if token.kind != kind or (text is not None and token.text != text):
            raise self.unexpected(token)
        return token

    def unexpected(self, token: Token) -> ApiError:
        """At the end of the text Zoho names the last word it read (`near`)."""
        if token.kind == "end" and self.pos >= 2:
            return syntax_error(self.tokens[self.pos - 2].text)
        return syntax_error(token.text)

    def query(self) -> Query:
        if not self.peek("select"):
            raise missing_clause("select")
        self.take()
        columns = self.columns()
        if not self.peek("from"):
            raise missing_clause("from")
        self.take()
        query = Query(columns, self.expect("word").text)
        if self.peek("where"):
            self.take()
            query.where = self.condition()
        if self.peek("order"):
            self.take()
            self.expect("keyword", "by")
            query.order_by = self.order_by()
        self.paging(query)
        self.expect("end")
        return query

    def columns(self) -> list[str]:
        columns = [self.column()]
        while self.tokens[self.pos].text == ",":
            self.take()
            columns.append(self.column())
        if len(columns) > MAX_COLUMNS:
            raise limit_exceeded("select columns", MAX_COLUMNS)
        if len({c.lower() for c in columns}) < len(columns):
            raise ApiError(400, "DUPLICATE_DATA", "duplicate select column", {})
        return columns

    def column(self) -> str:
        """A column, also quoted (the COQL page quotes ``'What_Id->Leads.Last_Name'``)."""
        token = self.take()
        if token.kind == "str":
            return str(literal(token))
        if token.kind != "word":
            raise self.unexpected(token)
        return token.text

    def condition(self) -> Condition:
        """At most two conditions per bracket level, as the COQL page requires."""
        first = self.operand()
        if not self.peek("and", "or"):
            return first
        operator = self.take().text
        second = self.operand()
        if self.peek("and", "or"):
            raise self.unexpected(self.tokens[self.pos])
        return Logical(operator, (first, second))

    def operand(self) -> Condition:
        if self.tokens[self.pos].text == "(":
            self.take()
            inner = self.condition()
            self.expect("punct", ")")
            return inner
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise limit_exceeded("where conditions", MAX_CONDITIONS)
        return self.comparison(self.expect("word").text)

    def comparison(self, column: str) -> Comparison:
        token = self.take()
        if token.kind == "op":
            return Comparison(column, token.text, self.value())
        negated = token.text == "not" and token.kind == "keyword"
        if negated:
            token = self.take()
        if token.kind == "keyword" and token.text == "like":
            return Comparison(column, "not like" if negated else "like", self.expect("str"))
        if token.kind == "keyword" and token.text == "in":
            return Comparison(column, "not in" if negated else "in", self.values())
        if token.kind == "keyword" and token.text == "between":
            low = self.value()
            self.expect("keyword", "and")
            return Comparison(column, "not between" if negated else "between", (low, self.value()))
        if token.kind == "keyword" and token.text == "is" and not negated:
            is_not = self.peek("not") and self.take() is not None
            self.expect("keyword", "null")
            return Comparison(column, "is not null" if is_not else "is null")
        raise self.unexpected(token)

    def value(self) -> Token:
        token = self.take()
        if token.kind in ("str", "num") or (
            token.kind == "word" and token.text.lower() in ("true", "false")
        ):
            return token
        raise self.unexpected(token)

    def values(self) -> tuple[Token, ...]:
        self.expect("punct", "(")
        values = [self.value()]
        while self.tokens[self.pos].text == ",":
            self.take()
            values.append(self.value())
        self.expect("punct", ")")
        if len(values) > MAX_IN_VALUES:
            raise limit_exceeded("in values", MAX_IN_VALUES)
        return tuple(values)

    def order_by(self) -> list[tuple[str, bool]]:
        order = [self.order_item()]
        while self.tokens[self.pos].text == ",":
            self.take()
            order.append(self.order_item())
        if len(order) > MAX_ORDER_BY:
            raise limit_exceeded("order by fields", MAX_ORDER_BY)
        if len({c.lower() for c, _ in order}) < len(order):  # reference §12 (COQL page)
            raise ApiError(400, "DUPLICATE_DATA", "duplicate order by column", {})
        return order

    def order_item(self) -> tuple[str, bool]:
        column = self.expect("word").text
        if self.peek("asc", "desc"):
            return column, self.take().text == "desc"
        return column, False

    def paging(self, query: Query) -> None:
        if self.peek("limit"):
            self.take()
            first = self.number()
            if self.tokens[self.pos].text == ",":  # LIMIT offset, count
                self.take()
                query.offset, query.limit = first, self.number()
            else:
                query.limit = first
        if self.peek("offset"):
            self.take()
            query.offset = self.number()

    def number(self) -> int:
        token = self.take()
        if token.kind != "num" or "." in token.text:
            raise ApiError(
                400, "INVALID_QUERY", "limit given seems to be invalid", {"limit": token.text}
            )
        return int(token.text)


def parse(text: str) -> Query:
    return _Parser(text).query()


def literal(token: Token) -> Any:
    """The Python value of a literal token: str (unquoted), int/float, or bool."""
    if token.kind == "str":
        return re.sub(r"\\(.)", r"\1", token.text[1:-1])
    if token.kind == "num":
        return float(token.text) if "." in token.text else int(token.text)
    return token.text.lower() == "true"

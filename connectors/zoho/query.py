"""COQL (reference §12): `POST /crm/v8/coql`, at most 2,000 rows per call.

Mixed into ``ZohoClient``. Text comparisons in WHERE ignore case; `in` takes at most 100
values and a query at most 25 conditions; no matching row is a 204.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .errors import InvalidQuery
from .limits import BackoffPolicy, Priority
from .transport import Call, ZohoTransport

MAX_ROWS = 2000
MAX_IN_VALUES = 100
MAX_CONDITIONS = 25


def query_credits(limit: int) -> int:
    """Credits of one COQL call by its LIMIT: 1 up to 200 rows, 2 up to 1,000, 3 beyond."""
    return 1 if limit <= 200 else 2 if limit <= 1000 else 3


def literal(value: Any) -> str:
    """A COQL literal: text in single quotes (quote and backslash escaped), numbers bare."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def any_of(field: str, values: Iterable[Any]) -> list[str]:
    """`field in (…)` conditions, each within the 100 values `in` takes."""
    unique = list(dict.fromkeys(values))
    chunks = [unique[i : i + MAX_IN_VALUES] for i in range(0, len(unique), MAX_IN_VALUES)]
    return [f"{field} in ({', '.join(map(literal, chunk))})" for chunk in chunks]


class QueryAPI:
    _transport: ZohoTransport

    async def query(
        self,
        select: str,
        *,
        limit: int = MAX_ROWS,
        offset: int = 0,
        priority: Priority = Priority.LIVE,
        retry: BackoffPolicy | None = None,
    ) -> tuple[list[dict[str, Any]], bool]:
        """The rows of `select` (a COQL query without LIMIT) from `offset`, and whether more
        follow. A heavy call for Zoho's sub-concurrency; credits by LIMIT."""
        if not 1 <= limit <= MAX_ROWS:
            raise ValueError(f"a COQL LIMIT is 1..{MAX_ROWS}")
        call = Call(
            "POST",
            "/coql",
            "records.query",
            body={"select_query": f"{select} limit {limit} offset {offset}"},
            credits=query_credits(limit),
            heavy=True,
            priority=priority,
            retry=retry,
        )
        try:
            response = await self._transport.call(call)
        except InvalidQuery as error:
            raise refused_column(error, select) from None
        body = response.body if response.status == 200 else None
        if not isinstance(body, dict):
            return [], False
        rows = body.get("data")
        more = bool((body.get("info") or {}).get("more_records"))
        return (rows if isinstance(rows, list) else []), more


def refused_column(error: InvalidQuery, select: str) -> InvalidQuery:
    """INVALID_QUERY naming ``Module.Field``: a field Zoho does not know, or one hidden from
    the API user (a field hidden in its layout or profile is refused in queries, not shown)."""
    column = error.details.get("column_name")
    if not column:
        return error
    found = re.search(r"\bfrom\s+([\w$]+)", select, re.IGNORECASE)
    field = f"{found.group(1)}.{column}" if found else str(column)
    message = (
        f"COQL refused the field {field}: it does not exist, or it is hidden from the API "
        "user (the field's permission in the user's profile, or its layout); make it visible "
        "to that user or leave it out of the route's link_existing/match fields"
    )
    return InvalidQuery(message, details=error.details, status=error.status, org=error.org)

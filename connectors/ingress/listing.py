"""What changed since a time, however much (issue 26 item 5).

A records list reaches 2,000 records by ``page`` and 100,000 by ``page_token`` (reference §2);
the next page is refused with ``PAGINATION_LIMIT_EXCEEDED``. `changed_since` lists by
``Modified_Time``, oldest first, and when refused lists again from the last second it had
listed completely: a window of up to 100,000 records at a time, so any number of changes
gets listed. The records of that second come again (the poller drops them by id, `Recent`);
none is skipped, whether Zoho's ``If-Modified-Since`` includes its own second or not (the
reference leaves it open), because the next window starts at or before the first record it
has not listed. Only when that second is where the window started (two seconds holding more
than a listing reaches) does the next start at the last second, and only if the listing
showed that ``If-Modified-Since`` includes its own second. The cap is only met past 100,000
changes, so a normal listing costs what it did: one call for a quiet module (a 304).

Zoho writes at most 100 records a call and 25 calls at a time per org, so one second never
holds 100,000 changes of one module; if it did, the window could not move and the error is
raised (the poll fails and is counted, as before). COQL would page such a second by
``id > last`` but needs the ``ZohoCRM.coql.READ`` scope, which a source does not have to grant.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from datetime import datetime
from typing import Any

from connectors.zoho import ZohoClient
from connectors.zoho.errors import PaginationLimitExceeded

Record = dict[str, Any]


async def changed_since(
    client: ZohoClient, module: str, since: datetime, fields: Sequence[str]
) -> AsyncGenerator[Record, None]:
    """Every record modified at or after ``since``, oldest first, in windows of what one
    listing reaches; a record of a window's first second may come twice."""
    start = since
    while True:
        seconds = Seconds()
        try:
            async for record in client.list_modified_since(module, start, fields):
                seconds.see(str(record.get("Modified_Time") or ""))
                yield record
            return
        except PaginationLimitExceeded:
            start = seconds.restart_after(start)


class Seconds:
    """The distinct ``Modified_Time`` seconds of one listing, oldest first: the one listed
    last may still have records to come, the one before it is complete."""

    def __init__(self) -> None:
        self.first: str | None = None
        self.current: str | None = None
        self.complete: str | None = None

    def see(self, when: str) -> None:
        if when and when != self.current:
            self.complete, self.current = self.current, when
            self.first = self.first or when

    def restart_after(self, start: datetime) -> datetime:
        """Where the next window starts: the last complete second, listed again; when that
        does not move (two seconds hold more than a listing reaches), the last second, if
        this listing showed that ``If-Modified-Since`` includes its own second (it listed
        records of ``start``). Re-raises the refusal when neither moves."""
        complete, current, first = map(_moment, (self.complete, self.current, self.first))
        if complete is not None and complete > start:
            return complete
        if first == start and current is not None and current > start:
            return current
        raise PaginationLimitExceeded(
            f"more records than one listing reaches in the second after {start.isoformat()}"
        )


def _moment(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None

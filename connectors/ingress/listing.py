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

Deleted records (``/deleted``) page by ``page`` only: Zoho documents ``type``, ``page`` and
``per_page``, no ``page_token``, no cap and no order (v2–v8 get-deleted-records pages, the v8
SDK's ``GetDeletedRecordsParam``). Were it capped like a records list's ``page`` (2,000),
`DeletedSince` would not stick there: listed oldest first it goes on in windows like the
records; listed newest first (as the emulator does) what is older than the cap is out of
reach, so it stops, says so (``unreached``), and the cursor moves on to the newest deletion.

Zoho writes at most 100 records a call and 25 calls at a time per org, so one second never
holds 100,000 changes of one module; if it did, the window could not move and the error is
raised (the poll fails and is counted, as before). COQL would page such a second by
``id > last`` but needs the ``ZohoCRM.coql.READ`` scope, which a source does not have to grant.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from datetime import datetime, timedelta
from typing import Any

from connectors.zoho import DeletedRecord, ZohoClient
from connectors.zoho.errors import DiscretePaginationLimitExceeded, PaginationLimitExceeded

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


class DeletedSince:
    """The records of a module deleted at or after a time, in windows of what one
    ``/deleted`` listing reaches; ``unreached``: deletions were left out at a cap."""

    def __init__(self, client: ZohoClient, module: str) -> None:
        self.client, self.module = client, module
        self.unreached = False

    async def since(self, start: datetime) -> AsyncGenerator[DeletedRecord, None]:
        moment: datetime | None = start
        while moment is not None:
            seconds = Seconds()
            try:
                async for gone in self.client.list_deleted_since(self.module, moment):
                    seconds.see(gone.deleted_time)
                    yield gone
                return
            except DiscretePaginationLimitExceeded:
                moment = self._after_cap(moment, seconds)

    def _after_cap(self, start: datetime, seconds: Seconds) -> datetime | None:
        """Where the next window starts (None: nowhere) once ``/deleted`` refused a page."""
        if seconds.ascending:
            try:
                return seconds.restart_after(start)
            except PaginationLimitExceeded:
                pass  # one second held more than a listing reaches: the rest of it is lost
        self.unreached = True
        current = _moment(seconds.current)
        return current + timedelta(seconds=1) if seconds.ascending and current else None


class Seconds:
    """The distinct seconds (``Modified_Time``, ``deleted_time``) of one listing, oldest
    first: the one listed last may still have records to come, the one before it is complete.
    ``ascending`` says whether they did come oldest first (``/deleted`` has no documented
    order)."""

    def __init__(self) -> None:
        self.first: str | None = None
        self.current: str | None = None
        self.complete: str | None = None
        self.ascending = True  # no second came before the one listed before it

    def see(self, when: str) -> None:
        if when and when != self.current:
            if self.current and _before(when, self.current):
                self.ascending = False
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


def _before(text: str, other: str) -> bool:
    first, second = _moment(text), _moment(other)
    return first is not None and second is not None and first < second


def _moment(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None

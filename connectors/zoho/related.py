"""Notes of a record and tags (reference §13, §15): what lives around a record.

Mixed into ``ZohoClient``. Notes are read and written per parent record
(``/{Module}/{id}/Notes``, at most 100 per call); tags are added to and removed from records
by name (``/{Module}/actions/add_tags``, at most 500 records per call, 1 credit per 50).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .limits import Priority
from .outcomes import WriteOutcome, parse_write_response
from .records import MAX_RECORDS, PER_PAGE, Record, chunked, response_data, response_info
from .transport import Call, ZohoTransport

NOTE_FIELDS = ("Note_Title", "Note_Content", "Parent_Id", "Modified_Time", "Created_Time")
MAX_TAGGED = 500
TAGGED_PER_CREDIT = 50


async def list_related(
    transport: ZohoTransport,
    path: str,
    fields: Sequence[str],
    kind: str,
    priority: Priority,
) -> list[Record]:
    """Every item of a record's related list (``/{Module}/{id}/{List}``), 200 per page."""
    found: list[Record] = []
    page, more = 1, True
    while more:
        params = {"fields": ",".join(fields), "page": str(page), "per_page": str(PER_PAGE)}
        response = await transport.call(Call("GET", path, kind, params=params, priority=priority))
        found += response_data(response)
        more, page = bool(response_info(response).get("more_records")), page + 1
    return found


async def delete_related(
    transport: ZohoTransport, path: str, ids: Sequence[str], kind: str
) -> list[WriteOutcome]:
    """Items of a record's related list deleted by id, 100 per call."""
    outcomes: list[WriteOutcome] = []
    for chunk in chunked(list(ids), MAX_RECORDS):
        call = Call("DELETE", path, kind, params={"ids": ",".join(chunk)})
        response = await transport.call(call)
        outcomes += parse_write_response(response.body, len(chunk), "delete")
    return outcomes


class RelatedAPI:
    _transport: ZohoTransport

    async def notes(
        self,
        module: str,
        record_id: str,
        fields: Sequence[str] = NOTE_FIELDS,
        *,
        priority: Priority = Priority.LIVE,
    ) -> list[Record]:
        """Every note of one record, a page of 200 at a time."""
        path = f"/{module}/{record_id}/Notes"
        return await list_related(self._transport, path, fields, "records.list", priority)

    async def add_notes(
        self, module: str, record_id: str, notes: Sequence[Record]
    ) -> list[WriteOutcome]:
        """New notes (`Note_Title`, `Note_Content`) on one record; their ids in the outcomes."""
        return await self._notes_write("POST", module, record_id, notes, "insert")

    async def update_notes(
        self, module: str, record_id: str, notes: Sequence[Record]
    ) -> list[WriteOutcome]:
        """Notes of one record changed; each carries its ``id``."""
        return await self._notes_write("PUT", module, record_id, notes, "update")

    async def delete_notes(
        self, module: str, record_id: str, ids: Sequence[str]
    ) -> list[WriteOutcome]:
        path = f"/{module}/{record_id}/Notes"
        return await delete_related(self._transport, path, ids, "records.delete")

    async def _notes_write(
        self, method: str, module: str, record_id: str, notes: Sequence[Record], action: Any
    ) -> list[WriteOutcome]:
        outcomes: list[WriteOutcome] = []
        for chunk in chunked(list(notes), MAX_RECORDS):
            call = Call(
                method,
                f"/{module}/{record_id}/Notes",
                "records.write",
                body={"data": list(chunk)},
            )
            response = await self._transport.call(call)
            outcomes += parse_write_response(response.body, len(chunk), action)
        return outcomes

    async def tags(self, module: str) -> list[dict[str, Any]]:
        """The tags the module has (name, id, color_code)."""
        call = Call("GET", "/settings/tags", "metadata", params={"module": module})
        body = (await self._transport.call(call)).body
        found = body.get("tags") if isinstance(body, dict) else None
        return found if isinstance(found, list) else []

    async def add_tags(
        self, module: str, ids: Sequence[str], names: Sequence[str]
    ) -> list[WriteOutcome]:
        """Tag these records with these names (a name the module lacks is created)."""
        return await self._tagging("add_tags", module, ids, names)

    async def remove_tags(
        self, module: str, ids: Sequence[str], names: Sequence[str]
    ) -> list[WriteOutcome]:
        return await self._tagging("remove_tags", module, ids, names)

    async def _tagging(
        self, action: str, module: str, ids: Sequence[str], names: Sequence[str]
    ) -> list[WriteOutcome]:
        outcomes: list[WriteOutcome] = []
        for chunk in chunked(list(ids), MAX_TAGGED):
            body = {"tags": [{"name": name} for name in names], "ids": list(chunk)}
            call = Call(
                "POST",
                f"/{module}/actions/{action}",
                "records.write",
                body=body,
                credits=max(1, math.ceil(len(chunk) / TAGGED_PER_CREDIT)),
            )
            response = await self._transport.call(call)
            outcomes += parse_write_response(response.body, len(chunk), "update")
        return outcomes

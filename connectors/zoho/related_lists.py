"""Related lists (reference §17): records linked to a record, e.g. a product's price books.

Mixed into ``ZohoClient``. ``related_lists`` is the module's list metadata (cached like field
metadata); the others address ``/{Module}/{id}/{related_list}``: read every page, link or change
links (``{"id": related_id, **extras}``, e.g. ``list_price`` for Products ↔ Price_Books; at most
100 per call) and delink by id. Lists that show the records of a lookup (Accounts → Contacts)
are read-only: change the lookup field instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .limits import Priority
from .metadata import TtlCache
from .outcomes import WriteOutcome, parse_write_response
from .records import MAX_RECORDS, Record, chunked
from .related import delete_related, list_related
from .transport import Call, ZohoTransport


class RelatedListsAPI:
    _transport: ZohoTransport
    _metadata: TtlCache

    async def related_lists(
        self, module: str, priority: Priority = Priority.LIVE
    ) -> list[dict[str, Any]]:
        """The related lists of ``module`` (``api_name``, ``module {api_name, id}``, ``type``…)."""

        async def fetch() -> list[dict[str, Any]]:
            params = {"module": module}
            call = Call(
                "GET", "/settings/related_lists", "metadata", params=params, priority=priority
            )
            body = (await self._transport.call(call)).body
            found = body.get("related_lists") if isinstance(body, dict) else None
            return list(found) if isinstance(found, list) else []

        result: list[dict[str, Any]] = await self._metadata.get(f"related_lists:{module}", fetch)
        return result

    async def related_records(
        self,
        module: str,
        record_id: str,
        related_list: str,
        fields: Sequence[str],
        *,
        priority: Priority = Priority.LIVE,
    ) -> list[Record]:
        """Every record of one record's related list (all pages); a price book relation also
        carries its ``list_price``."""
        path = f"/{module}/{record_id}/{related_list}"
        return await list_related(self._transport, path, fields, "records.list", priority)

    async def link_related(
        self,
        module: str,
        record_id: str,
        related_list: str,
        rows: Sequence[Mapping[str, Any]],
    ) -> list[WriteOutcome]:
        """Link records (``{"id": related_id, **extras}``) or change their extras; a row that
        fails (e.g. no ``list_price`` for a price book) is a failed outcome, in row order."""
        path = f"/{module}/{record_id}/{related_list}"
        outcomes: list[WriteOutcome] = []
        for chunk in chunked(list(rows), MAX_RECORDS):
            call = Call("PUT", path, "records.write", body={"data": [dict(r) for r in chunk]})
            response = await self._transport.call(call)
            outcomes += parse_write_response(response.body, len(chunk), "update")
        return outcomes

    async def delink_related(
        self, module: str, record_id: str, related_list: str, ids: Sequence[str]
    ) -> list[WriteOutcome]:
        """Remove these links (neither record is deleted); one outcome per id."""
        path = f"/{module}/{record_id}/{related_list}"
        return await delete_related(self._transport, path, ids, "records.delete")

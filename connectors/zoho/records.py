"""Records API (reference §2, §4): reads by id, incremental lists, writes in chunks of 100.

Mixed into ``ZohoClient``; every method goes through ``ZohoTransport.call``.  Reads by
id run their 100-id chunks concurrently (the concurrency limiter bounds them); writes
run chunks in order so a record's updates reach Zoho in the order given.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from .limits import BackoffPolicy, Priority, write_credits
from .outcomes import Action, WriteOutcome, parse_write_response
from .transport import Call, Response, ZohoTransport

MAX_IDS = 100
MAX_RECORDS = 100
MAX_FIELDS = 50
# Field types whose values only a single-record GET shows (reference §2.2, §16).
SINGLE_RECORD_TYPES = frozenset({"subform", "multiselectlookup"})
PER_PAGE = 200
DISCRETE_PAGES = 10  # page=1..10 reach 2,000 records; page_token goes beyond
HEAVY_WRITE = 10  # writes of more than 10 records count against the sub-concurrency

Record = dict[str, Any]
T = TypeVar("T")


@dataclass(frozen=True)
class DeletedRecord:
    id: str
    deleted_time: str
    type: str  # "recycle" | "permanent"
    display_name: str | None = None


def chunked(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    if size < 1:
        raise ValueError("chunk size must be >= 1")
    return [items[i : i + size] for i in range(0, len(items), size)]


def zoho_datetime(moment: datetime) -> str:
    """ISO 8601 with offset, second precision, as Zoho writes and reads it."""
    if moment.tzinfo is None:
        raise ValueError("Zoho needs an aware datetime (with a UTC offset)")
    return moment.isoformat(timespec="seconds")


def response_data(response: Response) -> list[Record]:
    body = response.body
    if response.status in (204, 304) or not isinstance(body, dict):
        return []
    data = body.get("data")
    return data if isinstance(data, list) else []


def response_info(response: Response) -> Mapping[str, Any]:
    body = response.body
    info = body.get("info") if isinstance(body, dict) else None
    return info if isinstance(info, dict) else {}


class RecordsAPI:
    _transport: ZohoTransport

    if TYPE_CHECKING:  # provided by MetadataAPI in ZohoClient

        async def field_names(
            self, module: str, priority: Priority = Priority.LIVE
        ) -> list[str]: ...

        async def fields(
            self, module: str, priority: Priority = Priority.LIVE
        ) -> list[dict[str, Any]]: ...

    async def _fields_param(
        self, module: str, fields: Sequence[str] | None, priority: Priority
    ) -> list[str]:
        """``fields`` groups of at most 50; all the module's fields when none are given."""
        names = list(fields) if fields else await self.field_names(module, priority)
        return [",".join(group) for group in chunked(names, MAX_FIELDS)] or [""]

    # --- reads -------------------------------------------------------------------------

    async def get_by_ids(
        self,
        module: str,
        ids: Iterable[str],
        fields: Sequence[str] | None = None,
        *,
        priority: Priority = Priority.LIVE,
        retry: BackoffPolicy | None = None,
    ) -> list[Record]:
        """The records with these ids (missing ids are absent), 100 ids per call."""
        unique = list(dict.fromkeys(str(i) for i in ids))
        if not unique:
            return []
        groups = await self._fields_param(module, fields, priority)
        chunks = chunked(unique, MAX_IDS)
        read = await _all(self._get_chunk(module, c, groups, priority, retry) for c in chunks)
        found = [record for chunk in read for record in chunk]
        return await self.complete_rows(module, found, fields, priority=priority, retry=retry)

    async def get_record(
        self,
        module: str,
        record_id: str,
        *,
        priority: Priority = Priority.LIVE,
        retry: BackoffPolicy | None = None,
    ) -> Record | None:
        """One record with everything, subform rows included (``GET /{module}/{id}``)."""
        call = Call("GET", f"/{module}/{record_id}", "records.get", priority=priority, retry=retry)
        data = response_data(await self._transport.call(call))
        return data[0] if data else None

    async def complete_rows(
        self,
        module: str,
        records: list[Record],
        fields: Sequence[str] | None = None,
        *,
        priority: Priority = Priority.LIVE,
        retry: BackoffPolicy | None = None,
    ) -> list[Record]:
        """``records`` with their subform rows (of ``fields``, default all): in a module that
        has subforms, each record is read once more alone, the only read that shows them
        (one call per record)."""
        names = [
            str(f["api_name"])
            for f in await self.fields(module, priority)
            if f.get("data_type") in SINGLE_RECORD_TYPES and (not fields or f["api_name"] in fields)
        ]
        if not names or not records:
            return records
        alone = await _all(
            self.get_record(module, str(r.get("id")), priority=priority, retry=retry)
            for r in records
        )
        for record, full in zip(records, alone, strict=True):
            record.update({name: (full or {}).get(name) for name in names})
        return records

    async def _get_chunk(
        self,
        module: str,
        ids: Sequence[str],
        groups: Sequence[str],
        priority: Priority,
        retry: BackoffPolicy | None,
    ) -> list[Record]:
        merged: dict[str, Record] = {}
        for group in groups:  # one call unless the caller wants more than 50 fields
            params = {"ids": ",".join(ids), "fields": group}
            response = await self._transport.call(
                Call(
                    "GET",
                    f"/{module}",
                    "records.get",
                    params=params,
                    priority=priority,
                    retry=retry,
                )
            )
            for record in response_data(response):
                merged.setdefault(str(record.get("id")), {}).update(record)
        return list(merged.values())

    async def count(self, module: str, *, priority: Priority = Priority.LOW) -> int:
        """How many records the module holds (``GET /{module}/actions/count``, one credit)."""
        call = Call("GET", f"/{module}/actions/count", "records.list", priority=priority)
        body = (await self._transport.call(call)).body
        return int(body.get("count") or 0) if isinstance(body, dict) else 0

    async def list_modified_since(
        self,
        module: str,
        since: datetime,
        fields: Sequence[str],
        *,
        priority: Priority = Priority.LOW,
    ) -> AsyncIterator[Record]:
        """Every record modified at or after ``since``, oldest first, across all pages."""
        if not fields or len(fields) > MAX_FIELDS:
            raise ValueError(f"list_modified_since needs 1..{MAX_FIELDS} fields")
        base = {"fields": ",".join(fields), "sort_by": "Modified_Time", "sort_order": "asc"}
        base["per_page"] = str(PER_PAGE)
        headers = {"If-Modified-Since": zoho_datetime(since)}
        page, token = 1, None
        while True:
            params = {**base, "page_token": token} if token else {**base, "page": str(page)}
            call = Call(
                "GET",
                f"/{module}",
                "records.list",
                params=params,
                headers=headers,
                heavy=True,
                priority=priority,
            )
            response = await self._transport.call(call)
            for record in response_data(response):
                yield record
            info = response_info(response)
            if not info.get("more_records"):
                return
            page, token = page + 1, _next_token(info, page)

    async def list_deleted_since(
        self,
        module: str,
        since: datetime,
        *,
        type: str = "all",
        priority: Priority = Priority.LOW,
    ) -> AsyncIterator[DeletedRecord]:
        """Records deleted at or after ``since`` (Zoho keeps 60 d recycle, 120 d permanent)."""
        headers = {"If-Modified-Since": zoho_datetime(since)}
        page = 1
        while True:
            params = {"type": type, "page": str(page), "per_page": str(PER_PAGE)}
            call = Call(
                "GET",
                f"/{module}/deleted",
                "records.deleted",
                params=params,
                headers=headers,
                credits=2,
                priority=priority,
            )
            response = await self._transport.call(call)
            for item in response_data(response):
                if _deleted_at_or_after(item, since):
                    yield _deleted(item)
            if not response_info(response).get("more_records"):
                return
            page += 1

    # --- writes ------------------------------------------------------------------------

    async def upsert(
        self,
        module: str,
        records: Sequence[Record],
        duplicate_check_fields: Sequence[str] | None = None,
        trigger: Sequence[str] | None = None,
        *,
        priority: Priority = Priority.LIVE,
        retry: BackoffPolicy | None = None,
    ) -> list[WriteOutcome]:
        """Insert or update on the duplicate-check fields.  ``trigger=None`` omits the key
        (Zoho then runs workflows, approvals, blueprints); pass ``[]`` to run none."""
        extra: dict[str, Any] = {}
        if duplicate_check_fields:
            extra["duplicate_check_fields"] = list(duplicate_check_fields)
        return await self._write(
            "POST", f"/{module}/upsert", records, trigger, extra, "insert", priority, retry=retry
        )

    async def update(
        self,
        module: str,
        records: Sequence[Record],
        trigger: Sequence[str] | None = None,
        *,
        priority: Priority = Priority.LIVE,
        retry: BackoffPolicy | None = None,
    ) -> list[WriteOutcome]:
        """Update records; each must carry ``id``."""
        return await self._write(
            "PUT", f"/{module}", records, trigger, {}, "update", priority, retry=retry
        )

    async def insert(
        self,
        module: str,
        records: Sequence[Record],
        trigger: Sequence[str] | None = None,
        *,
        priority: Priority = Priority.LIVE,
    ) -> list[WriteOutcome]:
        """Insert records.  Not idempotent: only 429 and INVALID_TOKEN are retried here."""
        return await self._write(
            "POST", f"/{module}", records, trigger, {}, "insert", priority, idempotent=False
        )

    async def delete(
        self,
        module: str,
        ids: Sequence[str],
        *,
        wf_trigger: bool | None = None,
        priority: Priority = Priority.LIVE,
        retry: BackoffPolicy | None = None,
    ) -> list[WriteOutcome]:
        """Delete records by id, 100 per call; ``wf_trigger=False`` runs no workflows."""
        outcomes: list[WriteOutcome] = []
        for chunk in chunked(list(ids), MAX_IDS):
            params = {"ids": ",".join(chunk)}
            if wf_trigger is not None:
                params["wf_trigger"] = "true" if wf_trigger else "false"
            call = Call(
                "DELETE",
                f"/{module}",
                "records.delete",
                params=params,
                priority=priority,
                retry=retry,
            )
            response = await self._transport.call(call)
            outcomes += parse_write_response(response.body, len(chunk), "delete")
        return outcomes

    async def _write(
        self,
        method: str,
        path: str,
        records: Sequence[Record],
        trigger: Sequence[str] | None,
        extra: Mapping[str, Any],
        action: Action,
        priority: Priority,
        idempotent: bool = True,
        retry: BackoffPolicy | None = None,
    ) -> list[WriteOutcome]:
        outcomes: list[WriteOutcome] = []
        for chunk in chunked(list(records), MAX_RECORDS):
            body: dict[str, Any] = {"data": list(chunk), **extra}
            if trigger is not None:
                body["trigger"] = list(trigger)
            call = Call(
                method,
                path,
                "records.write",
                body=body,
                credits=write_credits(len(chunk)),
                heavy=len(chunk) > HEAVY_WRITE,
                priority=priority,
                idempotent=idempotent,
                retry=retry,
            )
            response = await self._transport.call(call)
            outcomes += parse_write_response(response.body, len(chunk), action)
        return outcomes


async def _all(calls: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """Every call's result, in order; when one fails the others stop and its error is raised
    (callers branch on the typed ZohoError, not on a group)."""
    try:
        async with asyncio.TaskGroup() as tasks:
            running = [tasks.create_task(call) for call in calls]
    except ExceptionGroup as group:
        raise group.exceptions[0] from None
    return [task.result() for task in running]


def _next_token(info: Mapping[str, Any], page: int) -> str | None:
    """Discrete pages while they work (1..10), then the page token."""
    token = info.get("next_page_token")
    return str(token) if token and page >= DISCRETE_PAGES else None


def _deleted_at_or_after(item: Any, since: datetime) -> bool:
    if not isinstance(item, dict):
        return False
    try:
        return datetime.fromisoformat(str(item.get("deleted_time"))) >= since
    except ValueError:
        return True  # unparseable time: keep it; a spare delete hint is harmless


def _deleted(item: Mapping[str, Any]) -> DeletedRecord:
    return DeletedRecord(
        id=str(item.get("id")),
        deleted_time=str(item.get("deleted_time")),
        type=str(item.get("type")),
        display_name=item.get("display_name"),
    )

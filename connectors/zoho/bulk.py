"""Bulk Read (reference §8, §11): a module exported through a job, up to 200,000 records each.

Mixed into ``ZohoClient``: ``bulk_read(module, ...)`` creates the job (50 credits), polls it
until it ends, downloads the ZIP and returns the CSV rows as dicts of text (`id` first; lookups
and owners as ids, multi-select picklists joined with `;`). ``typed(row, fields)`` turns a row
into the shape the records API returns, so that a bulk-read record and a fetched one compare
equal.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import PermanentError
from .limits import Priority
from .transport import Call, ZohoTransport

JOB_CREDITS = 50
BULK_PAGE = 200_000
POLL_SECONDS = 1.0
JOB_TIMEOUT_SECONDS = 1800.0
_LOOKUPS = frozenset({"lookup", "ownerlookup", "userlookup"})
_INTEGERS = frozenset({"integer", "bigint", "autonumber"})
_DECIMALS = frozenset({"double", "decimal", "currency", "percent"})


@dataclass(frozen=True)
class BulkPage:
    rows: list[dict[str, str]]
    more: bool  # another job with the next page would export more


class BulkJobFailed(PermanentError):
    """The job ended in FAILURE (Zoho's error is in code and message)."""


def typed(row: Mapping[str, str], fields: Mapping[str, str]) -> dict[str, Any]:
    """A CSV row as the records API shapes it, by each field's `data_type` (`fields`)."""
    record: dict[str, Any] = {}
    for name, text in row.items():
        kind = fields.get(name, "text")
        if text == "":
            record[name] = [] if kind == "multiselectpicklist" else None
        elif kind in _LOOKUPS:
            record[name] = {"id": text}
        elif kind == "boolean":
            record[name] = text.lower() == "true"
        elif kind in _INTEGERS and text.lstrip("-").isdigit():
            record[name] = int(text)
        elif kind in _DECIMALS:
            record[name] = float(text)
        elif kind == "multiselectpicklist":
            record[name] = text.split(";")
        else:
            record[name] = text
    return record


def csv_rows(archive: bytes) -> list[dict[str, str]]:
    """The rows of the one CSV file in a Bulk Read result ZIP."""
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        [name] = [n for n in zipped.namelist() if n.endswith(".csv")]
        with zipped.open(name) as raw:
            return list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline="")))


class BulkReadAPI:
    _transport: ZohoTransport

    async def bulk_read(
        self,
        module: str,
        fields: Sequence[str] | None = None,
        criteria: Mapping[str, Any] | None = None,
        page: int = 1,
        *,
        priority: Priority = Priority.LOW,
        poll_seconds: float = POLL_SECONDS,
    ) -> BulkPage:
        """Export one page (≤ 200,000 records) of `module`: job, polls, download."""
        query: dict[str, Any] = {"module": {"api_name": module}, "page": page}
        if fields:
            query["fields"] = list(fields)
        if criteria:
            query["criteria"] = dict(criteria)
        body = {"query": query, "file_type": "csv"}
        created = await self._bulk(
            Call(
                "POST",
                "/read",
                "records.list",
                body=body,
                credits=JOB_CREDITS,
                priority=priority,
                bulk=True,
            )
        )
        job_id = str(created["data"][0]["details"]["id"])
        job = await self._until_ended(job_id, priority, poll_seconds)
        result = job.get("result") or {}
        path = str(result["download_url"]).removeprefix(f"/crm/bulk/{self._transport.version}")
        download = Call(
            "GET", path, "records.list", credits=0, priority=priority, bulk=True, binary=True
        )
        archive = (await self._transport.call(download)).body
        return BulkPage(csv_rows(archive), bool(result.get("more_records")))

    async def _until_ended(self, job_id: str, priority: Priority, poll: float) -> dict[str, Any]:
        deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
        while True:
            status = await self._bulk(
                Call("GET", f"/read/{job_id}", "records.list", priority=priority, bulk=True)
            )
            job: dict[str, Any] = status["data"][0]
            if job.get("state") == "COMPLETED":
                return job
            if job.get("state") == "FAILURE":
                error = (job.get("result") or {}).get("error_message") or {}
                raise BulkJobFailed(
                    str(error.get("message") or "bulk read failed"),
                    code=str(error.get("code") or "FAILURE"),
                )
            if time.monotonic() > deadline:
                raise BulkJobFailed(f"bulk read job {job_id} did not end", code="TIMEOUT")
            await asyncio.sleep(poll)

    async def _bulk(self, call: Call) -> dict[str, Any]:
        body = (await self._transport.call(call)).body
        return body if isinstance(body, dict) else {}

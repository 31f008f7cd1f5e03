"""Bulk Read API: POST /crm/bulk/{v}/read, GET …/read/{job_id}, GET …/read/{job_id}/result.

A job snapshots its page of matching records (ordered by id) when it is created; its state is
derived from the time since creation: ADDED, QUEUED, IN PROGRESS, then COMPLETED once
``behaviour.bulk_read_job_delay_s`` has passed (the emulator clock, so ``advance`` moves it).
A callback, if given, is POSTed the job object when the delay has passed (real time).
"""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from .bulk_criteria import compile_criteria
from .bulk_export import NOT_EXPORTED, CsvColumns, csv_text, unknown_columns, zip_bytes
from .config import Behaviour
from .http import ApiError, json_response, too_many_requests
from .keys import ORG
from .schema import ModuleDef
from .scopes import READ, demand, module_need, module_scope, need
from .state import EmulatorState, OrgState
from .webhooks import Outbound, orgs_of, outbound_for

PAGE_TOKEN_TTL_MS = 86_400_000  # next_page_token: valid 24 h
CALLBACK_TIMEOUT_S = 10.0
_MINUTE_MS = 60_000
_STATES = ("ADDED", "QUEUED", "IN PROGRESS")


@dataclass
class BulkJob:
    id: str
    module: ModuleDef
    query: dict[str, Any]  # the echo in job details
    created_by: dict[str, str]
    created_time: str
    created_ms: int
    download_url: str
    page: int
    header: list[str]
    rows: list[list[str]]
    more_records: bool
    next_page_token: str | None
    callback_url: str | None = None


@dataclass
class BulkReads:
    """The bulk read jobs of one org, its download window and its page tokens."""

    org: OrgState
    outbound: Outbound
    jobs: dict[str, BulkJob] = field(default_factory=dict)
    downloads: deque[int] = field(default_factory=deque)
    page_tokens: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    callbacks: dict[str, int] = field(default_factory=lambda: {"sent": 0, "failed": 0})

    @property
    def behaviour(self) -> Behaviour:
        return self.org.behaviour

    def state_of(self, job: BulkJob) -> str:
        delay_ms = self.behaviour.bulk_read_job_delay_s * 1000
        elapsed = self.org.now_ms() - job.created_ms
        if elapsed >= delay_ms:
            return "COMPLETED"
        return _STATES[min(2, int(3 * elapsed / delay_ms))]

    def details(self, job: BulkJob) -> dict[str, Any]:
        state = self.state_of(job)
        out: dict[str, Any] = {
            "id": job.id,
            "operation": "read",
            "state": state,
            "query": job.query,
            "created_by": job.created_by,
            "created_time": job.created_time,
            "file_type": "csv",
        }
        if state == "COMPLETED":
            out["result"] = {
                "page": job.page,
                "per_page": self.behaviour.bulk_read_per_page,
                "count": len(job.rows),
                "download_url": job.download_url,
                "more_records": job.more_records,
                "next_page_token": job.next_page_token,
            }
        return out

    def try_download(self) -> bool:
        now, window = self.org.now_ms(), self.downloads
        while window and window[0] <= now - _MINUTE_MS:
            window.popleft()
        if len(window) >= self.behaviour.bulk_read_downloads_per_minute:
            return False
        window.append(now)
        return True

    def schedule_callback(self, job: BulkJob) -> None:
        if job.callback_url:
            self.outbound.spawn(self._callback(job, job.callback_url))

    async def _callback(self, job: BulkJob, url: str) -> None:
        await asyncio.sleep(self.behaviour.bulk_read_job_delay_s)
        body = orjson.dumps({"data": [self.details(job)]})  # v7 create-job "Sample callback"
        ok = await self.outbound.post(url, body, "application/json", CALLBACK_TIMEOUT_S)
        self.callbacks["sent" if ok else "failed"] += 1

    def reset(self) -> None:
        self.jobs.clear()
        self.downloads.clear()
        self.page_tokens.clear()
        self.callbacks = {"sent": 0, "failed": 0}


BULK_READS = web.AppKey("zoho_emulator.bulk_reads", dict)


def setup_bulk_read(app: web.Application, emulator_state: EmulatorState) -> None:
    outbound = outbound_for(app)
    by_org: dict[str, BulkReads] = {}
    for org in orgs_of(emulator_state):
        reads = by_org[org.name] = BulkReads(org, outbound)
        org.add_reset_listener(reads.reset)
    app[BULK_READS] = by_org


def bulk_reads_of(app: web.Application, org_name: str) -> BulkReads:
    reads: BulkReads = app[BULK_READS][org_name]
    return reads


def _error(code: str, message: str, **details: Any) -> ApiError:
    return ApiError(400, code, message, details)


def _body(raw: bytes, content_type: str) -> dict[str, Any]:
    if content_type != "application/json":
        raise ApiError(415, "MEDIA_TYPE_NOT_SUPPORTED", "The media type is not supported", {})
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("query"), dict):
        raise _error("REQUEST_BODY_NOT_SUPPORTED", "the request body is not supported")
    return body


def _callback_url(body: dict[str, Any]) -> str | None:
    callback = body.get("callback")
    if callback is None:
        return None
    url = callback.get("url") if isinstance(callback, dict) else None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise _error("INVALID_CALLBACK_URL", "the callback url is invalid", api_name="url")
    if not isinstance(callback, dict) or callback.get("method") != "post":
        raise _error(
            "INVALID_CALLBACK_METHOD",
            "the callback method is invalid",
            supported_callback_methods=["post"],
        )
    return url


# Reference §11.3 / bulk-read limitations page: no Notes, Attachments, Emails (nor related data)
NOT_EXPORTABLE = frozenset({"Notes", "Attachments", "Emails"})


def _module(org: OrgState, query: dict[str, Any]) -> ModuleDef:
    spec = query.get("module")
    name = spec.get("api_name") if isinstance(spec, dict) else spec
    if name in NOT_EXPORTABLE:
        raise _error("MODULE_NOT_SUPPORTED", "the module is not supported", api_name=str(name))
    module = org.modules.get(name) if isinstance(name, str) else None
    if module is None:
        raise _error("MODULE_NOT_AVAILABLE", "the module is not available", api_name=str(name))
    return module


def _columns(org: OrgState, module: ModuleDef, query: dict[str, Any]) -> list[str]:
    fields = query.get("fields")
    if fields is None:  # subform rows are not columns of the parent's export (UNCONFIRMED)
        return [n for n, f in module.fields.items() if f.data_type not in NOT_EXPORTED]
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise _error("INVALID_DATA", "fields should be an array of API names", api_name="fields")
    columns = list(dict.fromkeys(f for f in fields if f != "id"))
    bad = unknown_columns(module, columns, org.modules)
    if bad:
        raise _error("FIELD_NOT_SUPPORTED", "the field is not supported", api_name=bad[0])
    return columns


def _page(reads: BulkReads, module: ModuleDef, query: dict[str, Any]) -> int:
    token = query.get("page_token")
    if token is not None:
        found = reads.page_tokens.get(token) if isinstance(token, str) else None
        if found is None or found[0] != module.api_name or found[2] <= reads.org.now_ms():
            raise _error("INVALID_DATA", "the page token is invalid", api_name="page_token")
        return found[1]
    page = query.get("page", 1)
    if page is None:
        return 1
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise _error("INVALID_DATA", "the page should be a positive integer", api_name="page")
    return page


async def create_job(request: web.Request) -> web.Response:
    org: OrgState = request[ORG]
    reads = bulk_reads_of(request.app, org.name)
    body = _body(await request.read(), request.content_type)
    query = body["query"]
    callback = _callback_url(body)
    module = _module(org, query)
    demand(request, ((module_need(module_scope(module, ""), READ),),))
    if query.get("cvid") is not None:
        raise _error("CVID_NOT_SUPPORTED", "custom views are not supported", api_name="cvid")
    if body.get("file_type", "csv") != "csv":
        raise _error("INVALID_DATA", "only csv is supported here", api_name="file_type")
    columns = _columns(org, module, query)
    criteria = query.get("criteria")
    keep = compile_criteria(criteria, module) if criteria is not None else None
    page = _page(reads, module, query)

    records = sorted(org.stores[module.api_name].records.values(), key=lambda rec: rec.id)
    if keep is not None:
        records = [rec for rec in records if keep(rec)]
    per_page = org.behaviour.bulk_read_per_page
    chunk = records[(page - 1) * per_page : page * per_page]
    more = len(records) > page * per_page
    cells = CsvColumns(module, columns, org.renderer, org.stores, org.modules)

    job_id = org.new_id()
    now_ms = org.now_ms()
    token = None
    if more:
        token = secrets.token_hex(16)
        reads.page_tokens[token] = (module.api_name, page + 1, now_ms + PAGE_TOKEN_TTL_MS)
    echo: dict[str, Any] = {"module": {"id": module.id, "api_name": module.api_name}, "page": page}
    for key in ("fields", "criteria"):
        if query.get(key) is not None:
            echo[key] = query[key]
    user = org.api_user
    version = request.path.split("/")[3]
    job = BulkJob(
        id=job_id,
        module=module,
        query=echo,
        created_by={"id": user.id, "name": user.name},
        created_time=org.renderer(module.api_name).time(now_ms // 1000),
        created_ms=now_ms,
        download_url=f"/crm/bulk/{version}/read/{job_id}/result",
        page=page,
        header=cells.header,
        rows=[cells.row(rec) for rec in chunk],
        more_records=more,
        next_page_token=token,
        callback_url=callback,
    )
    reads.jobs[job_id] = job
    reads.schedule_callback(job)
    details = {
        "id": job_id,
        "operation": "read",
        "state": "ADDED",
        "created_by": job.created_by,
        "created_time": job.created_time,
    }
    entry = {
        "status": "success",
        "code": "ADDED_SUCCESSFULLY",
        "message": "Added successfully.",
        "details": details,
    }
    return json_response({"data": [entry], "info": {}}, 201)


def _job(request: web.Request) -> tuple[BulkReads, BulkJob]:
    org: OrgState = request[ORG]
    reads = bulk_reads_of(request.app, org.name)
    job_id = request.match_info["job_id"]
    job = reads.jobs.get(job_id)
    if job is None:
        raise ApiError(
            404, "RESOURCE_NOT_FOUND", "the requested resource doesn't exist", {"resource": job_id}
        )
    read_job = (need("ZohoCRM.bulk", READ), module_need(module_scope(job.module, ""), READ))
    demand(request, (read_job,))
    return reads, job


async def job_details(request: web.Request) -> web.Response:
    reads, job = _job(request)
    return json_response({"data": [reads.details(job)]})


async def download_result(request: web.Request) -> web.Response:
    reads, job = _job(request)
    if not reads.try_download():
        raise too_many_requests()
    if reads.state_of(job) != "COMPLETED":
        raise ApiError(404, "RESOURCE_NOT_FOUND", "the job has no result yet", {"resource": job.id})
    data = zip_bytes(f"{job.id}.csv", csv_text(job.header, job.rows))
    headers = {
        "Content-Type": "application/zip",
        "Content-Disposition": f'attachment; filename="{job.id}.zip"',
    }
    return web.Response(body=data, headers=headers)


def bulk_read_routes(prefix: str) -> list[web.RouteDef]:
    """Routes under ``/crm/bulk/{version}``."""
    return [
        web.post(prefix + "/read", create_job),
        web.get(prefix + "/read/{job_id}", job_details),
        web.get(prefix + "/read/{job_id}/result", download_result),
    ]

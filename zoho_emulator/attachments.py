"""Attachments API (reference §14): ``/{Module}/{record_id}/Attachments[/{attachment_id}]``.

Files are kept in memory per org (``/__emulator/reset`` empties them). Upload is multipart with
a ``file`` part, or an ``attachmentUrl`` (part or query parameter, optional ``title``): a link.
Files over ``attachment_max_bytes`` (Zoho: 100 MB) → 413 ``FILE_SIZE_MORE_THAN_ALLOWED_SIZE``.
Every change is a related action on the parent record (related.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import BodyPartReader, web

from .http import ApiError, empty, json_response, param_missing, related_id_invalid
from .keys import ORG
from .paging import int_param
from .record_error import RecordError
from .records import module_of
from .related import touch_parents
from .state import EmulatorState, OrgState

MAX_IDS = 100
CHUNK = 1 << 16


@dataclass
class Attachment:
    id: str
    file_id: str
    module: str
    parent_id: str
    file_name: str
    data: bytes | None  # None: a link
    content_type: str
    link_url: str | None
    created_s: int
    modified_s: int
    created_by: str
    modified_by: str


FILES = web.AppKey("zoho_emulator.attachments", dict)


def _files(request: web.Request) -> dict[str, Attachment]:
    org: OrgState = request[ORG]
    found: dict[str, Attachment] = request.app[FILES].setdefault(org.name, {})
    return found


def _parent(request: web.Request) -> tuple[OrgState, str, str]:
    org, module = module_of(request)
    rid = request.match_info["id"]
    if rid not in org.stores[module].records:
        raise related_id_invalid()
    return org, module, rid


def _render(org: OrgState, att: Attachment) -> dict[str, Any]:
    r = org.renderer(att.module)
    parent = org.stores[att.module].records.get(att.parent_id)
    return {
        "id": att.id,
        "File_Name": att.file_name,
        "Size": str(len(att.data)) if att.data is not None else "0",
        "$file_id": att.file_id,
        "$type": "File" if att.data is not None else "Link URL",
        "$link_url": att.link_url,
        "$se_module": att.module,
        "Parent_Id": {
            "name": r.display_name(parent) if parent else None,
            "id": att.parent_id,
        },
        "Owner": r.user(att.created_by),
        "Created_By": r.user(att.created_by),
        "Modified_By": r.user(att.modified_by),
        "Created_Time": r.time(att.created_s),
        "Modified_Time": r.time(att.modified_s),
        "$editable": True,
        "$state": "save",
    }


def _of(files: dict[str, Attachment], module: str, rid: str) -> list[Attachment]:
    return [a for a in files.values() if a.module == module and a.parent_id == rid]


async def list_attachments(request: web.Request) -> web.Response:
    org, module, rid = _parent(request)
    raw = request.query.get("fields")
    if not raw:
        raise param_missing("fields")
    wanted = {n.strip() for n in raw.split(",")} | {"id"}
    per_page = int_param(request, "per_page", 200, 1, 200)
    page = int_param(request, "page", 1, 1, 10**6)
    found = _of(_files(request), module, rid)
    ids = request.query.get("ids")
    if ids:
        keep = set(ids.split(","))
        found = [a for a in found if a.id in keep]
    found.sort(key=lambda a: a.id, reverse=True)  # newest first (UNCONFIRMED)
    rows = found[(page - 1) * per_page : page * per_page]
    if not rows:
        return empty(204)
    data = [{k: v for k, v in _render(org, a).items() if k in wanted} for a in rows]
    info = {
        "per_page": per_page,
        "count": len(rows),
        "page": page,
        "more_records": len(found) > page * per_page,
    }
    return json_response({"data": data, "info": info})


def _unknown_attachment() -> ApiError:
    return ApiError(
        400, "INVALID_DATA", "the id given seems to be invalid", {"resource_path_index": 3}
    )


async def download(request: web.Request) -> web.Response:
    _, module, rid = _parent(request)
    att = _files(request).get(request.match_info["att_id"])
    if att is None or att.module != module or att.parent_id != rid:
        raise _unknown_attachment()
    if att.data is None:
        raise ApiError(
            400,
            "DOWNLOAD_NOT_ALLOWED",
            "As it is a linked attachment, you can not download it",
            {},
        )
    disposition = f"attachment;filename=\"{att.file_name}\";filename*=UTF-8''{quote(att.file_name)}"
    return web.Response(
        body=att.data,
        headers={"Content-Type": att.content_type, "Content-Disposition": disposition},
    )


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "FILE_SIZE_MORE_THAN_ALLOWED_SIZE",
        "Please check if the size of the file is in the correct range",
        {"maximum_size": limit},
    )


async def _read_upload(request: web.Request, limit: int) -> dict[str, Any]:
    """The ``file`` (name, bytes, type), ``attachmentUrl`` and ``title`` of a multipart body."""
    out: dict[str, Any] = {}
    if request.query.get("attachmentUrl"):
        out["attachmentUrl"] = request.query["attachmentUrl"]
    if request.content_type == "application/x-www-form-urlencoded":  # a link without a file
        form = await request.post()
        out.update({k: str(form[k]) for k in ("attachmentUrl", "title") if k in form})
    if not request.content_type.startswith("multipart/"):
        return out
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue  # a nested multipart: not a Zoho upload shape
        name = part.name
        if name == "file":
            data = bytearray()
            while chunk := await part.read_chunk(CHUNK):
                data += chunk
                if len(data) > limit:
                    raise _too_large(limit)
            ctype = part.headers.get("Content-Type") or "application/octet-stream"
            out["file"] = (part.filename or "file", bytes(data), ctype)
        elif name in ("attachmentUrl", "title"):
            out[name] = await part.text()
    return out


async def upload(request: web.Request) -> web.Response:
    org, module, rid = _parent(request)
    limit = org.behaviour.attachment_max_bytes
    given = await _read_upload(request, limit)
    has_file, link = "file" in given, given.get("attachmentUrl")
    if has_file and link:
        raise ApiError(
            400,
            "INVALID_DATA",
            "either file or attachmentUrl can be given",
            {"param_names": ["file", "attachmentUrl"]},
        )
    if not has_file and not link:
        raise param_missing("file")
    now_s = org.now_ms() // 1000
    user = org.api_user.id
    if has_file:
        name, data, ctype = given["file"]
        if name.lower().endswith(".exe"):
            raise ApiError(400, "INVALID_DATA", "the file type is not supported", {"param": "file"})
        att = Attachment(
            org.new_id(),
            org.new_id(),
            module,
            rid,
            name,
            data,
            ctype,
            None,
            now_s,
            now_s,
            user,
            user,
        )
    else:
        title = given.get("title") or link
        att = Attachment(
            org.new_id(), org.new_id(), module, rid, title, None, "", link, now_s, now_s, user, user
        )
    _files(request)[att.id] = att
    touch_parents(org, module, (rid,), "Attachments", now_s)
    r = org.renderer(module)
    writer = {"name": org.api_user.name, "id": user}
    details = {
        "Modified_Time": r.time(now_s),
        "Modified_By": writer,
        "Created_Time": r.time(now_s),
        "id": att.id,
        "Created_By": writer,
    }
    entry = {
        "code": "SUCCESS",
        "details": details,
        "message": "attachment uploaded successfully",
        "status": "success",
    }
    return json_response({"data": [entry]})


async def delete(request: web.Request) -> web.Response:
    org, module, rid = _parent(request)
    one = request.match_info.get("att_id")
    ids = [one] if one else [i for i in request.query.get("ids", "").split(",") if i]
    if not ids:
        raise param_missing("ids")
    if len(ids) > MAX_IDS:
        raise ApiError(
            400,
            "LIMIT_EXCEEDED",
            "the given limit exceeds the maximum",
            {"param": "ids", "param_name": "ids", "limit": MAX_IDS},
        )
    files = _files(request)
    results: list[dict[str, Any]] = []
    for aid in dict.fromkeys(ids):
        att = files.get(aid)
        if att is None or att.module != module or att.parent_id != rid:
            details = {"id": aid, "resource_path_index": 3}
            results.append(RecordError("INVALID_DATA", "record not deleted", details).entry())
            continue
        del files[aid]
        results.append(
            {
                "code": "SUCCESS",
                "details": {"id": aid},
                "message": "record deleted",
                "status": "success",
            }
        )
    ok = sum(r["status"] == "success" for r in results)
    if ok:
        touch_parents(org, module, (rid,), "Attachments", org.now_ms() // 1000)
    status = 200 if ok == len(results) else 207 if ok else 400
    return json_response({"data": results}, status)


def setup_attachments(app: web.Application, state: EmulatorState) -> None:
    files: dict[str, dict[str, Attachment]] = {}
    app[FILES] = files
    for org in state.orgs.values():
        org.add_reset_listener(lambda name=org.name: files.pop(name, None))


def attachment_routes(prefix: str) -> list[web.RouteDef]:
    base = prefix + "/{module}/{id:\\d+}/Attachments"
    one = base + "/{att_id:\\d+}"
    return [
        web.get(base, list_attachments),
        web.post(base, upload),
        web.delete(base, delete),
        web.get(one, download),
        web.delete(one, delete),
    ]

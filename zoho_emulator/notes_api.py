"""Notes of one parent record: ``/{Module}/{record_id}/Notes[/{note_id}]`` (reference §13).

The module-wide ``/Notes`` paths are the generic record paths (records.py) on the Notes module.
A note written here gets ``Parent_Id`` = the record in the path; one addressed by id must belong
to that record. Every note write is a related action on its parent (related.py).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .http import (
    ApiError,
    empty,
    json_response,
    param_missing,
    related_id_invalid,
    related_list_invalid,
)
from .keys import ORG
from .paging import list_page
from .polymorphic import SE_MODULE
from .record_error import RecordError
from .records import finish_batch, write_batch, write_body, write_trigger
from .state import OrgState
from .store import StoredRecord

NOTES = "Notes"


def parent_of(request: web.Request) -> tuple[OrgState, str, str]:
    """The org, parent module and parent id in the path; both must exist."""
    org: OrgState = request[ORG]
    module, rid = request.match_info["module"], request.match_info["id"]
    if module not in org.modules or module == NOTES:
        raise ApiError(
            400,
            "INVALID_MODULE",
            "the module name given seems to be invalid",
            {"resource_path_index": 0},
        )
    if NOTES not in org.modules:
        raise related_list_invalid()
    if rid not in org.stores[module].records:
        raise related_id_invalid()
    return org, module, rid


def _belongs(note: StoredRecord | None, module: str, rid: str) -> bool:
    return (
        note is not None
        and note.values.get("Parent_Id") == rid
        and note.values.get(SE_MODULE) == module
    )


async def list_notes(request: web.Request) -> web.Response:
    org, module, rid = parent_of(request)
    return list_page(
        request, org, NOTES, keep=lambda r: _belongs(r, module, rid), scope=f"|{module}|{rid}"
    )


async def get_note(request: web.Request) -> web.Response:
    org, module, rid = parent_of(request)
    note = org.stores[NOTES].records.get(request.match_info["note_id"])
    if note is None or not _belongs(note, module, rid):
        return empty(204)
    return json_response({"data": [org.renderer(NOTES).full(note)]})


async def create_notes(request: web.Request) -> web.Response:
    org, module, rid = parent_of(request)
    data, body = await write_body(request)
    batch = write_batch(request, org, NOTES, write_trigger(body))
    parent = {"module": {"api_name": module}, "id": rid}
    for i, raw in enumerate(data):
        note = {**raw, "Parent_Id": parent} if isinstance(raw, dict) else raw
        if isinstance(note, dict):
            note.pop("se_module", None)
            note.pop(SE_MODULE, None)
        batch.insert(note, i)
    return finish_batch(batch, 201)


def _not_of_parent(i: int, note_id: Any) -> dict[str, Any]:
    details = {"id": note_id, "api_name": "id", "json_path": f"$.data[{i}].id"}
    return RecordError("INVALID_DATA", "the id given seems to be invalid", details).entry()


async def update_notes(request: web.Request) -> web.Response:
    org, module, rid = parent_of(request)
    data, body = await write_body(request)
    batch = write_batch(request, org, NOTES, write_trigger(body))
    path_id = request.match_info.get("note_id")
    notes = org.stores[NOTES].records
    for i, raw in enumerate(data):
        note_id = path_id if path_id is not None and i == 0 else _id_of(raw)
        if note_id is not None and not _belongs(notes.get(note_id), module, rid):
            batch.results.append(_not_of_parent(i, note_id))
            continue
        if isinstance(raw, dict):  # only the title and content of a note change (reference §13)
            raw = {k: v for k, v in raw.items() if k in ("id", "Note_Title", "Note_Content")}
        batch.update(raw, i, path_id if i == 0 else None)
    return finish_batch(batch, 200)


def _id_of(raw: Any) -> str | None:
    value = raw.get("id") if isinstance(raw, dict) else None
    return str(value) if value is not None else None


async def delete_notes(request: web.Request) -> web.Response:
    org, module, rid = parent_of(request)
    path_id = request.match_info.get("note_id")
    ids = [path_id] if path_id else [i for i in request.query.get("ids", "").split(",") if i]
    if not ids:
        raise param_missing("ids")
    if len(ids) > 100:
        raise ApiError(
            400,
            "LIMIT_EXCEEDED",
            "the given limit exceeds the maximum",
            {"param": "ids", "param_name": "ids", "limit": 100},
        )
    batch = write_batch(request, org, NOTES, None)
    notes = org.stores[NOTES].records
    for i, one in enumerate(dict.fromkeys(ids)):
        if one in notes and not _belongs(notes[one], module, rid):
            batch.results.append(
                RecordError("INVALID_DATA", "record not deleted", {"id": one}).entry()
            )
            continue
        batch.delete(one, i)
    return finish_batch(batch, 200)


def note_routes(prefix: str) -> list[web.RouteDef]:
    base = prefix + "/{module}/{id:\\d+}/Notes"
    one = base + "/{note_id:\\d+}"
    return [
        web.get(base, list_notes),
        web.post(base, create_notes),
        web.put(base, update_notes),
        web.delete(base, delete_notes),
        web.get(one, get_note),
        web.put(one, update_notes),
        web.delete(one, delete_notes),
    ]

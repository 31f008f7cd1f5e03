"""Polymorphic lookups: an activity's What_Id (+ ``$se_module``) and a note's Parent_Id.

The module a value points to is stored beside it as ``$se_module`` (one polymorphic lookup per
module). Write shapes (reference §13, §19): ``"What_Id": {"id"}`` with a top-level
``"$se_module": "Deals"``; ``"Parent_Id": {"module": {"api_name": "Leads"}, "id"}`` (v8), or the
legacy ``"Parent_Id": "<id>"`` with ``"se_module"`` / ``"$se_module"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .record_error import RecordError
from .schema import FieldDef, ModuleDef
from .store import ModuleStore

SE_MODULE = "$se_module"


def polymorphic_field(module: ModuleDef) -> FieldDef | None:
    for fd in module.fields.values():
        if fd.lookup_modules:
            return fd
    return None


def _target(fd: FieldDef, raw: Mapping[str, Any]) -> Any:
    value = raw.get(fd.api_name)
    if isinstance(value, dict) and isinstance(value.get("module"), dict):
        return value["module"].get("api_name")
    return raw.get(SE_MODULE, raw.get("se_module") if fd.api_name == "Parent_Id" else None)


def resolve(
    fd: FieldDef,
    raw: Mapping[str, Any],
    out: dict[str, Any],
    i: int,
    stores: Mapping[str, ModuleStore],
) -> None:
    """Checks the module the sent id belongs to and stores it as ``$se_module``."""
    if fd.api_name not in out:
        return
    rid = out[fd.api_name]
    if rid is None:
        out[SE_MODULE] = None
        return
    target = _target(fd, raw)
    se_path = {"api_name": SE_MODULE, "json_path": f"$.data[{i}].{SE_MODULE}"}
    if target is None or target == "":
        raise RecordError("MANDATORY_NOT_FOUND", "required field not found", se_path)
    if target not in fd.lookup_modules:
        raise RecordError("INVALID_DATA", "invalid data", se_path)
    if rid not in stores[target].records:
        raise RecordError(
            "INVALID_DATA",
            "invalid data",
            {"id": rid, "api_name": fd.api_name, "json_path": f"$.data[{i}].{fd.api_name}"},
        )
    out[SE_MODULE] = target


def check_note(out: Mapping[str, Any], i: int, creating: bool, content_mandatory: bool) -> None:
    """A new note needs ``Note_Content`` (v7 create-notes page: mandatory, MANDATORY_NOT_FOUND);
    with neither a title nor a content: EXPECTED_FIELD_MISSING ([oas] notes example)."""
    if not creating or out.get("Note_Content") is not None:
        return
    path = {"api_name": "Note_Content", "json_path": f"$.data[{i}].Note_Content"}
    if out.get("Note_Title") is not None:
        if not content_mandatory:
            return
        raise RecordError("MANDATORY_NOT_FOUND", "required field not found", path)
    title = {"api_name": "Note_Title", "json_path": f"$.data[{i}].Note_Title"}
    raise RecordError(
        "EXPECTED_FIELD_MISSING",
        "should contain either content or title",
        {"expected_fields": [path, title]},
    )

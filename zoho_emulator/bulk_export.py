"""Bulk Read result files: records → CSV cells, and the ZIP holding ``{job_id}.csv``.

Cells: date-times ISO-8601 in the org's offset (as the API renders them), lookups and
users as the related record's/user's id, multi-select picklists joined with ``;``, booleans
``true``/``false``, numbers as the API's JSON shows them, empty values empty. A dot column
(``Account_Name.Phone``) is the looked-up record's field, rendered the same way.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from .bulk_criteria import raw_value
from .render import Renderer
from .schema import FieldDef, ModuleDef
from .store import ModuleStore, StoredRecord

Cell = Callable[[StoredRecord], str]
NOT_EXPORTED = frozenset({"subform", "multiselectlookup"})


def _text(value: Any, fd: FieldDef | None, renderer: Renderer) -> str:
    if value is None:
        return ""
    dt = fd.data_type if fd is not None else ""
    if dt == "datetime":
        return renderer.time(int(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    if isinstance(value, int | float):
        return orjson.dumps(value).decode()
    return str(value)


class CsvColumns:
    """The cell functions of one job's columns (``id`` first), checked against the module."""

    def __init__(
        self,
        module: ModuleDef,
        columns: Sequence[str],
        renderer_of: Callable[[str], Renderer],
        stores: Mapping[str, ModuleStore],
        modules: Mapping[str, ModuleDef],
    ) -> None:
        self.header = ["id", *columns]
        self._renderer_of = renderer_of
        self._stores = stores
        self._modules = modules
        renderer = renderer_of(module.api_name)
        self.cells: list[Cell] = [lambda rec: rec.id]
        for column in columns:
            self.cells.append(self._cell(module, column, renderer))

    def _cell(self, module: ModuleDef, column: str, renderer: Renderer) -> Cell:
        base, _, sub = column.partition(".")
        fd = module.fields.get(base)
        if not sub:
            return lambda rec: _text(raw_value(rec, base), fd, renderer)
        target = self._modules[fd.lookup_module or ""] if fd is not None else None
        assert target is not None  # checked by unknown_columns
        store = self._stores[target.api_name]
        sub_fd = target.fields.get(sub)
        sub_renderer = self._renderer_of(target.api_name)

        def lookup_cell(rec: StoredRecord) -> str:
            related = store.records.get(str(raw_value(rec, base) or ""))
            if related is None:
                return ""
            return _text(raw_value(related, sub), sub_fd, sub_renderer)

        return lookup_cell

    def row(self, rec: StoredRecord) -> list[str]:
        return [cell(rec) for cell in self.cells]


def unknown_columns(
    module: ModuleDef, columns: Sequence[str], modules: Mapping[str, ModuleDef]
) -> list[str]:
    """The requested columns that cannot be exported: unknown fields, or dots on non-lookups."""
    bad = []
    for column in columns:
        base, dot, sub = column.partition(".")
        fd = module.fields.get(base)
        if fd is None or fd.data_type in NOT_EXPORTED:
            bad.append(column)
        elif dot:
            target = modules.get(fd.lookup_module or "") if fd.data_type == "lookup" else None
            if target is None or (sub != "id" and sub not in target.fields):
                bad.append(column)
    return bad


def csv_text(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)  # RFC 4180: quotes when needed, CRLF line ends
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def zip_bytes(name: str, text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, text.encode("utf-8"))
    return buffer.getvalue()

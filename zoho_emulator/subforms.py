"""Subform rows (inventory line items): parse a write, merge it into the stored rows, totals.

Stored rows are dicts in stored form (lookups as ids) with their own ``id``; a write replaces
the list and the changed row dicts, never mutating them in place (write events share them).
Rules (reference §16): a row without ``id`` is added, a row with an ``id`` changes that row's
given fields, ``{"id", "_delete": null}`` removes it, ``[]`` removes all rows; rows not sent are
kept (the v7 update-subforms page), or removed under ``subform_unlisted_rows: remove``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .record_error import RecordError
from .schema import FieldDef

MAX_ROWS = 100  # per subform per record (v8 subforms page)
ConvertAt = Callable[[FieldDef, Any, str], Any]  # (field, value, json path) → stored, or raises


@dataclass(frozen=True, slots=True)
class RowWrite:
    id: str | None
    values: dict[str, Any]  # stored form; None = clear the field
    delete: bool
    path: str  # "$.data[0].Quoted_Items[2]"


@dataclass(frozen=True, slots=True)
class SubformWrite:
    """A validated subform value, merged with the stored rows when the record is written."""

    field: str
    rows: tuple[RowWrite, ...]


def _invalid(path: str, **details: Any) -> RecordError:
    return RecordError("INVALID_DATA", "invalid data", {**details, "json_path": path})


def parse(fd: FieldDef, value: Any, i: int, convert: ConvertAt) -> SubformWrite:
    base = f"$.data[{i}].{fd.api_name}"
    if not isinstance(value, list):
        raise _invalid(base, api_name=fd.api_name, expected_data_type="jsonarray")
    if len(value) > MAX_ROWS:
        raise RecordError(
            "LIMIT_EXCEEDED",
            "the given limit exceeds the maximum",
            {"api_name": fd.api_name, "json_path": base, "limit": MAX_ROWS},
        )
    fields = {r.api_name: r for r in fd.rows}
    rows = []
    for j, raw in enumerate(value):
        path = f"{base}[{j}]"
        if not isinstance(raw, dict):
            raise _invalid(path, api_name=fd.api_name, expected_data_type="jsonobject")
        rid = raw.get("id")
        if isinstance(rid, int) and not isinstance(rid, bool):
            rid = str(rid)
        if rid is not None and not (isinstance(rid, str) and rid.isdigit()):
            raise _invalid(f"{path}.id", api_name="id")
        values: dict[str, Any] = {}
        for name, v in raw.items():
            rf = fields.get(name)
            if rf is None or rf.read_only:
                continue  # id, _delete, unknown and computed keys
            if v is None or v == "" or v == []:
                values[name] = None
            elif rf.data_type == "linetax":
                values[name] = _line_tax(v, f"{path}.{name}")
            else:
                values[name] = convert(rf, v, f"{path}.{name}")
        rows.append(RowWrite(rid, values, "_delete" in raw, path))
    return SubformWrite(fd.api_name, tuple(rows))


def _line_tax(value: Any, path: str) -> tuple[tuple[str, float], ...]:
    if not isinstance(value, list):
        raise _invalid(path, api_name="Line_Tax", expected_data_type="jsonarray")
    out = []
    for tax in value:
        pct = tax.get("percentage") if isinstance(tax, dict) else None
        name = tax.get("name") if isinstance(tax, dict) else None
        if not isinstance(name, str) or isinstance(pct, bool) or not isinstance(pct, int | float):
            raise _invalid(path, api_name="Line_Tax")
        out.append((name, float(pct)))
    return tuple(out)


def merge_rows(
    write: SubformWrite,
    stored: Sequence[Mapping[str, Any]] | None,
    *,
    keep_unlisted: bool,
    new_id: Callable[[], str],
    mandatory: Sequence[str],
    fill: Callable[[dict[str, Any], Mapping[str, Any]], None] | None = None,
) -> list[Mapping[str, Any]]:
    """The rows after the write (add / change by id / ``_delete``); raises RecordError like
    Zoho's first error. ``fill(row, sent)`` completes a new row before its mandatory check."""
    old = {row["id"]: row for row in stored or ()}
    result: dict[str, Mapping[str, Any]] = dict(old) if keep_unlisted else {}
    for row in write.rows:
        if row.id is not None:
            if row.id not in old:
                raise _invalid(f"{row.path}.id", api_name="id", id=row.id)
            if row.delete:
                result.pop(row.id, None)
                continue
            merged = {k: v for k, v in {**old[row.id], **row.values}.items() if v is not None}
        elif row.delete:
            continue  # nothing to remove
        else:
            merged = {k: v for k, v in row.values.items() if v is not None}
            if fill is not None:
                fill(merged, row.values)
            merged["id"] = new_id()
        for name in mandatory:
            if merged.get(name) is None:
                raise RecordError(
                    "MANDATORY_NOT_FOUND",
                    "required field not found",
                    {"api_name": name, "json_path": f"{row.path}.{name}"},
                )
        result[merged["id"]] = merged
    return list(result.values())


def merge(
    fd: FieldDef,
    write: SubformWrite,
    stored: Sequence[Mapping[str, Any]] | None,
    *,
    keep_unlisted: bool,
    new_id: Callable[[], str],
    unit_price: Callable[[str], Any],
) -> list[dict[str, Any]]:
    """Line items after the write, with their totals; a new row without ``List_Price`` takes
    its product's ``Unit_Price``."""

    def list_price(row: dict[str, Any], sent: Mapping[str, Any]) -> None:
        if "List_Price" not in sent and row.get("Product_Name") is not None:
            price = unit_price(row["Product_Name"])
            if price is not None:
                row["List_Price"] = price

    rows = merge_rows(
        write,
        stored,
        keep_unlisted=keep_unlisted,
        new_id=new_id,
        mandatory=[r.api_name for r in fd.rows if r.system_mandatory],
        fill=list_price,
    )
    return [_totals(row, n) for n, row in enumerate(rows, start=1)]


def _money(value: float) -> float:
    return round(value + 0.0, 2)


def _totals(row: Mapping[str, Any], sequence: int) -> dict[str, Any]:
    """Total = List_Price × Quantity; Total_After_Discount = Total − Discount; each Line_Tax
    value = percentage of Total_After_Discount; Tax = Σ values; Net_Total = TAD + Tax."""
    out = dict(row)
    total = _money(float(row.get("List_Price") or 0) * float(row.get("Quantity") or 0))
    after = _money(total - float(row.get("Discount") or 0))
    taxes = tuple(
        (name, pct) for name, pct, *_ in row.get("Line_Tax") or ()
    )  # stored as (name, percentage[, value])
    priced = tuple((name, pct, _money(after * pct / 100)) for name, pct in taxes)
    tax = _money(sum(value for _, _, value in priced))
    out.update(
        Sequence_Number=sequence,
        Total=total,
        Total_After_Discount=after,
        Tax=tax,
        Net_Total=_money(after + tax),
    )
    if priced:
        out["Line_Tax"] = priced
    return out


def record_totals(values: dict[str, Any], rows: Sequence[Mapping[str, Any]]) -> None:
    """Sub_Total = Σ Net_Total; Grand_Total = Sub_Total − Discount + Tax + Adjustment."""
    sub = _money(sum(float(r.get("Net_Total") or 0) for r in rows))
    values["Sub_Total"] = sub
    values["Grand_Total"] = _money(
        sub
        - float(values.get("Discount") or 0)
        + float(values.get("Tax") or 0)
        + float(values.get("Adjustment") or 0)
    )


def render_rows(
    fd: FieldDef,
    rows: Sequence[Mapping[str, Any]],
    lookups: Mapping[str, Callable[[Any], Any]],
) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        shown: dict[str, Any] = {}
        for rf in fd.rows:
            raw = row.get(rf.api_name)
            if raw is None:
                shown[rf.api_name] = None
            elif rf.data_type == "linetax":
                shown[rf.api_name] = [
                    {"name": name, "percentage": pct, "value": value} for name, pct, value in raw
                ]
            elif rf.api_name in lookups:
                shown[rf.api_name] = lookups[rf.api_name](raw)
            else:
                shown[rf.api_name] = raw
        shown["id"] = row["id"]
        out.append(shown)
    return out

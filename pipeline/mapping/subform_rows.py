"""Which target row each mapped subform row is: the sink's half of syncing line items (pure).

A mapped row carries its source row id (`ROW_ID`, see pipeline/mapping/lookups.py). Before a write,
`outgoing` turns the record into what Zoho is sent: a row written before gets its target row's
`id` (Zoho updates that row), a new row none (Zoho adds it), and a target row whose source row
is gone is removed (`{"id", "_delete": null}`, reference §16). After the write the sink reads
the target record back and `settle` pairs each new row with the target row of the same
content (the last such: Zoho appends new rows), which gives the new row map; target rows that
no source row accounts for but hold the content of one (left by a write redone after a crash,
or there before a first-day bind) are returned as `strays` for the sink to remove. Other rows
added in the target stay.

A record's row map (per subform: source row id → target row id) is kept in the links table as
JSON under `rows_key`, in both directions like record links (`reverse`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from pipeline.mapping.content import content_hash
from pipeline.mapping.lookups import ROW_ID

RowMap = dict[str, dict[str, str]]  # subform field -> source row id -> target row id


def rows_key(org: str, module: str, record_id: str, other_org: str) -> str:
    """Links-table key of the row map of record `org/module/id` as seen from `other_org`."""
    return f"{other_org}|{org}/{module}#rows/{record_id}"


def subforms(record: Mapping[str, Any]) -> list[str]:
    """The record's fields that hold mapped subform rows."""
    if list not in map(type, record.values()):  # the common case, checked at C speed
        return []
    return [
        name
        for name, value in record.items()
        if type(value) is list and value and type(value[0]) is dict and ROW_ID in value[0]
    ]


def load(raw: str | None) -> RowMap:
    return orjson.loads(raw) if raw else {}


def dump(rows: RowMap) -> str:
    return orjson.dumps(rows, option=orjson.OPT_SORT_KEYS).decode()


def reverse(rows: RowMap) -> RowMap:
    return {name: {t: s for s, t in known.items()} for name, known in rows.items()}


def outgoing(record: Mapping[str, Any], known: RowMap) -> dict[str, Any]:
    """`record` as Zoho is sent it: row ids translated, rows whose source is gone removed."""
    sent = dict(record)
    for name in subforms(record):
        mapped = known.get(name, {})
        rows, present = [], set()
        for row in record[name]:
            target_id = mapped.get(row.get(ROW_ID, ""))
            present.add(row.get(ROW_ID))
            out = {k: v for k, v in row.items() if k != ROW_ID}
            rows.append({"id": target_id, **out} if target_id else out)
        rows += [{"id": t, "_delete": None} for s, t in mapped.items() if s not in present]
        sent[name] = rows
    return sent


@dataclass(frozen=True)
class Settled:
    rows: RowMap  # the record's row map after the write
    strays: dict[str, list[str]]  # per subform, target rows to remove


def settle(record: Mapping[str, Any], known: RowMap, target: Mapping[str, Any]) -> Settled:
    """The row map after writing `record` (mapped rows, with `ROW_ID`) to a target record that
    now reads `target`, and the stray target rows (see the module docstring)."""
    rows: RowMap = {}
    strays: dict[str, list[str]] = {}
    for name in subforms(record):
        current = [r for r in target.get(name) or () if isinstance(r, Mapping) and r.get("id")]
        rows[name], strays[name] = _settle_one(record[name], known.get(name, {}), current)
    return Settled(rows, {name: ids for name, ids in strays.items() if ids})


def _settle_one(
    sent: list[dict[str, Any]], known: Mapping[str, str], current: list[Mapping[str, Any]]
) -> tuple[dict[str, str], list[str]]:
    present = {str(r["id"]) for r in current}
    mapped = {
        row[ROW_ID]: known[row[ROW_ID]]
        for row in sent
        if row.get(ROW_ID) in known and known[row[ROW_ID]] in present
    }
    free = [r for r in current if str(r["id"]) not in mapped.values()]
    digests = {str(r["id"]): content_hash({"row": [r]}) for r in free}
    for row in reversed([r for r in sent if r.get(ROW_ID) not in mapped]):
        digest = content_hash({"row": [row]})
        match = next(
            (i for i in reversed(range(len(free))) if digests[str(free[i]["id"])] == digest), None
        )
        if match is not None and row.get(ROW_ID):
            mapped[row[ROW_ID]] = str(free.pop(match)["id"])
    sent_digests = {content_hash({"row": [r]}) for r in sent}
    strays = [str(r["id"]) for r in free if digests[str(r["id"])] in sent_digests]
    return mapped, strays


def removal(target_id: str, strays: Mapping[str, list[str]]) -> dict[str, Any]:
    """An update of a target record that removes these rows of its subforms."""
    removed = {name: [{"id": row, "_delete": None} for row in ids] for name, ids in strays.items()}
    return {"id": target_id, **removed}

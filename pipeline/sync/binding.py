"""Binding records that already exist in a target (module setting `link_existing`).

A write whose source record has no link yet would create a target record. When its module
names `link_existing` fields, the sink first asks the target, with one COQL query per batch,
for records carrying the batch's match values or its key values: a write whose match value is
found is upserted as usual; otherwise one target record whose key fields equal the write's
(compared forgivingly: text without case and surrounding whitespace, phone numbers by their
digits) that no other source record claimed yet (empty match field) is bound: updated by id,
with what `on_link` says; several are ambiguous; none means create.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from connectors.zoho import SINGLE_ATTEMPT, BackoffPolicy
from connectors.zoho.query import MAX_CONDITIONS, any_of
from orgsync_kernel.events import Write
from orgsync_kernel.settings import ModuleRoute

PAGE = 200  # rows of one COQL call at one credit
# COQL compares text without case but with its whitespace: a key is asked for trimmed and
# padded with these on either side, the rows then compared forgivingly (`comparable`).
PADDINGS = ("", " ", "  ")
_PHONE = re.compile(r"\+?[\d\s().\-/]{5,}")


class QueryClient(Protocol):
    async def query(
        self, select: str, *, limit: int, offset: int = 0, retry: BackoffPolicy | None = None
    ) -> tuple[list[dict[str, Any]], bool]: ...


def comparable(value: Any) -> str:
    """A value as `link_existing` compares it: a lookup by its id, a phone number by its
    digits, any other text without case and surrounding whitespace."""
    if isinstance(value, dict):
        value = value.get("id") or value.get("name")
    if value is None:
        return ""
    text = str(value).strip()
    if _PHONE.fullmatch(text) and sum(c.isdigit() for c in text) >= 5:
        return re.sub(r"\D", "", text)
    return text.casefold()


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


@dataclass
class Resolution:
    """What becomes of a batch of writes: upserted as usual, bound to an existing target
    record (the write to send, with the record's `id`), or ambiguous (the candidates' ids)."""

    upserts: list[Write] = field(default_factory=list)
    binds: list[Write] = field(default_factory=list)
    ambiguous: list[tuple[Write, list[str]]] = field(default_factory=list)


def bind_record(write: Write, existing: Mapping[str, Any], on_link: str) -> dict[str, Any]:
    """What the first write to a bound record sends (`on_link`), with its id."""
    data = write.record
    if on_link == "source_wins":
        chosen = dict(data)
    elif on_link == "target_wins":
        chosen = {}
    else:  # fill_empty
        chosen = {name: v for name, v in data.items() if is_empty(existing.get(name))}
    chosen[write.match_field] = data[write.match_field]
    return {**chosen, "id": str(existing["id"])}


def key_of(record: Mapping[str, Any], fields: Sequence[str]) -> tuple[str, ...] | None:
    """The comparable key of a record, None when any key field is empty (never matched)."""
    key = tuple(comparable(record.get(name)) for name in fields)
    return None if any(part == "" for part in key) else key


def query_for(module: str, writes: Sequence[Write], mapping: ModuleRoute) -> str:
    """One COQL query for the target records a batch may find: its match values, and with
    `link_existing` the values of the first key field that is not a phone number (else the
    first one), trimmed and padded (`padded`)."""
    match = writes[0].match_field
    keys = mapping.link_existing
    columns = dict.fromkeys(["id", match, *keys, *(n for w in writes for n in w.record)])
    conditions = any_of(match, (w.record[match] for w in writes))
    if keys:
        by = next((f for f in keys if not _is_phone(writes, f)), keys[0])
        wanted = [str(w.record[by]).strip() for w in writes if not is_empty(w.record.get(by))]
        conditions += any_of(by, padded(wanted))
    if len(conditions) > MAX_CONDITIONS:
        raise ValueError(f"a batch of {len(writes)} writes needs too many COQL conditions")
    where = " or ".join(f"({c})" for c in conditions)
    return f"select {', '.join(columns)} from {module} where {where}"


def padded(values: Iterable[str]) -> list[str]:
    """Each trimmed value as a target may hold it: alone and with up to two spaces of
    padding on either side (COQL's `=` and `in` ignore case, never whitespace)."""
    return [f"{before}{v}{after}" for v in values for before in PADDINGS for after in PADDINGS]


async def query_all(client: QueryClient, select: str) -> list[dict[str, Any]]:
    """Every row of `select`, a page (one credit) at a time."""
    rows, more = await client.query(select, limit=PAGE, retry=SINGLE_ATTEMPT)
    while more:  # more candidates than a page holds: rare, but never ignored
        page, more = await client.query(select, limit=PAGE, offset=len(rows), retry=SINGLE_ATTEMPT)
        rows += page
    return rows


def _is_phone(writes: Iterable[Write], name: str) -> bool:
    values = [str(w.record.get(name) or "").strip() for w in writes]
    return any(values) and all(_PHONE.fullmatch(v) for v in values if v)


def resolve(
    writes: Sequence[Write], rows: Sequence[Mapping[str, Any]], mapping: ModuleRoute
) -> Resolution:
    """Decide, from the rows the query returned, what becomes of each write."""
    out = Resolution()
    match = writes[0].match_field
    claimed = {comparable(row.get(match)) for row in rows} - {""}
    free: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        key = key_of(row, mapping.link_existing)
        if key is not None and is_empty(row.get(match)):
            free.setdefault(key, []).append(row)
    for write in writes:
        key = key_of(write.record, mapping.link_existing)
        candidates = free.get(key, []) if key is not None else []
        if key is None or comparable(write.record.get(match)) in claimed or not candidates:
            out.upserts.append(write)
        elif len(candidates) > 1:
            out.ambiguous.append((write, sorted(str(row["id"]) for row in candidates)))
        else:
            [row] = candidates
            record = bind_record(write, row, mapping.on_link)
            out.binds.append(write.derive(record=record, target_id=str(row["id"])))
            free.pop(key, None)  # one target record is bound to one source record
    return out


async def find_existing(
    client: QueryClient, module: str, writes: Sequence[Write], mapping: ModuleRoute
) -> Resolution:
    """Resolve a batch of writes (≤ 100, one route and module) with one COQL call (a single
    attempt: the sink retries it within its budget)."""
    unlinked = [w for w in writes if w.target_id is None and w.operation == "upsert"]
    if not mapping.link_existing or not unlinked:
        return Resolution(upserts=list(writes))
    rows = await query_all(client, query_for(module, unlinked, mapping))
    resolution = resolve(unlinked, rows, mapping)
    linked = [w for w in writes if w.target_id is not None or w.operation != "upsert"]
    resolution.upserts = linked + resolution.upserts
    return resolution

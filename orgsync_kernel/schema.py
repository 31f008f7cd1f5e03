"""The schema version of every value orgsync writes to Kafka, so that a rolling upgrade is safe.

Where a value carries its version:

- a stream record (orgsync_kernel/events.py: hints, fetched, changes, writes, held, related,
  dlq) in its `schema` field, which every record has (`Versioned`);
- a value of a compacted topic (fingerprints, links, states, credits, channels, cursors,
  dlq.state) in the Kafka header `orgsync-schema`, beside the value: those values are bare
  JSON of any shape (a link is a string), and left as they were a worker of the release before
  versions reads them unchanged. A tombstone (None) carries nothing and stays None.

A value without a version is version 1 (written before versions existed). A worker reads every
version up to `CURRENT`: decoding runs the `STEPS` from the value's version to `CURRENT`. A
value newer than `CURRENT` (a newer release wrote it during a rolling upgrade) raises
`SchemaTooNew`; what the reader then does is documented in docs/operations.md ("Upgrades"):
a stream value goes to the DLQ (code SCHEMA_TOO_NEW, retried as a hint once the upgrade is
done), a compacted value is skipped with an error, the key keeping what this worker knew.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import faust
import orjson

CURRENT = 3
HEADER = "orgsync-schema"
_CURRENT_BYTES = str(CURRENT).encode()
HEADERS = [(HEADER, _CURRENT_BYTES)]  # what every compacted value is produced with

RECORD_KINDS = ("Hint", "Change", "Write", "HeldChange", "RelatedWork", "DeadLetter")
COMPACTED_KINDS = ("fingerprints", "links", "states", "credits", "channels", "cursors", "dlq.state")

Upgrade = Callable[[Any], Any]


def unchanged(value: Any) -> Any:
    return value


def _versioned_state(value: Any) -> Any:
    """A record state of version 2 (`times`: the Modified_Time of each field's last genuine
    edit) as version 3 reads it: each such field's version is that second, tick 0, from the
    record's own org (pipeline/sync/versions.py)."""
    if not isinstance(value, dict) or "times" not in value:
        return value
    times = value.get("times") or {}
    upgraded = {k: v for k, v in value.items() if k != "times"}
    upgraded["versions"] = {name: [_seconds(at), 0] for name, at in times.items() if at}
    return upgraded


def _seconds(text: str) -> int:
    instant = datetime.fromisoformat(text)
    return int((instant if instant.tzinfo else instant.replace(tzinfo=UTC)).timestamp())


# STEPS[n - 1][kind] turns a value of version n into version n + 1; a kind a step does not name
# (a topic that is not orgsync's, in tests) is unchanged. A later format change adds its step
# here, naming every kind so that the step reads as the list of what changed.
STEPS: list[dict[str, Upgrade]] = [
    # 1 -> 2: no format changed; values only began to carry their version.
    dict.fromkeys((*RECORD_KINDS, *COMPACTED_KINDS), unchanged),
    # 2 -> 3: record states keep a version per field instead of the time of its last edit
    # (two-way convergence); a Write may carry the versions of the values it copies.
    {**dict.fromkeys((*RECORD_KINDS, *COMPACTED_KINDS), unchanged), "states": _versioned_state},
]


class SchemaTooNew(ValueError):
    """A value written by a newer orgsync: this worker cannot know what its fields mean."""

    def __init__(self, kind: str, version: int) -> None:
        self.kind, self.version = kind, version
        super().__init__(
            f"a {kind} value of schema version {version}, newer than the {CURRENT} this orgsync "
            "reads: a newer release wrote it; finish the rolling upgrade (docs/operations.md)"
        )


def upgrade(kind: str, value: Any, version: int) -> Any:
    """`value`, of schema `version`, as the current version reads it."""
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"a {kind} value with an invalid schema version {version!r}")
    if version > CURRENT:
        raise SchemaTooNew(kind, version)
    for step in STEPS[version - 1 :]:
        value = step.get(kind, unchanged)(value)
    return value


@functools.lru_cache(maxsize=256)
def compacted_kind(topic: str) -> str:
    """The kind of a compacted topic: its name after the prefix (`<prefix>.links` -> links)."""
    return next((k for k in COMPACTED_KINDS if topic.endswith(f".{k}")), topic)


def header_version(headers: Iterable[tuple[str, bytes]] | None) -> int:
    """The version a compacted value's headers carry (1 when none)."""
    for name, value in headers or ():
        if name == HEADER:
            return CURRENT if value == _CURRENT_BYTES else int(value)
    return 1


def load_compacted(topic: str, value: bytes, headers: Iterable[tuple[str, bytes]] | None) -> Any:
    """A compacted topic's value as the current version reads it. Raises ValueError for a value
    that is not JSON, and SchemaTooNew for one of a newer version."""
    version = header_version(headers)
    if version == CURRENT:  # every value this release wrote: read as it is, on the hot path
        return orjson.loads(value)
    kind = compacted_kind(topic)
    if version > CURRENT:  # checked first: a newer value may not even be JSON
        raise SchemaTooNew(kind, version)
    return upgrade(kind, orjson.loads(value), version)


class Versioned(faust.Record, abstract=True):
    """A stream record that carries its schema version; decoding upgrades an older one."""

    schema: int = CURRENT

    @classmethod
    def from_data(
        cls, data: Mapping[str, Any], *, preferred_type: type[faust.types.ModelT] | None = None
    ) -> faust.Record:
        if isinstance(data, Mapping) and not hasattr(data, "__is_model__"):
            version = data.get("schema", 1)
            if version != CURRENT:  # the common case decodes as it is, without a copy
                data = {**upgrade(cls.__name__, data, version), "schema": CURRENT}
        return super().from_data(data, preferred_type=preferred_type)

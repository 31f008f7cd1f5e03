"""One compacted topic's partition as a map: `CompactedTable` (what connectors/kafka/compacted.py
loads, follows and writes) and `apply_compacted` (one message read from such a topic).

A write is visible to this process at once, in the table's overlay; `base` (in memory or on
disk) holds only what the topic holds. A followed table keeps a write in the overlay until the
reader has seen it come back from the topic, so an older value read back meanwhile (written
earlier, by this process or another) never hides it; a table that this process alone writes
moves it to `base` once the broker acknowledged it (`acknowledged`), and takes it back when it
was not (`unacknowledged`). So a store on disk never holds a value Kafka does not
(connectors/kafka/disk.py), and `offset` (the last message `base` holds) also counts this
process's own acknowledged writes. A `None` value is a tombstone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any

from connectors.kafka.disk import DiskMap
from connectors.kafka.producer import Headers
from orgsync_kernel.schema import CURRENT, SchemaTooNew, header_version, load_compacted

log = logging.getLogger(__name__)
_MISSING = object()  # in the overlay: a deletion not read back yet


def _at(offset: int | None) -> int:
    return -1 if offset is None else offset


class CompactedTable(MutableMapping[str, Any]):
    """Key -> JSON value: what the topic holds (`base`) under this process's own writes that
    are not in it yet (`overlay`). A table that is not `followed` has this process as its only
    writer: its writes reach `base` when the broker acknowledges them."""

    def __init__(
        self,
        topic: str,
        *,
        partition: int = 0,
        followed: bool = True,
        base: MutableMapping[str, Any] | None = None,
        offset: int | None = None,
    ) -> None:
        self.topic = topic
        self.partition = partition  # the one partition of the topic this table holds
        self.followed = followed
        # what the topic holds, in memory or on disk (connectors/kafka/disk.py), as of `offset`
        self.base: MutableMapping[str, Any] = {} if base is None else base
        self.offset = offset  # the last message of the topic applied to `base` (None: none)
        self.overlay: dict[str, Any] = {}  # a value, or _MISSING for a deletion
        self.queued: list[tuple[str, Any]] = []  # (key, value or None) not yet produced
        self._echoes: dict[str, int] = {}  # key -> own writes produced, not yet settled
        self._acked = -1  # not followed: the last offset of its own writes acknowledged
        self._sent: dict[str, Any] = {}  # not followed: key -> its last value produced

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        """No KeyError raised and caught per absent key (most keys, on a first sync)."""
        value = self.overlay[key] if key in self.overlay else self.base.get(key, _MISSING)
        return default if value is _MISSING else value

    def __setitem__(self, key: str, value: Any) -> None:
        self.overlay[key] = value
        self.queued.append((key, value))

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self.overlay[key] = _MISSING
        self.queued.append((key, None))

    def pop(self, key: str, default: Any = None) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            return default
        del self[key]
        return value

    def __iter__(self) -> Iterator[str]:
        keys = {*self.base, *self.overlay}
        return iter([k for k in keys if self.overlay.get(k, self.base.get(k)) is not _MISSING])

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def take_queued(self) -> list[tuple[str, Any]]:
        queued, self.queued = self.queued, []
        for key, value in queued:
            self._echoes[key] = self._echoes.get(key, 0) + 1
            if not self.followed:
                self._sent[key] = value
        return queued

    def acknowledged(self, sent: Sequence[tuple[str, Any]], last: int) -> None:
        """The broker acknowledged `sent` (what a flush took), the last of it at offset `last`.
        A table this process alone writes stores a key's last value sent once no write of it
        is in flight any more; its offset moves once no write at all is queued or in flight.
        (A followed table stores them when it reads them back.)"""
        if self.followed:
            return
        for key in self._settled(sent):
            value = self._sent.pop(key)
            if value is None:
                self.base.pop(key, None)
            else:
                self.base[key] = value
        self._acked = max(self._acked, last)
        if not self._echoes and not self.queued and self._acked > _at(self.offset):
            self.offset = self._acked

    def unacknowledged(self, sent: Sequence[tuple[str, Any]]) -> None:
        """A flush failed: what it took may not be in Kafka, so a table this process alone
        writes never stores it, and shows each key's stored value again once no other write
        of it is pending (the writer's round is redone, and writes it again)."""
        if self.followed:
            return
        for key in self._settled(sent):
            self._sent.pop(key, None)

    def _settled(self, sent: Sequence[tuple[str, Any]]) -> list[str]:
        """The keys of `sent` with no write left in flight once these settled; the overlay
        keeps a key only while a later write of it is queued (a write forgotten unsent, see
        `forget_unsent`, is dropped with it)."""
        queued = {key for key, _ in self.queued}
        done = []
        for key, _ in sent:
            pending = self._echoes.get(key, 0) - 1
            if pending > 0:
                self._echoes[key] = pending
                continue
            self._echoes.pop(key, None)
            done.append(key)
            if key not in queued:
                self.overlay.pop(key, None)
        return done

    def apply(
        self,
        key: bytes | None,
        value: bytes | None,
        *,
        own: bool = False,
        headers: Headers | None = None,
        offset: int | None = None,
    ) -> None:
        """One message read from the topic. `own`: this process wrote it (read while loading
        its own partitions: no overlay to settle)."""
        if (
            isinstance(self.base, DiskMap)
            and value is not None
            and key is not None
            and (
                header_version(headers) == CURRENT  # ours, as stored: no decode and encode again
            )
        ):
            name: str | None = key.decode("utf-8", "replace")
            self.base.put_raw(name, value)  # type: ignore[arg-type]
        else:
            name = apply_compacted(self.base, key, value, self.topic, headers)
        if offset is not None:
            self.offset = offset
        if name is not None and not own and self.followed:
            self._settle(name)

    def clear_base(self) -> None:
        self.base.clear()  # a store on disk drops the table's key range at once
        self.offset = None

    def forget_unsent(self) -> None:
        """Drop the writes not produced yet and their overlay (a round that is redone)."""
        for key, _ in self.queued:
            if not self._echoes.get(key):
                self.overlay.pop(key, None)
        self.queued = []

    def _settle(self, name: str) -> None:
        pending = self._echoes.get(name)
        if not pending:
            return
        if pending == 1:
            del self._echoes[name]
            if not any(key == name for key, _ in self.queued):
                self.overlay.pop(name, None)
        else:
            self._echoes[name] = pending - 1


def apply_compacted(
    view: MutableMapping[str, Any],
    key: bytes | None,
    value: bytes | None,
    topic: str,
    headers: Headers | None = None,
) -> str | None:
    """One message of a compacted topic of JSON values, applied to its in-memory view;
    returns its key. A tombstone deletes the key; a value that is not JSON, or of a schema
    version newer than this release reads (orgsync_kernel/schema.py), is skipped with a
    warning: the key keeps what this process knew."""
    if key is None:
        return None
    name = key.decode("utf-8", "replace")
    if value is None:
        view.pop(name, None)
        return name
    try:
        view[name] = load_compacted(topic, value, headers)
    except SchemaTooNew as error:
        log.error("skipped a value topic=%s key=%s: %s", topic, name, error)
    except ValueError:
        log.warning("skipped a value that is not JSON topic=%s key=%s", topic, name)
    return name

"""The worker's compacted tables on local disk: memory bounded by a cache, not by the records
synced, and a start that reads only what changed since the last checkpoint, after a clean stop
or a crash alike.

    state = StateDir(path, cache_bytes)      # at start: the offsets of the last checkpoint
    table = CompactedTable(topic, base=state.open("links"), offset=state.offset("links"))
    ...                                      # the reader resumes each table at its offset
    state.checkpoint({"links": table.offset, ...})   # every few seconds, and at a clean stop
    state.close({"links": table.offset, ...})

The changelog topics stay the source of truth, and the store holds only what they hold: a
table's `base` is written only with a message read from its topic, or (a table this process
alone writes: the fingerprints) with its own write once the broker acknowledged it
(connectors/kafka/table.py). A value whose message never reached Kafka is never in the
store, so nothing of it has to be undone after a crash. A checkpoint (one key, `CHECKPOINT`:
each table's last offset applied to the store) can therefore be written at any time; every
value written after it is the key's value at a later offset of its topic, and reading each
topic again from the checkpoint's offset to its end gives each key its latest value: the
store after that replay is the topics' state, whatever part of the writes after the
checkpoint the crash kept.

That needs the store to survive a crash as a prefix of its writes (never a later write
without an earlier one: a checkpoint without the values it covers). RocksDB runs without its
write-ahead log (a write costs no syscall): after a crash it recovers what its memtable
flushes persisted, and with `atomic_flush` it guarantees that this is a prefix of the writes
(RocksDB offers the prefix guarantee to WAL-disabled use with atomic flush; its crash tests
verify it: facebook/rocksdb#9338). A table cleared drops out of the checkpoint in the same
write batch. After a checkpoint that moved, a memtable flush is started in the background
(when one is under way, at the next checkpoint: asking then would wait for it), so the
checkpoint a crash finds is about one interval behind (~30 ms of CPU per flush, measured
with a checkpoint every 20,000 writes); the write-ahead log would keep more, at a syscall
per write on the hot path, and what a crash loses is read again. A first start, a
lost store, or one written by the release before this one (its checkpoint was trusted only
with the `clean` marker of a clean stop) is rebuilt from the topics.

RocksDB (through rocksdict) as Kafka Streams and Faust keep large state: point reads and
writes in microseconds, a block cache and write buffers of a fixed size, no memory map of the
whole store (LMDB's would count the store's hot pages against the process). In front of it,
the decoded values of the latest keys read or written (and keys known absent), bounded by a
share of the cache size: a change reads its fingerprints and links again soon after it wrote
them, and a read and a JSON decode per lookup cost more than the dict lookup of a state in
memory.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import IO, Any

import orjson
from rocksdict import BlockBasedOptions, Cache, Options, Rdict, WriteBatch, WriteOptions

CHECKPOINT = b"\x01offsets"  # a key no table has (theirs start with their name)
CLEAN = "clean"  # its marker of a clean stop
STORE = "store"
FRONT_SHARE = 4  # 1/4 of the cache size for decoded values, the rest for RocksDB's blocks
_ABSENT = object()  # in the front cache: a key the store does not hold
_UNKNOWN = object()  # not in the front cache


class Front:
    """Decoded values by store key, within `budget` bytes (estimated): new entries go to a
    young generation; once it holds half the budget it becomes the old one and the old one is
    dropped whole; a key found in the old generation moves to the young one. Two dict lookups
    at most, no bookkeeping per entry. Values are shared, not copied (as the tables in memory
    share theirs): callers replace a value, never change it in place."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.size = 0  # of the young generation
        self.young: dict[bytes, Any] = {}
        self.old: dict[bytes, Any] = {}

    def get(self, key: bytes) -> Any:
        value = self.young.get(key, _UNKNOWN)
        if value is _UNKNOWN and self.old:
            value = self.old.pop(key, _UNKNOWN)
            if value is not _UNKNOWN:
                self.young[key] = value  # its cost was counted in the old generation's
        return value

    def put(self, key: bytes, value: Any, raw_size: int) -> None:
        self.young[key] = value  # over an old value in `old` too: `get` looks here first
        self.size += 6 * raw_size + len(key) + 120  # measured: decoded JSON ~4-5x its text
        if self.size > self.budget // 2:
            self.old, self.young, self.size = self.young, {}, 0

    def drop(self, key: bytes) -> None:
        self.young.pop(key, None)
        self.old.pop(key, None)

    def drop_prefix(self, prefix: bytes) -> None:
        for generation in (self.young, self.old):
            for key in [k for k in generation if k.startswith(prefix)]:
                del generation[key]


class DiskMap(MutableMapping[str, Any]):
    """Key -> JSON value: the keys of one table in the store, under the table's prefix."""

    def __init__(
        self,
        db: Rdict,
        name: str,
        front: Front | None = None,
        cleared: Callable[[WriteBatch], None] | None = None,
    ) -> None:
        self.db = db
        self.prefix = f"{name}\x00".encode()
        self.front = Front(0) if front is None else front
        self.cleared = cleared  # adds to the batch that clears the table (its checkpoint)

    def _key(self, key: str) -> bytes:
        return self.prefix + key.encode()

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, _ABSENT)
        if value is _ABSENT:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        stored = self.prefix + key.encode()
        value = self.front.get(stored)
        if value is _UNKNOWN:
            raw = self.db.get(stored)
            value = _ABSENT if raw is None else orjson.loads(raw)
            self.front.put(stored, value, 0 if raw is None else len(raw))
        return default if value is _ABSENT else value

    def __setitem__(self, key: str, value: Any) -> None:
        stored, raw = self.prefix + key.encode(), orjson.dumps(value)
        self.db[stored] = raw
        self.front.put(stored, value, len(raw))

    def put_raw(self, key: str, value: bytes) -> None:
        """A value already encoded as JSON (read from the topic as this release writes it)."""
        stored = self._key(key)
        self.db[stored] = value
        self.front.drop(stored)  # decoded when read, if it is

    def __delitem__(self, key: str) -> None:
        if self.get(key, _ABSENT) is _ABSENT:
            raise KeyError(key)
        stored = self._key(key)
        del self.db[stored]
        self.front.put(stored, _ABSENT, 0)

    def pop(self, key: str, default: Any = None) -> Any:
        value = self.get(key, _ABSENT)
        if value is _ABSENT:
            return default
        del self[key]
        return value

    def __iter__(self) -> Iterator[str]:
        size = len(self.prefix)
        for key in self.db.keys(from_key=self.prefix):
            raw = bytes(key)  # type: ignore[arg-type]
            if not raw.startswith(self.prefix):
                return
            yield raw[size:].decode()

    def __len__(self) -> int:
        """A walk over the table's keys: for tests and diagnostics, not the hot path."""
        return sum(1 for _ in self)

    def clear(self) -> None:
        batch = WriteBatch(raw_mode=True)
        batch.delete_range(self.prefix, self.prefix[:-1] + b"\x01")
        if self.cleared is not None:
            self.cleared(batch)
        self.db.write(batch)
        self.front.drop_prefix(self.prefix)


class StateDir:
    """A worker's directory: the store, its checkpoint, and a lock that keeps a second
    process out of it for as long as this one runs."""

    def __init__(self, path: Path, cache_bytes: int = 64 << 20) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self._lock = _locked(path)
        if self._lock is None:
            raise BlockingIOError(f"{path} is in use by another orgsync worker")
        self.front = Front(cache_bytes // FRONT_SHARE)
        self.options = _options(cache_bytes - self.front.budget, cache_bytes)
        self.writes = WriteOptions()
        # see the module docstring; a property at run time, a method in rocksdict's stub
        self.writes.disable_wal = True  # type: ignore[method-assign,assignment]
        self.db = self._open()
        self.offsets = self._checkpointed()
        self._tables: dict[str, DiskMap] = {}
        self._unflushed = False  # a checkpoint written since the last flush asked for

    def _checkpointed(self) -> dict[str, int]:
        """The offsets of the last checkpoint the store kept; without one, an empty store."""
        found = _offsets(self.db.get(CHECKPOINT))
        if found is None:
            self.db.close()
            shutil.rmtree(self.path / STORE, ignore_errors=True)
            self.db = self._open()
            found = {}
        (self.path / CLEAN).unlink(missing_ok=True)  # the release before's marker: not ours
        return found

    def _open(self) -> Rdict:
        db = Rdict(str(self.path / STORE), self.options)
        db.set_write_options(self.writes)
        return db

    @classmethod
    def claim(cls, base: Path, name: str | None, cache_bytes: int = 64 << 20) -> StateDir:
        """`base/name`, or with no name the first of `base/worker-0`, `worker-1`, … that no
        running worker holds (so a restarted worker finds its store again)."""
        if name is not None:
            return cls(base / name, cache_bytes)
        for slot in range(1024):
            try:
                return cls(base / f"worker-{slot}", cache_bytes)
            except BlockingIOError:
                continue
        raise BlockingIOError(f"every worker directory under {base} is in use")

    def open(self, name: str) -> DiskMap:
        """The table `name`; when `offset(name)` is None it is empty (read from the start)."""
        if name in self._tables:
            return self._tables[name]
        table = DiskMap(self.db, name, self.front, lambda batch: self._forget(name, batch))
        if name not in self.offsets:
            table.clear()  # not checkpointed: rebuilt from its topic
        self._tables[name] = table
        return table

    def offset(self, name: str) -> int | None:
        return self.offsets.get(name)

    def _forget(self, name: str, batch: WriteBatch) -> None:
        """A table cleared leaves the checkpoint in the same batch (never an offset without
        the values it stands for)."""
        if self.offsets.pop(name, None) is not None:
            batch.put(CHECKPOINT, orjson.dumps(self.offsets))

    def discard(self, name: str) -> None:
        """A table this worker no longer holds (a partition that moved elsewhere)."""
        self.open(name).clear()  # and out of the checkpoint: its next owner writes to it
        del self._tables[name]

    def checkpoint(self, offsets: Mapping[str, int | None]) -> bool:
        """Record each table's offset (the last message of its topic the store holds; None:
        none); a table not named keeps its offset. Once one moved, a memtable flush starts in
        the background, to keep the checkpoint across a crash. True when one moved."""
        moved = {name: at for name, at in offsets.items() if self.offsets.get(name) != at}
        for name, at in moved.items():
            if at is None:
                self.offsets.pop(name, None)
            else:
                self.offsets[name] = at
        if moved:
            self.db[CHECKPOINT] = orjson.dumps(self.offsets)
            self._unflushed = True
        self._flush_soon()
        return bool(moved)

    def _flush_soon(self) -> None:
        """A memtable flush in the background once a checkpoint was written, unless one is
        under way (the call would wait for it; the next checkpoint asks again)."""
        if self._unflushed and not self.db.property_int_value("rocksdb.num-immutable-mem-table"):
            self.db.flush(False)
            self._unflushed = False

    def close(self, offsets: Mapping[str, int | None] | None = None) -> None:
        """A last checkpoint with `offsets` (a clean stop), then close the store (RocksDB
        flushes its memtables)."""
        if offsets is not None:
            self.checkpoint(offsets)
        with contextlib.suppress(Exception):
            self.db.flush()
            self.db.close()
        if self._lock is not None:
            self._lock.close()  # releases the lock
            self._lock = None


def _options(block_cache: int, cache_bytes: int) -> Options:
    table = BlockBasedOptions()
    table.set_block_cache(Cache(block_cache))
    table.set_bloom_filter(10, False)  # a key absent (most on a first sync): no block read
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    options.set_block_based_table_factory(table)
    options.set_write_buffer_size(max(cache_bytes // 8, 1 << 20))
    options.set_max_write_buffer_number(2)
    options.set_atomic_flush(True)  # a crash keeps a prefix of the writes (module docstring)
    return options


def _offsets(raw: Any) -> dict[str, int] | None:
    """A checkpoint's offsets; None when there is none (or it is not one)."""
    try:
        found = orjson.loads(raw) if isinstance(raw, bytes) else None
    except ValueError:
        return None
    if not isinstance(found, dict):
        return None
    return {str(name): at for name, at in found.items() if isinstance(at, int)}


def _locked(path: Path) -> IO[bytes] | None:
    """An exclusive lock on `path/lock`, held while the file stays open; None when taken."""
    file = (path / "lock").open("ab")
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.close()
        return None
    return file

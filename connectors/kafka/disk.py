"""The worker's compacted tables on local disk: memory bounded by a cache, not by the records
synced, and a restart that reads only what changed since the last clean stop.

    state = StateDir(path, cache_bytes)      # at start: keeps the store only after a clean stop
    table = CompactedTable(topic, base=state.open("links"), offset=state.offset("links"))
    ...                                      # the reader resumes each table at its offset
    state.close({"links": table.offset, ...})   # a clean stop: the checkpoint

The changelog topics stay the source of truth. A store is trusted only with the checkpoint
that a clean stop writes (the last changelog offset applied to each table, in the store, and a
`clean` marker beside it); both are removed as soon as a start reads them, so after a kill -9,
a first start, or a lost store, the store is emptied and every table rebuilt from its topic.
That is what makes it safe for the tables this process writes itself: a value written to the
store whose message never reached Kafka (the crash came in between) never survives into the
next run.

RocksDB (through rocksdict) as Kafka Streams and Faust keep large state: point reads and
writes in microseconds, a block cache and write buffers of a fixed size, no memory map of the
whole store (LMDB's would count the store's hot pages against the process). Without its
write-ahead log: nothing of the store is trusted after a crash anyway, and a clean stop flushes
the memtables before it writes the checkpoint. In front of it, the decoded values of the
latest keys read or written (and keys known absent), bounded by a share of the cache size: a
change reads its fingerprints and links again soon after it wrote them, and a read and a JSON
decode per lookup cost more than the dict lookup of a state in memory.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import IO, Any

import orjson
from rocksdict import BlockBasedOptions, Cache, Options, Rdict, WriteOptions

CHECKPOINT = b"\x01checkpoint"  # a key no table has (theirs start with their name)
CLEAN = "clean"
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

    def __init__(self, db: Rdict, name: str, front: Front | None = None) -> None:
        self.db = db
        self.prefix = f"{name}\x00".encode()
        self.front = Front(0) if front is None else front

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
        self.db.delete_range(self.prefix, self.prefix[:-1] + b"\x01")
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
        table = BlockBasedOptions()
        table.set_block_cache(Cache(cache_bytes - self.front.budget))
        table.set_bloom_filter(10, False)  # a key absent (most on a first sync): no block read
        self.options = Options(raw_mode=True)
        self.options.create_if_missing(True)
        self.options.set_block_based_table_factory(table)
        self.options.set_write_buffer_size(max(cache_bytes // 8, 1 << 20))
        self.options.set_max_write_buffer_number(2)
        self.writes = WriteOptions()
        # see the module docstring; a property at run time, a method in rocksdict's stub
        self.writes.disable_wal = True  # type: ignore[method-assign,assignment]
        self.db = self._open()
        self.offsets = self._take_checkpoint()
        self._tables: dict[str, DiskMap] = {}

    def _take_checkpoint(self) -> dict[str, int]:
        """The offsets of the last clean stop (in the store, with the `clean` marker beside
        it), taken back at once; without both, an empty store."""
        clean = self.path / CLEAN
        offsets = self.db.get(CHECKPOINT) if clean.exists() else None
        clean.unlink(missing_ok=True)
        self.db.delete(CHECKPOINT)
        try:
            found = orjson.loads(offsets) if offsets is not None else None
        except ValueError:
            found = None
        if not isinstance(found, dict):
            self.db.close()
            shutil.rmtree(self.path / STORE, ignore_errors=True)
            self.db = self._open()
            return {}
        return {str(name): at for name, at in found.items() if isinstance(at, int)}

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
        table = DiskMap(self.db, name, self.front)
        if name not in self.offsets:
            table.clear()  # not checkpointed: rebuilt from its topic
        self._tables[name] = table
        return table

    def offset(self, name: str) -> int | None:
        return self.offsets.get(name)

    def discard(self, name: str) -> None:
        """A table this worker no longer holds (a partition that moved elsewhere)."""
        self.offsets.pop(name, None)
        table = self._tables.pop(name, None)
        if table is not None:
            table.clear()

    def close(self, offsets: Mapping[str, int | None] | None = None) -> None:
        """Close the store; with `offsets` (a clean stop, everything flushed), write the
        checkpoint that lets the next start resume each table there."""
        if offsets is not None:
            kept = {name: at for name, at in offsets.items() if at is not None}
            self.db[CHECKPOINT] = orjson.dumps(kept)
            self.db.flush()
        with contextlib.suppress(Exception):
            self.db.close()
        if offsets is not None:
            (self.path / CLEAN).touch()
        if self._lock is not None:
            self._lock.close()  # releases the lock
            self._lock = None


def _locked(path: Path) -> IO[bytes] | None:
    """An exclusive lock on `path/lock`, held while the file stays open; None when taken."""
    file = (path / "lock").open("ab")
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.close()
        return None
    return file

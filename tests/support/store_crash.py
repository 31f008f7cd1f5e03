"""A process that writes a worker's store (connectors/kafka/disk.py) until it is killed -9:
tests/unit/connectors/kafka/test_disk.py reopens the store and checks what the crash kept.

    python -m tests.support.store_crash DIR

Two tables, as the worker writes them:
- `links`, filled from a simulated topic (`message(i)`: key `k{i % KEYS}`, value i, at offset i)
  as a reader applies it, with a checkpoint every CHECKPOINT_EVERY messages;
- `fingerprints`, written through a `CompactedTable` this process alone writes: the writes of
  odd rounds are acknowledged at offset `round`, those of even rounds never are (a flush that
  failed), so none of them may ever be in the store.
It prints `checkpointed N` after each checkpoint (the parent kills it after a few).
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

from connectors.kafka.disk import StateDir
from connectors.kafka.table import CompactedTable

KEYS = 2_000
CHECKPOINT_EVERY = 10_000
CACHE_BYTES = 8 << 20  # 1 MiB write buffers: memtable flushes happen all along


def message(i: int) -> tuple[bytes, bytes]:
    return f"k{i % KEYS}".encode(), orjson.dumps(i)


def fingerprint(round_: int, n: int) -> tuple[str, list[int]]:
    return f"f{n}", [round_, n]


def main(path: Path) -> None:
    state = StateDir(path, CACHE_BYTES)
    links = CompactedTable("links", base=state.open("links"), offset=state.offset("links"))
    prints = CompactedTable("fingerprints", followed=False, base=state.open("fingerprints"))
    i = 0 if links.offset is None else links.offset + 1
    for round_ in range(1, 1 << 30):
        for _ in range(CHECKPOINT_EVERY):
            links.apply(*message(i), own=True, offset=i)
            i += 1
        for n in range(100):
            key, value = fingerprint(round_, n)
            prints[key] = value
        sent = prints.take_queued()
        if round_ % 2:
            prints.acknowledged(sent, round_)
        else:
            prints.unacknowledged(sent)
        state.checkpoint({"links": links.offset, "fingerprints": prints.offset})
        print(f"checkpointed {links.offset}", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))

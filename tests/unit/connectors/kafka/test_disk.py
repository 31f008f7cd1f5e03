"""The worker's state on disk (connectors/kafka/disk.py): kept across a clean stop and a crash
alike, resumed at its last checkpoint; one process per directory, a table's keys apart from
the others'."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from rocksdict import AccessType, Options, Rdict

from connectors.kafka.compacted import CompactedTable
from connectors.kafka.disk import CHECKPOINT, CLEAN, STORE, StateDir
from tests.support import store_crash


def test_a_clean_stop_keeps_the_tables_and_their_offsets(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    links, states = state.open("links"), state.open("states")
    links["a"], links["b"], states["a"] = "1", {"x": 1}, [2]
    del links["b"]
    assert dict(links) == {"a": "1"} and dict(states) == {"a": [2]}
    state.close({"links": 41, "states": None})
    again = StateDir(tmp_path)
    assert again.offset("links") == 41 and again.offset("states") is None
    assert dict(again.open("links")) == {"a": "1"}
    assert dict(again.open("states")) == {}  # no offset: rebuilt from its topic


def test_a_start_resumes_at_the_last_checkpoint_clean_stop_or_not(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    state.open("links")["a"] = "1"
    state.checkpoint({"links": 5})
    state.open("links")["b"] = "2"  # after the checkpoint: a later offset's value
    state.close()  # no last checkpoint (a stop with writes unacknowledged, or a crash)
    resumed = StateDir(tmp_path)
    assert resumed.offsets == {"links": 5}
    assert dict(resumed.open("links")) == {"a": "1", "b": "2"}


def test_a_table_cleared_leaves_the_checkpoint_with_its_keys(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    state.open("fingerprints-1")["a"] = 1
    state.open("links")["b"] = 2
    state.checkpoint({"fingerprints-1": 3, "links": 4})
    state.discard("fingerprints-1")  # the partition moved to another worker
    state.close()
    again = StateDir(tmp_path)
    assert again.offsets == {"links": 4}
    assert dict(again.open("fingerprints-1")) == {} and dict(again.open("links")) == {"b": 2}


def test_a_store_of_the_release_before_is_rebuilt(tmp_path: Path) -> None:
    tmp_path.joinpath(STORE).mkdir()
    db = Rdict(str(tmp_path / STORE), Options(raw_mode=True))
    db[b"\x01checkpoint"] = orjson.dumps({"links": 7})  # its checkpoint, with its marker
    db[b"links\x00a"] = b"1"
    db.close()
    (tmp_path / CLEAN).touch()
    state = StateDir(tmp_path)
    assert state.offsets == {} and dict(state.open("links")) == {}
    assert not (tmp_path / CLEAN).exists()


@pytest.mark.parametrize("seed", [1, 2])
def test_a_store_killed_9_keeps_a_checkpoint_and_no_value_kafka_lacks(
    tmp_path: Path, seed: int
) -> None:
    """A writer killed at a random moment, three times on one store: each time, what the
    store kept plus the topic read again from its checkpoint is the topic's state. The
    checkpoint before the last one printed survives (its memtable flush had the time of
    10,000 writes to finish); the last one may not."""
    rng = random.Random(seed)
    for _ in range(3):
        checkpoints = rng.randint(1, 4)
        kill_after_checkpoints(tmp_path, checkpoints, rng.uniform(0.0, 0.2))
        state = StateDir(tmp_path, store_crash.CACHE_BYTES)
        at = state.offset("links")
        if checkpoints > 1:
            assert at is not None and (at + 1) % store_crash.CHECKPOINT_EVERY == 0
        assert_kept_a_prefix(state, -1 if at is None else at)
        state.close()


def assert_kept_a_prefix(state: StateDir, at: int) -> None:
    links, prints = state.open("links"), state.open("fingerprints")
    for key, value in links.items():  # no key older than the checkpoint
        assert int(key[1:]) == value % store_crash.KEYS and value > at - store_crash.KEYS
    assert len(links) == min(at + 1, store_crash.KEYS)
    for _, (round_, _) in prints.items():  # acknowledged writes only
        assert round_ % 2 == 1
    assert state.offset("fingerprints") in (None, *range(1, max(at, 1), 2))
    replayed = CompactedTable("links", base=links, offset=at)
    end = at + 3 * store_crash.KEYS
    for i in range(at + 1, end + 1):
        replayed.apply(*store_crash.message(i), own=True, offset=i)
    assert dict(links) == {f"k{i % store_crash.KEYS}": i for i in range(end + 1)}


def kill_after_checkpoints(path: Path, checkpoints: int, then: float) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.support.store_crash", str(path)], stdout=subprocess.PIPE
    )
    assert child.stdout is not None
    for _ in range(checkpoints):
        assert child.stdout.readline().startswith(b"checkpointed"), "the writer stopped"
    subprocess.run(["sleep", str(then)], check=True)
    child.kill()
    child.wait(timeout=10)
    child.stdout.close()


def test_a_directory_is_held_by_one_process_and_the_next_one_takes_another(
    tmp_path: Path,
) -> None:
    first = StateDir.claim(tmp_path, None)
    with pytest.raises(BlockingIOError):
        StateDir(first.path)
    second = StateDir.claim(tmp_path, None)
    assert (first.path.name, second.path.name) == ("worker-0", "worker-1")
    first.close()
    assert StateDir.claim(tmp_path, None).path.name == "worker-0"  # found again


def test_a_compacted_table_on_disk_reads_and_writes_through(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    table = CompactedTable("t.fingerprints", followed=False, base=state.open("fingerprints-0"))
    table["k"] = {"r": 1}
    table.apply(b"j", b'{"r": 2}', own=True, offset=7)
    assert table["k"] == {"r": 1} and table["j"] == {"r": 2} and table.offset == 7
    assert state.open("fingerprints-0").get("j") == {"r": 2}  # on disk, not in memory


def test_the_front_cache_answers_what_the_store_holds_and_stays_within_its_budget(
    tmp_path: Path,
) -> None:
    state = StateDir(tmp_path, cache_bytes=8 << 20)
    links = state.open("links")
    assert links.get("a") is None  # absent, and known absent
    links["a"] = {"x": 1}
    assert links["a"] == {"x": 1} and "a" in links
    links.put_raw("a", b'{"x": 2}')  # read back from the topic: decoded when read
    assert links["a"] == {"x": 2}
    del links["a"]
    assert links.get("a") is None and "a" not in links
    for n in range(50_000):
        links[str(n)] = n
    front = state.front
    assert len(front.young) + len(front.old) < 50_000 and front.budget == (8 << 20) // 4
    assert links["0"] == 0 and links["49999"] == 49_999  # the oldest from the store again
    links.clear()
    assert links.get("49999") is None and dict(links) == {}


def test_the_store_keeps_without_its_write_ahead_log_across_a_clean_stop(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    state.open("links")["a"] = "1"
    state.close({"links": 3})
    assert dict(StateDir(tmp_path).open("links")) == {"a": "1"}


def test_a_checkpoint_reaches_the_store_files_without_a_stop(tmp_path: Path) -> None:
    """What a kill -9 would find: the files (a read-only open sees no memtable)."""
    state = StateDir(tmp_path)
    state.open("links")["a"] = "1"
    assert state.checkpoint({"links": 9}) and not state.checkpoint({"links": 9})
    deadline = time.monotonic() + 10
    while files_checkpoint(tmp_path) != {"links": 9}:
        assert time.monotonic() < deadline, "the checkpoint never left the memtable"
        time.sleep(0.05)
    state.close()


def files_checkpoint(path: Path) -> object:
    db = Rdict(str(path / STORE), Options(raw_mode=True), access_type=AccessType.read_only())
    try:
        raw = db.get(CHECKPOINT)
    finally:
        db.close()
    return None if raw is None else orjson.loads(raw)  # type: ignore[arg-type]

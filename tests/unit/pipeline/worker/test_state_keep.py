"""A rebalance does not reload the fingerprints of partitions the worker keeps; a table is
checkpointed while it loads, and a partition dropped leaves the checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectors.kafka.compacted import CompactedTable
from connectors.kafka.disk import StateDir
from orgsync_kernel.topics import Topics
from pipeline.worker.state import PipelineState


def state_owning(*partitions: int) -> PipelineState:
    state = PipelineState(cluster=Any, topics=Topics("t"), partitions=4)  # type: ignore[arg-type]
    for partition in partitions:
        table = CompactedTable("t.fingerprints", partition=partition, followed=False)
        table["k"] = partition
        state.fingerprints.owned[partition] = table
    return state


def test_partitions_assigned_again_keep_their_tables_and_only_new_ones_load() -> None:
    state = state_owning(0, 1)
    kept = state.fingerprints.owned[0]
    state.disown([0, 1])  # an eager rebalance revokes everything first
    assert state.fingerprints.owned == {}
    to_load = state.keep([0, 2])
    assert to_load == {2}
    assert state.fingerprints.owned == {0: kept}  # the same table: not read again
    assert state.fingerprints.revoked == {}  # partition 1 went elsewhere: dropped


def test_a_partition_revoked_while_it_loaded_is_not_kept() -> None:
    state = state_owning(3)
    state.drop([3])
    assert 3 not in state.fingerprints.owned and state.keep([3]) == {3}


class _Reader:
    """Loads a partition's table with three messages, checkpointing in the middle (as the
    checkpoint task may while a load runs)."""

    def __init__(self, state: PipelineState, disk: StateDir) -> None:
        self.state, self.disk = state, disk
        self.seen: list[dict[str, int]] = []

    async def load(self, table: CompactedTable, partitions: list[int], *, own: bool) -> int:
        for offset in range(3):
            table.apply(f"k{offset}".encode(), b"1", own=own, offset=offset)
            if offset == 1:
                self.disk.checkpoint(self.state._offsets())
                self.seen.append(dict(self.disk.offsets))
        return 3

    async def track(self, tables: list[CompactedTable]) -> None:
        pass


async def test_tables_still_loading_are_checkpointed_and_a_drop_takes_them_out(
    tmp_path: Path,
) -> None:
    disk = StateDir(tmp_path)
    state = PipelineState(cluster=Any, topics=Topics("t"), partitions=4, disk=disk)  # type: ignore[arg-type]
    reader = state.reader = _Reader(state, disk)  # type: ignore[assignment]
    await state.load([2])
    assert reader.seen == [  # mid-load, as far as each had read
        {"fingerprints-2": 1},
        {"fingerprints-2": 2, "record-links-2": 1},
        {"fingerprints-2": 2, "record-links-2": 2, "record-states-2": 1},
    ]
    assert state._offsets()["fingerprints-2"] == 2
    state.drop([2])  # assigned elsewhere
    assert "fingerprints-2" not in disk.offsets and "fingerprints-2" not in state._offsets()
    disk.close()

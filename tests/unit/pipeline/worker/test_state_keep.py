"""A rebalance does not reload the fingerprints of partitions the worker keeps."""

from __future__ import annotations

from typing import Any

from connectors.kafka.compacted import CompactedTable
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

"""Fixtures for the CLI tests that run workers: the pipeline tests' emulator and worker fixtures
(same orgs, same config; the backfill and replay tests override `emulator_orgs` with plain orgs),
and `workers`, the workers a test started itself."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.deployment import Worker
from tests.support.pipeline import emu, emulator_orgs, make_worker, session

__all__ = ["emu", "emulator_orgs", "make_worker", "session"]


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    """Workers a test started; each must stop with exit code 0 on SIGTERM."""
    started: list[Worker] = []
    yield started
    for worker in started:
        if worker.alive():
            code = worker.stop()
            assert code == 0, f"worker exit code {code} on SIGTERM:\n{worker.log()}"

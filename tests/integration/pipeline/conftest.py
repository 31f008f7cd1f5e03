"""Fixtures for the pipeline tests: the emulator with a source and targets, a worker factory
(defined in tests/support/pipeline.py, which the DLQ tests share)."""

from __future__ import annotations

from tests.support.pipeline import emu, emulator_orgs, make_worker, session

__all__ = ["emu", "emulator_orgs", "make_worker", "session"]

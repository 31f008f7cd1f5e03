"""The DLQ tests reuse the pipeline tests' emulator and worker fixtures (same orgs, same config)."""

from __future__ import annotations

from tests.support.pipeline import emu, emulator_orgs, make_worker, session

__all__ = ["emu", "emulator_orgs", "make_worker", "session"]

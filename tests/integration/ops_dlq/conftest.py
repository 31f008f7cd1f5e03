"""The DLQ tests reuse the pipeline tests' emulator and worker fixtures (same orgs, same config)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_PIPELINE = Path(__file__).parents[1] / "pipeline"
sys.path.insert(0, str(_PIPELINE))
_spec = importlib.util.spec_from_file_location("pipeline_test_fixtures", _PIPELINE / "conftest.py")
assert _spec is not None and _spec.loader is not None
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)

session = _fixtures.session
emulator_orgs = _fixtures.emulator_orgs
emu = _fixtures.emu
make_worker = _fixtures.make_worker

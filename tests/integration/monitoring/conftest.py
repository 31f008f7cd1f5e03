"""Fixtures for the monitoring tests; the emulated orgs and config writer of the pipeline tests
(tests/integration/pipeline/pipeline_support.py) are imported rather than copied."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "pipeline"))

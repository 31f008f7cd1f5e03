"""`make run | tee demo.log`, then Ctrl-C: tee is gone, and the demo's clean-up still stops what
it started, the local Kafka broker included (examples/demo/run.py)."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]


def load_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo_run", REPO / "examples/demo/run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cleanup_runs_when_stdout_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    demo = load_demo()
    reader, writer = os.pipe()
    os.close(reader)  # the reader of stdout (tee) is gone
    orgsync = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    ran: list[list[str]] = []

    async def live_view_on_closed_stdout(args: Any, processes: Any) -> None:
        processes.kafka_started = True
        processes.started.append(("orgsync", orgsync))
        print("global_us ← Accounts insert: 1", flush=True)

    monkeypatch.setattr(demo, "demo", live_view_on_closed_stdout)
    monkeypatch.setattr(subprocess, "run", lambda argv, **_: ran.append([str(a) for a in argv]))
    monkeypatch.setattr(signal, "signal", lambda *_: None)
    monkeypatch.setattr(sys, "argv", ["run.py"])
    with open(writer, "w") as stdout:
        monkeypatch.setattr(sys, "stdout", stdout)
        try:
            assert demo.main() == 0
        finally:
            orgsync.kill()
            orgsync.wait()
    assert ran == [[str(REPO / "scripts/local-kafka"), "stop"]]
    assert orgsync.returncode == -signal.SIGTERM  # stopped by the clean-up, not by the kill

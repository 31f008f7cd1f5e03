"""scripts/local-kafka is idempotent, stops only its own broker and keeps its formatted data."""

from __future__ import annotations

import os
import random
import socket
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).parents[3] / "scripts" / "local-kafka"


def free_port_pair() -> int:
    """A port p such that p and p+1 (the controller) are free, below the ephemeral range so
    that outgoing connections of other processes cannot take them between stop and start."""
    for _ in range(50):
        port = random.randrange(20000, 32000, 2)
        try:
            for candidate in (port, port + 1):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair")


def run(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), command], env=env, capture_output=True, text=True, timeout=150
    )


def test_start_twice_stop_restart_keeps_data(tmp_path: Path) -> None:
    env = {**os.environ, "KAFKA_PORT": str(free_port_pair()), "KAFKA_HOME_DIR": str(tmp_path)}
    first = run("start", env)
    try:
        assert first.returncode == 0, first.stderr
        assert "formatting storage" in first.stderr
        pid = int((tmp_path / "kafka.pid").read_text())

        second = run("start", env)
        assert second.returncode == 0 and "already running" in second.stderr
        assert int((tmp_path / "kafka.pid").read_text()) == pid
        assert run("status", env).returncode == 0
    finally:
        stopped = run("stop", env)
    assert stopped.returncode == 0, stopped.stderr
    assert not Path(f"/proc/{pid}").exists(), "broker process still alive after stop"
    assert run("status", env).returncode == 3

    again = run("start", env)
    try:
        assert again.returncode == 0, again.stderr
        assert "formatting storage" not in again.stderr  # the formatted data was kept
    finally:
        run("stop", env)

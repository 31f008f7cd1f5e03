"""The machine and versions a benchmark ran on (for results/latest.json and the docs)."""

from __future__ import annotations

import os
import platform
import re
import time
from pathlib import Path
from typing import Any

from .processes import ROOT


def memory_gb(meminfo: str) -> float:
    """MemTotal of /proc/meminfo in GB (1 decimal)."""
    found = re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.MULTILINE)
    return round(int(found.group(1)) / 1024 / 1024, 1) if found else 0.0


def kafka_version(libs: Path = ROOT / ".cache" / "kafka" / "libs") -> str:
    """The broker version, from the kafka-server jar the local script runs."""
    for jar in sorted(libs.glob("kafka-server-*.jar")) if libs.is_dir() else ():
        found = re.fullmatch(r"kafka-server-(\d[\w.]*)\.jar", jar.name)
        if found:
            return found.group(1)
    return "unknown"


def machine_info(mode: str) -> dict[str, Any]:
    try:
        meminfo = Path("/proc/meminfo").read_text()
    except OSError:
        meminfo = ""
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cpus": os.cpu_count(),
        "memory_gb": memory_gb(meminfo),
        "python": platform.python_version(),
        "kafka": kafka_version(),
        "platform": platform.platform(),
        "mode": mode,
    }

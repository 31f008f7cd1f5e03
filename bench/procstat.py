"""Peak RSS and CPU seconds of a process tree from /proc (psutil is not a dependency).

Parsing is pure (tested in tests/unit/bench); ``TreeSampler`` reads /proc while the process
runs, so children that come and go are seen. CPU of the tree = the root's own and reaped
children's ticks (utime, stime, cutime, cstime) + the live descendants' own ticks; that sum
only grows, so the last sample is the total. Peak RSS = the largest sum of VmHWM over the live
tree seen in any sample (VmHWM is each process's own high-water mark).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class StatLine:
    pid: int
    ppid: int
    own_ticks: int  # utime + stime
    children_ticks: int  # cutime + cstime (reaped children)


def parse_stat(text: str) -> StatLine:
    """Parse /proc/<pid>/stat; the command name (field 2) may contain spaces and ')'."""
    head, _, rest = text.rpartition(")")
    pid = int(head.split("(", 1)[0])
    fields = rest.split()
    # fields[0] is field 3 (state); utime..cstime are fields 14..17
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return StatLine(pid, ppid, utime + stime, cutime + cstime)


def parse_vmhwm_kib(status_text: str) -> int:
    """VmHWM from /proc/<pid>/status in KiB (0 for kernel threads / zombies that lack it)."""
    for line in status_text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def descendants(root: int, parents: dict[int, int]) -> list[int]:
    """Pids whose ancestry reaches ``root`` (root excluded), from a pid -> ppid map."""
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found: list[int] = []
    stack = list(children.get(root, ()))
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, ()))
    return found


def tree_cpu_ticks(root: StatLine, live_descendants: list[StatLine]) -> int:
    return root.own_ticks + root.children_ticks + sum(s.own_ticks for s in live_descendants)


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:  # the process ended between listing and reading
        return None


def _all_stats() -> dict[int, StatLine]:
    found: dict[int, StatLine] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            text = _read(entry / "stat")
            if text:
                stat = parse_stat(text)
                found[stat.pid] = stat
    return found


class TreeSampler:
    """Samples one process tree; call ``sample()`` periodically and once before it stops."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_rss_kib = 0
        self.cpu_ticks = 0
        self.ticks_per_s = os.sysconf("SC_CLK_TCK")

    def sample(self) -> None:
        stats = _all_stats()
        root = stats.get(self.pid)
        if root is None:
            return
        tree = [stats[p] for p in descendants(self.pid, {s.pid: s.ppid for s in stats.values()})]
        self.cpu_ticks = max(self.cpu_ticks, tree_cpu_ticks(root, tree))
        rss = sum(parse_vmhwm_kib(_read(PROC / str(s.pid) / "status") or "") for s in [root, *tree])
        self.peak_rss_kib = max(self.peak_rss_kib, rss)

    @property
    def cpu_seconds(self) -> float:
        return self.cpu_ticks / self.ticks_per_s

    @property
    def peak_rss_mb(self) -> float:
        return self.peak_rss_kib / 1024

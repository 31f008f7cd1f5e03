"""Line charts as server-side SVG geometry: the template draws what `line_chart` computes.

    chart = line_chart("Changes", "/s", {"all": series}, start=now - 3600, end=now)
    chart.lines[0].path   # an SVG path ("M x y L x y ..."), "" for a series without points

The y axis starts at 0 and ends at a round number (1, 2 or 5 × 10ⁿ) above the largest value;
the x axis is time from `start` (or the first point, when later) to `end`. A gap of more
than `GAP` sampling intervals (the process was down, Kafka out of reach) breaks the line
instead of bridging it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from orgsync_operations.sampler import Series

WIDTH, HEIGHT = 480, 160
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 8, 20  # room for the axis labels
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf")
GAP = 3.0


@dataclass(frozen=True)
class Frame:
    """Where the plot sits in the SVG, and the time span it shows."""

    start: float
    end: float
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM

    def x(self, at: float) -> float:
        return self.left + (self.right - self.left) * (at - self.start) / (self.end - self.start)

    def y(self, value: float, y_top: float) -> float:
        return self.bottom - (self.bottom - self.top) * min(max(value / y_top, 0.0), 1.0)


@dataclass(frozen=True)
class Line:
    label: str
    colour: str
    path: str
    last: str  # the newest value, as text ("—" without points)


@dataclass(frozen=True)
class Chart:
    title: str
    unit: str
    source: str  # where the figures come from, said under the chart
    lines: list[Line]
    y_top: str
    x_labels: list[tuple[float, str]]  # (x, "HH:MM")
    frame: Frame


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 × 10ⁿ at or above `value` (1 for nothing to show)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def number(value: float) -> str:
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) >= 0.01 else f"{value:.1e}"


def path(series: Series, frame: Frame, y_top: float, step: float) -> str:
    """The SVG path of `series`; a new subpath after a gap longer than GAP × `step`."""
    parts, previous = [], None
    for at, value in series:
        jump = previous is None or (step > 0 and at - previous > GAP * step)
        parts.append(f"{'M' if jump else 'L'}{frame.x(at):.1f} {frame.y(value, y_top):.1f}")
        previous = at
    return " ".join(parts)


def typical_step(series: Mapping[str, Series]) -> float:
    steps = sorted(b[0] - a[0] for s in series.values() for a, b in zip(s, s[1:], strict=False))
    return steps[len(steps) // 2] if steps else 0.0


def line_chart(
    title: str,
    unit: str,
    series: Mapping[str, Series],
    *,
    start: float,
    end: float,
    source: str,
) -> Chart:
    shown = {label: [p for p in s if start <= p[0] <= end] for label, s in series.items()}
    first = min((s[0][0] for s in shown.values() if s), default=start)
    frame = Frame(first, max(end, first + 1))  # a young process's samples fill the width
    y_top = nice_ceiling(max((v for s in shown.values() for _, v in s), default=0.0))
    step = typical_step(shown)
    lines = [
        Line(
            label,
            COLOURS[i % len(COLOURS)],
            path(points, frame, y_top, step),
            number(points[-1][1]) if points else "—",
        )
        for i, (label, points) in enumerate(sorted(shown.items()))
    ]
    return Chart(title, unit, source, lines, number(y_top), x_labels(frame), frame)


def x_labels(frame: Frame, count: int = 4) -> list[tuple[float, str]]:
    span = frame.end - frame.start
    shape = "%H:%M:%S" if span < 600 else "%H:%M"
    return [
        (frame.x(at), datetime.fromtimestamp(at, UTC).strftime(shape))
        for at in (frame.start + span * i / count for i in range(count + 1))
    ]

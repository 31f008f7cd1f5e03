"""Server-side SVG charts: geometry, gaps, and the template's escaping."""

from __future__ import annotations

import re

import pytest

from orgsync_operations.charts import line_chart, nice_ceiling
from orgsync_operations.render import TEMPLATES


def test_nice_ceiling_rounds_up_to_1_2_5() -> None:
    assert [nice_ceiling(v) for v in (0, 0.7, 1, 1.5, 3, 7, 420)] == [1, 1, 1, 2, 5, 10, 500]


def test_a_line_spans_the_frame_and_breaks_at_a_gap() -> None:
    series = [(0.0, 0.0), (10.0, 4.0), (20.0, 2.0), (200.0, 1.0), (210.0, 1.0)]
    chart = line_chart("W", "/s", {"a": series, "b": []}, start=0, end=210, source="here")
    frame, (a, b) = chart.frame, chart.lines
    assert chart.y_top == "5" and a.last == "1" and b.path == "" and b.last == "—"
    moves = re.findall(r"([ML])([\d.]+) ([\d.]+)", a.path)
    assert [m[0] for m in moves] == ["M", "L", "L", "M", "L"]  # 180 s without samples
    xs, ys = [float(m[1]) for m in moves], [float(m[2]) for m in moves]
    assert xs[0] == frame.left and xs[-1] == frame.right
    assert ys[0] == frame.bottom and ys[1] == pytest.approx(
        frame.bottom - 0.8 * (frame.bottom - frame.top), abs=0.1
    )


def test_the_chart_macro_draws_paths_and_escapes_labels() -> None:
    chart = line_chart(
        "<b>Lag</b>", "msgs", {"<i>t</i>": [(0, 1), (5, 2)]}, start=0, end=10, source="Kafka"
    )
    svg = str(TEMPLATES.get_template("macros.html").module.chart(chart))  # type: ignore[attr-defined]
    assert '<path class="series" d="M48.0' in svg and '<svg class="chart"' in svg
    assert "<b>" not in svg and "&lt;b&gt;Lag&lt;/b&gt;" in svg and "&lt;i&gt;t" in svg

"""The side-by-side table and the generated section of docs/benchmarks.md."""

from __future__ import annotations

from bench import report
from bench.stats import PhysicalLimits

LIMITS = PhysicalLimits.for_latency(100)


def _result(**over: object) -> dict[str, object]:
    found: dict[str, object] = {
        "synced_changes": 4000,
        "latency_ms": {"p50": 300.0, "p95": 600.0, "p99": 800.0},
        "throughput_per_s": 2000.0,
        "calls_per_change": 0.03,
        "credits_per_change": 0.12,
        "records_per_write_call": 98.5,
        "token_refreshes": 2,
        "throttled_429": 0,
    }
    found.update(over)
    return found


def _row(table: str, label: str) -> list[str]:
    line = next(x for x in table.splitlines() if x.startswith(f"| {label} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_fmt() -> None:
    assert report.fmt(None) == "–"
    assert report.fmt(12345) == "12,345"
    assert report.fmt(0.0212) == "0.0212"
    assert report.fmt(1234.6) == "1,235"
    assert report.fmt(True) == "true"


def test_table_has_ratios_and_physical_limits() -> None:
    results = {
        "orgsync": _result(),
        "seed-literal": _result(calls_per_change=2.0, throughput_per_s=10.0),
        "per-record": _result(calls_per_change=1.0, throughput_per_s=200.0),
    }
    table = report.render_table("burst", results, LIMITS)
    assert _row(table, "calls per synced change") == [
        "calls per synced change",
        "0.03",
        "2",
        "1",
        "0.015×",
        "0.03×",
        "0.02",
    ]
    assert _row(table, "throughput (changes/s)")[-3:] == ["200×", "10×", "10,000"]
    assert _row(table, "credits per synced change")[-1] == "0.11"
    assert table.startswith("**burst**")


def test_an_unavailable_system_says_why_and_gets_no_ratio() -> None:
    results = {"orgsync": "not available: orgsync run exited", "per-record": _result()}
    table = report.render_table("trickle", results, LIMITS)
    row = _row(table, "e2e latency p99 (ms)")
    assert row[1] == "not available"
    assert row[2] == "–"  # seed-literal was not run
    assert row[4:6] == ["–", "–"]
    assert "orgsync: not available: orgsync run exited" in table


def test_refresh_section_replaces_only_the_generated_block() -> None:
    doc = f"# Benchmarks\n\nintro\n\n{report.BEGIN}\nold\n{report.END}\n\nafter\n"
    new = report.refresh_section(doc, "new table")
    assert "old" not in new
    assert new.startswith("# Benchmarks\n\nintro\n\n")
    assert new.endswith(f"{report.BEGIN}\nnew table\n{report.END}\n\nafter\n")
    assert report.refresh_section(new, "new table") == new


def test_refresh_section_appends_when_there_is_no_block() -> None:
    new = report.refresh_section("# Benchmarks\n", "table")
    assert new == f"# Benchmarks\n\n{report.BEGIN}\ntable\n{report.END}\n"

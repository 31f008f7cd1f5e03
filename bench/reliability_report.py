"""Render bench/results/reliability.json (and soak.json) into the tables of docs/reliability.md.

    python -m bench.reliability_report          # rewrites the part between the markers

The reliability tests write one row per scenario as they finish (see
tests/support/reliability.py); the soak writes bench/results/soak.json.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
DOC = REPO / "docs" / "reliability.md"
BEGIN, END = "<!-- reliability-table:begin -->", "<!-- reliability-table:end -->"
COLUMNS = (
    "scenario",
    "load",
    "faults injected",
    "expected",
    "found",
    "duplicates",
    "DLQ entries",
    "converged (s)",
    "result",
)


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def scenario_table(rows: dict[str, dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for name in sorted(rows):
        row = rows[name]
        converge = "—" if row["converge_s"] is None else f"{row['converge_s']:.1f}"
        cells = (
            row["scenario"],
            row["load"],
            row["faults"],
            row["expected"],
            row["found"],
            row["duplicates"],
            row["dlq"],
            converge,
            ("pass" if row["passed"] else "FAIL") + (f": {row['note']}" if row.get("note") else ""),
        )
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    scales = sorted({row["scale"] for row in rows.values()})
    newest = max(row["at"] for row in rows.values())
    lines.append("")
    lines.append(
        f"Last run: {_when(newest)}; load scale "
        f"{', '.join(str(s) for s in scales)} (`ORGSYNC_RELIABILITY_SCALE`, "
        "1.0 = the issue's full sizes)."
    )
    return "\n".join(lines)


def soak_table(soak: dict[str, Any]) -> str:
    return "\n".join(
        [
            "| duration | records | faults | RSS start → end (MiB) | RSS slope (MiB/h) | "
            "target exact | converged (s) |",
            "|---|---|---|---|---|---|---|",
            f"| {soak['minutes']:.0f} min | {soak['records']:,} | {_cell(soak['faults'])} | "
            f"{soak['rss_start_mib']:.0f} → {soak['rss_end_mib']:.0f} | "
            f"{soak['rss_slope_mib_per_hour']:+.1f} | {'yes' if soak['exact'] else 'NO'} | "
            f"{soak['converge_s']:.1f} |",
            "",
            f"Soak run: {_when(soak['at'])}.",
        ]
    )


def render() -> str:
    parts = []
    scenarios = RESULTS / "reliability.json"
    if scenarios.exists():
        parts.append(scenario_table(orjson.loads(scenarios.read_bytes())))
    soak = RESULTS / "soak.json"
    if soak.exists():
        parts.append(soak_table(orjson.loads(soak.read_bytes())))
    return "\n\n".join(parts) or "No results yet: run `make reliability`."


def main() -> int:
    text = DOC.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    if not rest:
        print(f"{DOC}: markers {BEGIN} / {END} not found", file=sys.stderr)
        return 1
    DOC.write_text(f"{head}{BEGIN}\n{render()}\n{END}{tail}")
    print(f"updated {DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

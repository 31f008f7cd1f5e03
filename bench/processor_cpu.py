"""CPU per record of the processor alone (no Kafka, no HTTP, state in dicts): N Leads created in
the source, then each updated once, through `Processor.process`, for a one-way route and for
the example's two-way route (whose target keeps record states). Prints µs per change, the
median of several runs, and writes bench/results/processor_cpu.json.

    .venv/bin/python -m bench.processor_cpu [--records 5000] [--runs 5] [--label NAME]

Run it from two trees in one sitting (PYTHONPATH=<tree>) to compare commits.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import statistics
import time
from pathlib import Path
from typing import Any

import yaml

from connectors.zoho import OrgCurrency
from orgsync_kernel.config_file import load_settings
from orgsync_kernel.events import Change
from pipeline.sync.metadata import Metadata
from pipeline.sync.processor import Processor

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "config.example.yaml"
RESULTS = ROOT / "bench" / "results" / "processor_cpu.json"
ENV = {
    "ORGSYNC_WEBHOOK_SECRET": "whsec-0123456789abcdef",
    **{f"{dc}_CLIENT_ID": f"1000.{dc}CLIENTID" for dc in ("IN", "US")},
    **{f"{dc}_CLIENT_SECRET": f"{dc.lower()}-client-secret-value" for dc in ("IN", "US")},
    **{f"{dc}_REFRESH_TOKEN": f"1000.{dc.lower()}-refresh-token-value" for dc in ("IN", "US")},
}
NAMES = ["First_Name", "Last_Name", "Company", "Phone", "Lead_Source", "Lead_Status"]
FIELDS = [{"api_name": n, "data_type": "text"} for n in NAMES] + [
    {"api_name": "Email", "data_type": "email", "unique": True}
]


class FakeOrg:
    async def fields(self, module: str) -> list[dict[str, Any]]:
        return FIELDS

    async def users(self) -> list[dict[str, Any]]:  # the example's default owner
        return [{"id": "1", "email": "sales@global.example", "status": "active"}]

    async def currencies(self) -> list[Any]:
        return []

    async def org_currency(self) -> OrgCurrency:
        return OrgCurrency("USD", False)


def settings(two_way: bool, workdir: Path) -> Any:
    config = yaml.safe_load(EXAMPLE.read_text())
    if not two_way:
        config["sync"] = config["sync"][:1]
    path = workdir / ("two-way.yaml" if two_way else "one-way.yaml")
    path.write_text(yaml.safe_dump(copy.deepcopy(config)))
    return load_settings(path, ENV)


def changes(count: int, second: int) -> list[Change]:
    return [
        Change(
            org="regional_in",
            module="Leads",
            id=str(4000 + n),
            operation="update",
            modified_time=f"2026-01-05T10:{second // 60:02d}:{second % 60:02d}+00:00",
            record={
                "id": str(4000 + n),
                "Email": f"lead{n}@example.com",
                "Last_Name": f"Lee {n}",
                "Company": f"Acme {n} {second}",
                "Lead_Status": "New" if second == 0 else "Qualified",
            },
            source="notification",
            received_at=0.0,
        )
        for n in range(count)
    ]


async def one_run(two_way: bool, records: int, workdir: Path) -> float:
    config = settings(two_way, workdir)
    metadata = Metadata({org: FakeOrg() for org in config.orgs})
    processor = Processor(config, metadata, {}, {}, {})
    batches = [changes(records, 0), changes(records, 5)]
    written = 0
    cpu = time.process_time()
    for batch in batches:
        for change in batch:
            out = await processor.process(change)
            written += len(out.writes)
            if out.fingerprints is not None:
                processor.confirm({change.key: out.fingerprints})
    spent = time.process_time() - cpu
    if written != 2 * records:  # each create and each update is written once
        raise RuntimeError(f"{written} writes of {2 * records} changes")
    return spent / (2 * records) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--label", default="current")
    args = parser.parse_args()
    workdir = Path("/tmp") / f"processor-cpu-{args.label}"
    workdir.mkdir(parents=True, exist_ok=True)
    found: dict[str, Any] = {}
    for two_way in (False, True):
        runs = [asyncio.run(one_run(two_way, args.records, workdir)) for _ in range(args.runs)]
        name = "two-way" if two_way else "one-way"
        found[name] = {"median_us": round(statistics.median(runs), 1), "runs": runs}
        median = statistics.median(runs)
        print(f"{args.label} {name}: {median:.1f} µs per change (median of {args.runs})")
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[args.label] = {**found, "records": args.records, "at": time.strftime("%Y-%m-%d %H:%M")}
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()

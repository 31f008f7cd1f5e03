"""orgsync against the seed's per-record sync and the physical limit, side by side (issue 9).

    .venv/bin/python -m bench.run [--quick] [--latency-ms 100] [--jitter-ms 20] ...
    make bench          # full: burst 10,000 creates + 10,000 updates, trickle 20/s for 60 s
    make bench-quick    # --quick: burst 2,000 + 2,000, trickle 20/s for 20 s (< 3 minutes)

Starts the local Kafka (left running if it already was), the emulator as a subprocess with
the two orgs, then runs every system on every workload, alone, from a reset emulator. Prints
the table, writes bench/results/latest.json and refreshes the generated section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import orjson

if __package__ in (None, ""):  # `python bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "bench"

from .machine import machine_info  # noqa: E402
from .processes import ROOT, EmulatorProcess  # noqa: E402
from .report import SYSTEMS, refresh_section, render_table  # noqa: E402
from .runner import Bench, Options, Outcome  # noqa: E402
from .scenario import OrgShape, emulator_config, write_yaml  # noqa: E402
from .stats import EDITION_CONCURRENCY, PhysicalLimits  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "latest.json"
DOC = ROOT / "docs" / "benchmarks.md"
WORKLOADS = ("burst", "trickle")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller workloads (under 3 minutes)")
    p.add_argument("--latency-ms", type=int, default=100, help="emulated API latency")
    p.add_argument("--jitter-ms", type=int, default=20, help="± uniform jitter on it")
    p.add_argument(
        "--edition",
        default="enterprise",
        choices=sorted(EDITION_CONCURRENCY),
        help="edition of both orgs (sets the concurrency limit)",
    )
    p.add_argument(
        "--user-licences",
        type=int,
        help="user licences of both orgs (raise the daily credits for large bursts)",
    )
    p.add_argument("--burst", type=int, help="records created then updated in the burst")
    p.add_argument("--trickle-rate", type=float, default=20.0, help="changes per second")
    p.add_argument("--trickle-seconds", type=float, help="trickle duration")
    p.add_argument(
        "--per-record-concurrency",
        type=int,
        help="calls in flight for the baselines (default: the edition's limit)",
    )
    p.add_argument(
        "--workload-concurrency",
        type=int,
        default=10,
        help="concurrent 100-record writes of the generator (sub-concurrency 10)",
    )
    p.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset")
    p.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated subset")
    p.add_argument(
        "--orgsync-timeout",
        type=float,
        default=120.0,
        help="seconds to wait for orgsync to start, or to finish a workload",
    )
    p.add_argument("--no-docs", action="store_true", help="do not touch docs/benchmarks.md")
    p.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="where the JSON results go (default bench/results/latest.json)",
    )
    return p


def options_from(args: argparse.Namespace) -> Options:
    return Options(
        shape=OrgShape(args.latency_ms, args.jitter_ms, args.edition, args.user_licences),
        burst_records=args.burst or (2_000 if args.quick else 10_000),
        trickle_rate=args.trickle_rate,
        trickle_seconds=args.trickle_seconds or (20.0 if args.quick else 60.0),
        workload_concurrency=args.workload_concurrency,
        per_record_concurrency=args.per_record_concurrency or EDITION_CONCURRENCY[args.edition],
        orgsync_timeout_s=args.orgsync_timeout,
        workdir=ROOT / ".local" / "bench",
        broker=f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}",
    )


def kafka(command: str) -> int:
    return subprocess.run(
        [str(ROOT / "scripts" / "local-kafka"), command],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ).returncode


async def run_all(
    options: Options, systems: Sequence[str], workloads: Sequence[str]
) -> dict[str, dict[str, Outcome]]:
    config = write_yaml(options.workdir / "emulator.yaml", emulator_config(options.shape))
    emulator = EmulatorProcess(config, options.workdir / "emulator.log")
    await emulator.start()
    results: dict[str, dict[str, Outcome]] = {w: {} for w in workloads}
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as session:
            bench = Bench(options, session, emulator.url)
            for workload in workloads:
                for system in systems:
                    started = time.monotonic()
                    print(f"  {workload:8} {system:13}", end="", flush=True)
                    outcome = await (
                        bench.orgsync(workload)
                        if system == "orgsync"
                        else bench.baseline(system, workload)
                    )
                    results[workload][system] = outcome
                    print(
                        f" {time.monotonic() - started:6.1f} s"
                        + (f"  {outcome}" if isinstance(outcome, str) else "")
                    )
    finally:
        await emulator.stop()
    return results


def tables(results: dict[str, dict[str, Outcome]], limits: PhysicalLimits) -> str:
    return "\n\n".join(render_table(w, found, limits) for w, found in results.items())


def document_section(info: dict[str, Any], options: Options, body: str) -> str:
    shape = options.shape
    return "\n".join(
        [
            f"Measured {info['date']} on {info['cpus']} CPUs, {info['memory_gb']} GB RAM, "
            f"Python {info['python']}, Kafka {info['kafka']} ({info['mode']} mode).",
            f"Emulator latency {shape.latency_ms} ms ± {shape.jitter_ms} ms, edition "
            f"{shape.edition}; burst {options.burst_records:,} creates + {options.burst_records:,} "
            f"updates; trickle {options.trickle_rate:g}/s for {options.trickle_seconds:g} s; "
            f"baseline concurrency {options.per_record_concurrency}.",
            "",
            body,
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    options = options_from(args)
    systems = [s for s in args.systems.split(",") if s]
    workloads = [w for w in args.workloads.split(",") if w]
    unknown = set(systems) - set(SYSTEMS) | set(workloads) - set(WORKLOADS)
    if unknown:
        print(f"unknown systems/workloads: {sorted(unknown)}", file=sys.stderr)
        return 2
    we_started_kafka = "orgsync" in systems and kafka("status") != 0
    if we_started_kafka and kafka("start") != 0:
        print("could not start the local Kafka (scripts/local-kafka start)", file=sys.stderr)
        return 1
    try:
        results = asyncio.run(run_all(options, systems, workloads))
    finally:
        if we_started_kafka:
            kafka("stop")
    limits = PhysicalLimits.for_latency(options.shape.latency_ms)
    info = machine_info("quick" if args.quick else "full")
    body = tables(results, limits)
    print("\n" + body)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_bytes(
        orjson.dumps(
            {
                "machine": info,
                "options": _options_json(options),
                "limits": limits.__dict__,
                "emulator_behaviour": emulator_config(options.shape)["behaviour"],
                "results": results,
            },
            option=orjson.OPT_INDENT_2,
        )
    )
    if not args.no_docs:
        text = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
        DOC.write_text(
            refresh_section(text, document_section(info, options, body)), encoding="utf-8"
        )
    return 0


def _options_json(options: Options) -> dict[str, Any]:
    found = {k: v for k, v in options.__dict__.items() if k not in ("shape", "workdir")}
    return {**found, **options.shape.__dict__}


if __name__ == "__main__":
    sys.exit(main())

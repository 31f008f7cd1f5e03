"""Many seeds of the convergence harness (bench/convergence), outside CI: each seed runs every
scenario asked for, against real orgsync processes, a fresh emulator and the broker given.

    python -m bench.converge --seeds 20 [--scenarios two_orgs,hub] [--records 20]
        [--edit-seconds 30] [--converge-within 90] [--default-poller] [--broker H:P]

`make converge SEEDS=20` runs this. Prints one line per run, then per scenario the runs passed
and the time to converge (p50/max), and what failed; writes bench/results/converge.json. Exit 1
when a run failed. A failed run's logs stay in the directory printed with it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from bench.convergence import FAST_POLLER, SCENARIOS, RunResult, Setup, Size, emulator_orgs
from bench.convergence import run_seed as run_one
from bench.stats import percentile
from zoho_emulator import Emulator

RESULTS = Path(__file__).resolve().parent / "results" / "converge.json"


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", type=int, default=20, help="run seeds 1..N")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--records", type=int, default=20, help="created per org")
    parser.add_argument("--edit-seconds", type=float, default=30.0)
    parser.add_argument("--edits-per-second", type=float, default=3.5)
    parser.add_argument("--converge-within", type=float, default=90.0)
    parser.add_argument("--default-poller", action="store_true", help="orgsync's poller defaults")
    parser.add_argument("--workers", type=int, default=1, help="worker processes sharing it")
    parser.add_argument("--broker", default=_default_broker())
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def _default_broker() -> str:
    local = f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}"
    return os.environ.get("ORGSYNC_KAFKA_BROKER", local).removeprefix("kafka://")


async def run_all(args: argparse.Namespace) -> list[RunResult]:
    """Every seed of every scenario; the results file is rewritten after each run, so an
    interrupted run keeps what it did."""
    size = Size(
        records_per_org=args.records,
        edit_seconds=args.edit_seconds,
        edits_per_second=args.edits_per_second,
        converge_within_s=args.converge_within,
    )
    root = Path(tempfile.mkdtemp(prefix="orgsync-converge-"))
    started, results = time.monotonic(), []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for scenario in args.scenarios.split(","):
            workdir = _made(root / f"{scenario}-{seed}")
            result = await run_seed(args, size, workdir, scenario, seed)
            print(f"{result.summary()} ({result.seconds:.0f}s)", flush=True)
            results.append(result)
            write(args, results, time.monotonic() - started)
    return results


async def run_seed(
    args: argparse.Namespace, size: Size, workdir: Path, scenario: str, seed: int
) -> RunResult:
    topology = SCENARIOS[scenario]
    prefix = f"converge-{scenario}-{seed}-{uuid.uuid4().hex[:6]}"
    poller = None if args.default_poller else FAST_POLLER
    async with Emulator({"orgs": emulator_orgs(topology)}) as emu:
        setup = Setup(
            emu, args.broker, prefix, workdir, topology, size, poller=poller, workers=args.workers
        )
        return await run_one(setup, seed)


def _made(directory: Path) -> Path:
    directory.mkdir(parents=True)
    return directory


def summarise(results: Sequence[RunResult]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for scenario in sorted({r.scenario for r in results}):
        runs = [r for r in results if r.scenario == scenario]
        times = [r.converge_s for r in runs if r.converge_s is not None]
        summary[scenario] = {
            "runs": len(runs),
            "passed": sum(r.passed for r in runs),
            "converged": len(times),
            "converge_p50_s": _round(percentile(times, 50)),
            "converge_max_s": _round(max(times, default=None)),
        }
    return summary


def report(results: Sequence[RunResult]) -> None:
    for scenario, figures in summarise(results).items():
        print(
            f"{scenario}: {figures['passed']}/{figures['runs']} passed, "
            f"{figures['converged']} converged, time to converge p50 "
            f"{_seconds(figures['converge_p50_s'])} max {_seconds(figures['converge_max_s'])}"
        )
    for failed in (r for r in results if not r.passed):
        print("\n".join(failed.problems()), end="\n\n")


def write(args: argparse.Namespace, results: Sequence[RunResult], seconds: float) -> None:
    document = {
        "at": time.time(),
        "seconds": round(seconds),
        "settings": {k: str(v) for k, v in vars(args).items() if k != "out"},
        "summary": summarise(results),
        "runs": [r.as_row() for r in results],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    results = asyncio.run(run_all(args))
    report(results)
    print(f"wrote {args.out}")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())

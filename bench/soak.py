"""Soak: a steady trickle plus periodic Zoho faults against one `orgsync run` for a while;
reports the RSS slope of the orgsync process and checks the target record by record.

    python -m bench.soak --minutes 30 [--rate 5] [--fault-every 60] [--broker 127.0.0.1:9092]
    python -m bench.soak --cluster [--cluster-port 9192] [--node-down-seconds 45] ...

Needs a Kafka broker (`scripts/local-kafka start`). With --cluster it starts its own 3-node
cluster instead (bench/local_cluster.py, topics at RF 3) and every other fault stops one node in
turn (0, 1, 2, ...) for --node-down-seconds, then starts it again. Runs on bench/deployment.py,
as the reliability suite (tests/integration/reliability) does. Writes bench/results/soak.json;
`python -m bench.reliability_report` puts it into docs/reliability.md. Exit 1 if the target is
not exact.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml

from bench.deployment import (
    ACCOUNTS_ROUTE,
    Orgsync,
    channels_ready,
    count,
    deploy,
    ingress_ready,
    insert_accounts,
    insist,
    mirror,
    org_config,
    patient_client,
    target_modules,
    until,
)
from bench.local_cluster import LocalCluster
from zoho_emulator import Emulator

REPO = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
FAULTS: list[tuple[str, Callable[[Emulator], None]]] = [
    ("30% 500s", lambda emu: _merge(emu, error_rate=0.3, error_status=500)),
    ("50% 429s", lambda emu: _merge(emu, throttle_rate=0.5)),
    ("2 s latency", lambda emu: _merge(emu, latency_ms=2000)),
    ("50% notifications dropped", lambda emu: _merge(emu, drop_notifications=0.5)),
    ("tokens revoked", lambda emu: [emu.state.tokens.revoke_org_access(o) for o in ("src", "tgt")]),
]


def _merge(emu: Emulator, **faults: float) -> None:
    for org in ("src", "tgt"):
        emu.state.orgs[org].faults.merge(faults)


def _clear(emu: Emulator) -> None:
    for org in ("src", "tgt"):
        emu.state.orgs[org].faults.clear()


@dataclass
class Fault:
    name: str
    apply: Callable[[], Coroutine[Any, Any, object]]
    clear: Callable[[], Coroutine[Any, Any, object]]
    seconds: float


def nth_fault(
    k: int, emu: Emulator, args: argparse.Namespace, cluster: LocalCluster | None
) -> Fault:
    """The k-th fault of the rotation: Zoho faults in turn, and with a cluster one node down after
    each of them (nodes 0, 1, 2, 0, ...)."""
    if cluster is not None and k % 2:
        n = k // 2 % cluster.nodes
        return Fault(
            f"node {n} down",
            lambda: asyncio.to_thread(cluster.stop_node, n),
            lambda: asyncio.to_thread(cluster.start_node, n),
            args.node_down_seconds,
        )
    name, apply = FAULTS[(k // 2 if cluster is not None else k) % len(FAULTS)]

    async def start() -> None:
        apply(emu)

    async def clear() -> None:
        _clear(emu)

    return Fault(name, start, clear, args.fault_seconds)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def slope_per_hour(samples: list[tuple[float, int]]) -> float:
    """Least-squares slope of RSS over time, in MiB per hour."""
    if len(samples) < 2:
        return 0.0
    xs = [t for t, _ in samples]
    ys = [r / MIB for _, r in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return (
        0.0
        if var == 0
        else sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var * 3600
    )


async def trickle(
    emu: Emulator,
    http: aiohttp.ClientSession,
    proc: Orgsync,
    args: argparse.Namespace,
    cluster: LocalCluster | None,
) -> tuple[int, list[str], list[tuple[float, int]]]:
    src = await patient_client(emu, "src", http)
    end = time.monotonic() + args.minutes * 60
    next_fault = time.monotonic() + args.fault_every
    created, faults, samples, n = 0, [], [], 0
    fault_end: float | None = None
    fault: Fault | None = None
    # A node's stop or start takes seconds: it runs beside the trickle, awaited before the next.
    pending: asyncio.Task[object] | None = None
    ids: list[str] = []
    while time.monotonic() < end:
        ids += await insert_accounts(src, range(created, created + args.rate))
        created += args.rate
        if len(ids) > 10:  # an update of an older record each second
            change = [{"id": ids[n % len(ids)], "Tier": f"t{n}"}]
            await insist(lambda change=change: src.update("Accounts", change))
        n += 1
        now = time.monotonic()
        if fault is None and now >= next_fault:
            if pending is not None:
                await pending
            fault = nth_fault(len(faults), emu, args, cluster)
            pending = asyncio.create_task(fault.apply())
            faults.append(fault.name)
            fault_end = now + fault.seconds
        elif fault is not None and fault_end is not None and now >= fault_end:
            if pending is not None:
                await pending
            pending = asyncio.create_task(fault.clear())
            fault, fault_end, next_fault = None, None, now + args.fault_every
        if n % 5 == 0:
            samples.append((time.monotonic(), rss_bytes(proc.pid)))
            if not proc.alive():
                raise RuntimeError(f"orgsync exited:\n{proc.log()}")
        await asyncio.sleep(1.0)  # the trickle's pace
    if pending is not None:
        await pending
    if fault is not None:
        await fault.clear()
    _clear(emu)
    return created, faults, samples


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    orgs = {
        "src": org_config(
            "src", "in", target_modules(Accounts={"api_name": "Tier", "data_type": "text"})
        ),
        "tgt": org_config(
            "tgt", "us", target_modules(Accounts={"api_name": "Tier", "data_type": "text"})
        ),
    }
    workdir = Path(tempfile.mkdtemp(prefix="orgsync-soak-"))
    cluster = LocalCluster(args.cluster_port, workdir / "kafka") if args.cluster else None
    try:
        if cluster is not None:
            await asyncio.to_thread(cluster.start)
            args.broker = cluster.bootstrap.replace(",", ";")  # Faust's list separator
        return await soak_on(args, orgs, workdir, cluster)
    finally:
        if cluster is not None:
            await asyncio.to_thread(cluster.stop)


async def soak_on(
    args: argparse.Namespace,
    orgs: dict[str, Any],
    workdir: Path,
    cluster: LocalCluster | None,
) -> dict[str, Any]:
    async with Emulator({"orgs": orgs}) as emu, aiohttp.ClientSession() as http:
        deployment = deploy(
            emu,
            args.broker,
            f"soak-{int(time.time())}",
            workdir,
            [ACCOUNTS_ROUTE],
            poll_seconds=args.poll_seconds,
        )
        if cluster is not None:
            raw = yaml.safe_load(deployment.config.read_text())
            raw["kafka"]["replication_factor"] = 3
            deployment.config.write_text(yaml.safe_dump(raw))
        proc = deployment.process("all")
        proc.start()
        try:
            await until(
                lambda: ingress_ready(http, deployment.ingress_url), 90, "the ingress", [proc]
            )
            await until(lambda: channels_ready(emu), 60, "the channel", [proc])
            created, faults, samples = await trickle(emu, http, proc, args, cluster)
            done = time.monotonic()
            await until(
                lambda: count(emu, "tgt", "Accounts") >= created and mirror(emu).exact,
                args.poll_seconds + 120,
                "convergence",
                [proc],
            )
            converge = time.monotonic() - done
        finally:
            deployment.stop_all()
        result = mirror(emu)
    bursts = f"{args.fault_seconds:g} s"
    if cluster is not None:
        bursts = f"Zoho {bursts}, node down {args.node_down_seconds:g} s"
    warm = samples[len(samples) // 5 :]  # after start-up and the first fills
    return {
        "minutes": args.minutes,
        "records": created,
        "faults": ", ".join(sorted(set(faults))) + f" ({len(faults)} bursts: {bursts})",
        "cluster": cluster is not None,
        "rss_start_mib": warm[0][1] / MIB if warm else 0.0,
        "rss_end_mib": warm[-1][1] / MIB if warm else 0.0,
        "rss_slope_mib_per_hour": slope_per_hour(warm),
        "exact": result.exact,
        "duplicates": result.duplicates,
        "missing": len(result.missing),
        "converge_s": converge,
        "at": time.time(),
        "logs": str(workdir),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=5, help="records created per second")
    parser.add_argument("--fault-every", type=float, default=60.0, help="seconds between faults")
    parser.add_argument("--fault-seconds", type=float, default=10.0, help="each fault's length")
    parser.add_argument("--poll-seconds", type=float, default=30.0, help="poller interval")
    parser.add_argument("--broker", default="127.0.0.1:9092")
    parser.add_argument("--cluster", action="store_true", help="own 3-node cluster, node faults")
    parser.add_argument("--cluster-port", type=int, default=9192, help="node N's broker: +N")
    parser.add_argument("--node-down-seconds", type=float, default=45.0)
    args = parser.parse_args()
    result = asyncio.run(soak(args))
    out = REPO / "bench" / "results" / "soak.json"
    out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    return 0 if result["exact"] else 1


if __name__ == "__main__":
    raise SystemExit(main())

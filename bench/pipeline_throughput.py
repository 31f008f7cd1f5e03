"""How fast is the pipeline itself? Records/s through fetch -> process -> sink at zero latency.

The emulator (two orgs, no latency) runs in this process, as the integration tests run it; the
real broker is the local Kafka; the worker is `orgsync run --role worker` as a subprocess. After
one warm-up record (the worker has its partitions, as in production), N Leads are created in the
source in 100-record inserts, then one hint per record is produced to the hints topic (what the
ingress does for a Notification callback). Measured: records/s from the first hint until the
target holds every record, upsert and fetch calls, records per upsert, the worker's peak RSS and
CPU seconds.

    .venv/bin/python bench/pipeline_throughput.py [--records 10000] [--partitions 8]
        [--workers 1] [--profile pyinstrument|cprofile] [--label before]

`--profile` runs the worker under the profiler: the full output goes to
bench/results/pipeline_profile.txt, the lines holding >= 2 % of the time to
pipeline_profile_summary.txt (profiling slows the worker: compare throughput without it).
Results: bench/results/pipeline_throughput.json (one entry per label, the latest run wins).
Target (issue 9): >= 5,000 records/s on a 2-core machine, RSS < 300 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import re
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.procstat import TreeSampler  # noqa: E402
from orgsync_kernel.topics import Topics  # noqa: E402
from zoho_emulator import Emulator  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SECRET = "bench-secret-0123456789abcdef"
ORGS = {"src": "in", "tgt": "us"}
# --fan-out: four targets, one answering in 2 s, one failing every call; the healthy ones
# are measured.
FAN_OUT = {"src": "in", "tgt": "us", "tgt2": "eu", "slow": "au", "down": "jp"}
SLOW, DOWN = "slow", "down"


def orgs_of(args: argparse.Namespace) -> dict[str, str]:
    return FAN_OUT if args.fan_out else ORGS


def healthy_targets(args: argparse.Namespace) -> list[str]:
    return [org for org in orgs_of(args) if org not in ("src", SLOW, DOWN)]


TARGET_RPS = 5_000
UPSERT = "POST /crm/v8/Leads/upsert"
FETCH = "GET /crm/v8/Leads"


def emulator_orgs(orgs: dict[str, str]) -> dict[str, Any]:
    return {
        name: {
            "dc": dc,
            "edition": "enterprise",
            "users": [{"email": f"admin@{name}.example", "name": "Admin"}],
            "clients": [
                {
                    "client_id": f"1000.{name.upper()}",
                    "client_secret": SECRET,
                    "refresh_tokens": [f"1000.refresh.{name}.{SECRET}"],
                }
            ],
        }
        for name, dc in orgs.items()
    }


def worker_config(
    path: Path,
    emu_url: str,
    broker: str,
    prefix: str,
    partitions: int,
    orgs: dict[str, str],
    state: str = "disk",
) -> Path:
    config: dict[str, Any] = {
        "kafka": {"broker": f"kafka://{broker}", "topic_prefix": prefix, "partitions": partitions},
        "ingress": {"listen": "127.0.0.1:0", "webhook_secret": "${HOOK_SECRET}"},
        "orgs": {
            name: {
                "dc": dc,
                "edition": "enterprise",
                "client_id": f"1000.{name.upper()}",
                "client_secret": "${CLIENT_SECRET}",
                "refresh_token": f"${{REFRESH_{name.upper()}}}",
                "api_url": emu_url,
                "accounts_url": emu_url,
            }
            for name, dc in orgs.items()
        },
        "sync": [
            {
                "source": "src",
                "target": target,
                "modules": {
                    "Leads": {
                        "match_field": "Email",
                        "owner": {"match": "email", "default": f"admin@{target}.example"},
                    }
                },
            }
            for target in orgs
            if target != "src"
        ],
    }
    if state == "memory":  # the worker's state in memory, as before issue 26
        config["worker"] = {"state_dir": False}
    path.write_text(yaml.safe_dump(config))
    return path


def worker_env(orgs: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, "HOOK_SECRET": SECRET, "CLIENT_SECRET": SECRET}
    env.update({f"REFRESH_{n.upper()}": f"1000.refresh.{n}.{SECRET}" for n in orgs})
    return env


def worker_argv(config: Path, profile: str | None, profile_out: Path) -> list[str]:
    run = [
        "-m",
        "orgsync.cli",
        "run",
        "--config",
        str(config),
        "--role",
        "worker",
        "--log-level",
        "warning",
    ]
    if profile == "pyinstrument":
        return [
            sys.executable,
            "-m",
            "pyinstrument",
            "-r",
            "text",
            "--show-all",
            "-o",
            str(profile_out),
            *run,
        ]
    if profile == "cprofile":
        return [sys.executable, "-m", "cProfile", "-o", str(profile_out) + ".pstats", *run]
    return [sys.executable, *run]


class Source:
    """Creates Leads in the source org through its API, like a user's integration would."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url, self.token = session, url, ""

    async def login(self) -> None:
        form = {
            "grant_type": "refresh_token",
            "client_id": "1000.SRC",
            "client_secret": SECRET,
            "refresh_token": f"1000.refresh.src.{SECRET}",
        }
        async with self.session.post(f"{self.url}/oauth/v2/token", data=form) as response:
            self.token = orjson.loads(await response.read())["access_token"]

    async def insert(self, rows: list[dict[str, Any]]) -> list[str]:
        headers = {"Authorization": f"Zoho-oauthtoken {self.token}"}
        async with self.session.post(
            f"{self.url}/crm/v8/Leads", headers=headers, data=orjson.dumps({"data": rows})
        ) as response:
            body = orjson.loads(await response.read())
        return [str(item["details"]["id"]) for item in body["data"]]


def lead(n: int, run: str) -> dict[str, Any]:
    return {
        "First_Name": "Ann",
        "Last_Name": f"Lead {n}",
        "Email": f"l{n}.{run}@example.com",
        "Company": f"Company {n % 97}",
        "Phone": f"+1555{n:07d}",
        "Lead_Source": "Web Download",
        "Lead_Status": "Not Contacted",
    }


async def send_hints(producer: AIOKafkaProducer, topic: str, ids: list[str]) -> None:
    now = time.time()
    futures = []
    for record_id in ids:
        key = f"src/Leads/{record_id}"
        value = orjson.dumps(
            {
                "org": "src",
                "module": "Leads",
                "id": record_id,
                "operation": "insert",
                "source": "notification",
                "received_at": now,
                "__faust": {"ns": "orgsync_kernel.events.Hint"},
            }
        )
        futures.append(await producer.send(topic, key=key.encode(), value=value))
    await asyncio.gather(*futures)


def calls(emu: Emulator, org: str, what: str) -> int:
    method = what.split(" ")[0]
    return sum(
        n
        for per_client in emu.state.orgs[org].stats.calls.values()
        for key, n in per_client.items()
        if key.endswith(what) and key.split(" ")[0] == method
    )


def target_count(emu: Emulator, targets: list[str]) -> int:
    """Records in the target that holds the fewest of them."""
    return min(len(emu.state.orgs[org].stores["Leads"].records) for org in targets)


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def wait_for(
    check: Any, within: float, what: str, worker: asyncio.subprocess.Process, log: Path
) -> None:
    deadline = time.monotonic() + within
    while not check():
        if worker.returncode is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not reached\n{tail(log)}")
        await asyncio.sleep(0.02)


async def sample(sampler: TreeSampler, worker: asyncio.subprocess.Process) -> None:
    while worker.returncode is None:
        sampler.sample()
        await asyncio.sleep(0.2)


async def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    prefix = f"bench-pipe-{run}"
    orgs, healthy = orgs_of(args), healthy_targets(args)
    async with Emulator({"orgs": emulator_orgs(orgs)}) as emu, aiohttp.ClientSession() as session:
        config = worker_config(
            workdir / "orgsync.yaml",
            emu.url,
            args.broker,
            prefix,
            args.partitions,
            orgs,
            args.state,
        )
        log = workdir / "worker.log"
        profile_out = RESULTS / "pipeline_profile.txt"
        workers: list[asyncio.subprocess.Process] = []
        with log.open("wb") as out:
            for n in range(args.workers):  # only the first one runs under the profiler
                workers.append(
                    await asyncio.create_subprocess_exec(
                        *worker_argv(config, args.profile if n == 0 else None, profile_out),
                        env=worker_env(orgs),
                        stdout=out,
                        stderr=out,
                    )
                )
        samplers = [TreeSampler(w.pid) for w in workers]
        sampling = [
            asyncio.create_task(sample(s, w)) for s, w in zip(samplers, workers, strict=True)
        ]
        worker = workers[0]
        source = Source(session, emu.url)
        await source.login()
        producer = AIOKafkaProducer(bootstrap_servers=args.broker, linger_ms=5)
        await producer.start()
        try:
            hints = Topics(prefix).hints
            await send_hints(producer, hints, await source.insert([lead(-1, run)]))
            await wait_for(
                lambda: target_count(emu, [o for o in orgs if o != "src"]) == 1,
                120,
                "warm-up record",
                worker,
                log,
            )
            low, spread = args.latency_ms * 4 // 5, args.latency_ms * 2 // 5  # L ± 20 %
            for org in orgs:  # Zoho's latency from here on (none for the warm-up)
                emu.state.orgs[org].faults.merge({"latency_ms": low, "latency_jitter_ms": spread})
            if args.fan_out:
                emu.state.orgs[SLOW].faults.merge({"latency_ms": 2000})
                emu.state.orgs[DOWN].faults.merge({"error_rate": 1.0, "error_status": 500})
            names = Topics(prefix)  # whichever group reads hints: the round loop's, or Faust's
            await group_stable(args.broker, [names.rounds_group, names.group], args.workers, 120)
            ids: list[str] = []
            for start in range(0, args.records, 100):
                count = min(100, args.records - start)
                ids += await source.insert([lead(n, run) for n in range(start, start + count)])
            upserts0, fetches0 = calls(emu, "tgt", UPSERT), calls(emu, "src", FETCH)
            cpu0 = tree_cpu(samplers)
            began = time.monotonic()
            await send_hints(producer, hints, ids)
            produced = time.monotonic() - began
            await wait_for(
                lambda: target_count(emu, healthy) == args.records + 1,
                args.timeout,
                "every record in the target",
                worker,
                log,
            )
            took = time.monotonic() - began
            cpu = tree_cpu(samplers) - cpu0
            messages = await messages_per_topic(args.broker, prefix)
        finally:
            await producer.stop()
            for each in workers:
                if each.returncode is None:
                    each.send_signal(signal.SIGTERM)
            codes = [await asyncio.wait_for(each.wait(), 60) for each in workers]
            for task in sampling:
                task.cancel()
            await delete_topics(args.broker, prefix)
        upserts = calls(emu, "tgt", UPSERT) - upserts0
        return {
            "label": args.label,
            "records": args.records,
            "partitions": args.partitions,
            "workers": args.workers,
            "seconds": round(took, 3),
            "records_per_s": round(args.records / took, 1),
            "hints_produced_in_s": round(produced, 3),
            "upsert_calls": upserts,
            "records_per_upsert": round(args.records / upserts, 1),
            "latency_ms": args.latency_ms,
            "targets": len(orgs) - 1,
            "measured_targets": healthy,
            # every message on the run's topics (the warm-up record too), per record synced
            "kafka_messages_per_record": {
                topic.removeprefix(prefix): round(n / (args.records + 1), 2)
                for topic, n in sorted(messages.items())
                if n
            },
            "fetch_calls": calls(emu, "src", FETCH) - fetches0,
            "worker_cpu_s": round(cpu, 2),
            "worker_peak_rss_mb": round(max(s.peak_rss_mb for s in samplers), 1),
            "worker_exit_code": max(codes, key=abs),
            "profile": args.profile,
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
                "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
            },
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }


def tree_cpu(samplers: list[TreeSampler]) -> float:
    for sampler in samplers:
        sampler.sample()
    return sum(sampler.cpu_seconds for sampler in samplers)


async def group_stable(broker: str, groups: list[str], members: int, within: float) -> None:
    """Wait until every worker has joined the consumer group that reads hints (the first of
    `groups` with members): a worker joining during the measurement would stop the others."""
    admin = AIOKafkaAdminClient(bootstrap_servers=broker)
    await admin.start()
    try:
        deadline = time.monotonic() + within
        while True:
            found = {}
            for name in groups:  # one at a time: each may have another coordinator
                try:
                    responses = await admin.describe_consumer_groups([name])
                except KafkaConnectionError:  # the broker dropped the connection: ask again
                    continue
                for response in responses:
                    for _, group, state, _, _, joined, *_ in response.groups:
                        found[group] = (state, len(joined))
            if any(s == ("Stable", members) for s in found.values()):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"groups not stable with {members} members: {found}")
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def messages_per_topic(broker: str, prefix: str) -> dict[str, int]:
    """How many messages each of the run's topics holds (end offsets; nothing is deleted or
    compacted away during a run)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=broker)
    consumer = AIOKafkaConsumer(bootstrap_servers=broker, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        topics = [t for t in await admin.list_topics() if t.startswith(prefix)]
        described = await admin.describe_topics(topics) if topics else []
        tps = [
            TopicPartition(info["topic"], p["partition"])
            for info in described
            for p in info["partitions"]
        ]
        ends = await consumer.end_offsets(tps) if tps else {}
    finally:
        await consumer.stop()
        await admin.close()
    totals: dict[str, int] = {}
    for tp, end in ends.items():
        totals[tp.topic] = totals.get(tp.topic, 0) + end
    return totals


async def delete_topics(broker: str, prefix: str) -> None:
    """The run's topics (ours and Faust's changelogs) go: a broker with thousands of topics
    answers every metadata request with all of them, which costs every client CPU."""
    admin = AIOKafkaAdminClient(bootstrap_servers=broker)
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


def refresh_doc(profiled: str | None) -> None:
    """The runs in pipeline_throughput.json and the areas of the latest cProfile (run
    `profiled`, or the last profiled one) into docs/benchmarks.md."""
    import pstats

    from bench.pipeline_doc import BEGIN, END, render, time_by_area
    from bench.report import refresh_section

    runs = json.loads((RESULTS / "pipeline_throughput.json").read_text())
    profile = RESULTS / "pipeline_profile.txt.pstats"
    label = profiled or next((k for k, r in runs.items() if r.get("profile") == "cprofile"), None)
    areas = None
    if label and profile.exists():
        areas = time_by_area(pstats.Stats(str(profile)).stats)  # type: ignore[attr-defined]
    measured = {k: r for k, r in runs.items() if not r.get("profile")}
    doc = RESULTS.parents[1] / "docs" / "benchmarks.md"
    doc.write_text(refresh_section(doc.read_text(), render(measured, areas, label), BEGIN, END))


def save(result: dict[str, Any]) -> Path:
    path = RESULTS / "pipeline_throughput.json"
    RESULTS.mkdir(parents=True, exist_ok=True)
    runs = json.loads(path.read_text()) if path.exists() else {}
    runs[result["label"]] = result
    path.write_text(json.dumps(runs, indent=2) + "\n")
    return path


def summarise_pyinstrument(full: Path, out: Path, share: float = 0.02) -> None:
    """The call tree's lines that hold at least `share` of the total time."""
    lines = full.read_text().splitlines()
    times = [re.search(r"(\d+\.\d+) ", line) for line in lines]
    total = max((float(m.group(1)) for m in times if m), default=0.0)
    kept = [
        line
        for line, m in zip(lines, times, strict=True)
        if m is None or float(m.group(1)) >= share * total
    ]
    out.write_text("\n".join(kept) + "\n")


def summarise_cprofile(pstats_path: Path, out: Path) -> None:
    import io
    import pstats

    text = io.StringIO()
    stats = pstats.Stats(str(pstats_path), stream=text)
    stats.sort_stats("cumulative").print_stats(60)
    stats.sort_stats("tottime").print_stats(40)
    out.write_text(text.getvalue())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument(
        "--broker",
        default=os.environ.get(
            "ORGSYNC_KAFKA_BROKER", f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}"
        ),
    )
    parser.add_argument("--profile", choices=("pyinstrument", "cprofile"), default=None)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes sharing the partitions (one per core)",
    )
    parser.add_argument(
        "--latency-ms",
        type=int,
        default=0,
        help="Zoho's answer time for both orgs during the measurement (jitter ±20 %%)",
    )
    parser.add_argument(
        "--fan-out",
        action="store_true",
        help="four targets: two healthy (measured), one answering in 2 s, one failing",
    )
    parser.add_argument("--label", default="latest")
    parser.add_argument(
        "--state", choices=("disk", "memory"), default="disk", help="where the worker keeps state"
    )
    parser.add_argument(
        "--doc", action="store_true", help="refresh the pipeline section of docs/benchmarks.md"
    )
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # topics appear with the worker
    with tempfile.TemporaryDirectory(prefix="orgsync-bench-") as tmp:
        result = asyncio.run(measure(args, Path(tmp)))
    if args.profile == "cprofile":
        summarise_cprofile(
            RESULTS / "pipeline_profile.txt.pstats", RESULTS / "pipeline_profile_summary.txt"
        )
    elif args.profile == "pyinstrument":
        summarise_pyinstrument(
            RESULTS / "pipeline_profile.txt", RESULTS / "pipeline_profile_summary.txt"
        )
    print(json.dumps(result, indent=2))
    saved = save(result)
    if args.doc:
        refresh_doc(args.label if args.profile == "cprofile" else None)
    verdict = "meets" if result["records_per_s"] >= TARGET_RPS else "misses"
    print(
        f"{result['records_per_s']:.0f} records/s ({verdict} the {TARGET_RPS}/s target), "
        f"{result['records_per_upsert']} records per upsert, "
        f"peak RSS {result['worker_peak_rss_mb']} MB; written to {saved}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

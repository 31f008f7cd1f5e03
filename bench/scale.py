"""How does a worker fare with a large synced history? (issue 26: state at scale)

The state of N synced records (fingerprints, links, and with --two-way the record states) is
produced in the real format straight to the state topics of a fresh prefix, as a deployment
that synced N records would hold them. Then `orgsync run --role worker` starts on that prefix,
and one new Lead is created and hinted: measured are the seconds from the start until that
record is in the target and the worker's RSS then, for three starts in a row:

    start       the first start (the store is built from the topics); kill -9 KILL_AFTER_S
                seconds after that first sync (a worker that ran a while, then crashed)
    after_kill  the start after that kill -9; SIGTERM after its first sync
    restart     the start after that clean stop

--state memory runs the worker with `worker.state_dir: false` (everything in memory, the
release before issue 26).

    .venv/bin/python -m bench.scale [--records 100000] [--state disk|memory] [--two-way]
        [--targets 1|2|3] [--join] [--static]

Results: bench/results/scale.json (one entry per label).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaProducer
from rocksdict import AccessType, Options, Rdict

from bench.deployment import (
    ORIGIN,
    Worker,
    org_config,
    patient_client,
    records,
    target_modules,
    worker_env,
    write_config,
)
from bench.procstat import TreeSampler
from connectors.kafka import Bulk, KafkaCluster, ensure_topics, partition_of
from orgsync_kernel.events import Hint, link_key, link_record, record_key
from orgsync_kernel.schema import HEADERS
from orgsync_kernel.topics import Topics
from zoho_emulator import Emulator

RESULTS = Path(__file__).resolve().parent / "results" / "scale.json"
PARTITIONS = 8
TARGETS = {"tgt": "us", "tgt2": "eu", "tgt3": "au"}
MODIFIED = "2026-01-01T10:00:00+00:00"
KILL_AFTER_S = 15.0  # the first start runs this long after its first sync, then is killed


def routes(two_way: bool, targets: list[str]) -> list[dict[str, Any]]:
    leads = {"Leads": {"match_field": ORIGIN, "fields": ["Last_Name", "Company", "Phone"]}}
    forth = [{"source": "src", "target": t, "modules": leads} for t in targets]
    return forth + ([{"source": "tgt", "target": "src", "modules": leads}] if two_way else [])


def state_messages(n: int, two_way: bool, targets: list[str]) -> dict[str, list[tuple[str, Any]]]:
    """The state of record n as the worker writes it (pipeline/sync, pipeline/worker/state)."""
    source, target = f"9{n:018d}", f"8{n:018d}"
    fingerprint = {"modified_time": MODIFIED, "content_hash": uuid.uuid4().hex}
    prints = [(record_key("src", "Leads", source), {f"src->{t}": fingerprint for t in targets})]
    forward = [
        (link_key("src", "Leads", source, t), f"{i + 8}{n:018d}") for i, t in enumerate(targets)
    ]
    states: list[tuple[str, Any]] = []
    if two_way:  # src is also a target: its records keep states, tgt's link back
        forward.append((link_key("tgt", "Leads", target, "src"), source))
        at = [1767261600, 0]
        for org, rid in (("src", source), ("tgt", target)):
            values = {name: uuid.uuid4().hex[:16] for name in ("Last_Name", "Company", "Phone")}
            versions = dict.fromkeys(values, at)
            states.append(
                (
                    record_key(org, "Leads", rid),
                    {"values": values, "versions": versions, "bases": {}, "edits": {}},
                )
            )
    return {"fingerprints": prints, "record_links": forward, "record_states": states}


def placed(kind: str, key: str) -> int:
    """The partition the worker keeps `key` of table `kind` in (pipeline/worker/state.py)."""
    return partition_of(link_record(key) if kind == "record_links" else key, PARTITIONS)


async def produce_state(
    broker: str, topics: Topics, count: int, two_way: bool, targets: list[str]
) -> float:
    cluster = KafkaCluster(broker)
    await ensure_topics(
        cluster, [topics.hints, topics.fetched, topics.decide, topics.changes], PARTITIONS
    )
    await ensure_topics(cluster, topics.record_tables(), PARTITIONS, compacted=True)
    await ensure_topics(cluster, [topics.links, topics.states], 1, compacted=True)
    producer = AIOKafkaProducer(bootstrap_servers=broker, linger_ms=20, max_batch_size=1 << 20)
    await producer.start()
    started = time.monotonic()
    names = {
        "fingerprints": topics.fingerprints,
        "record_links": topics.record_links,
        "record_states": topics.record_states,
    }
    try:
        for first in range(0, count, 20_000):
            bulk = Bulk(producer)
            for n in range(first, min(first + 20_000, count)):
                for kind, messages in state_messages(n, two_way, targets).items():
                    for key, value in messages:
                        part = placed(kind, key)
                        bulk.add(names[kind], part, key.encode(), orjson.dumps(value), HEADERS)
            await asyncio.gather(*await bulk.send())
    finally:
        await producer.stop()
    return time.monotonic() - started


def new_lead(record_id: str) -> Hint:
    """The notification of a Lead created in src."""
    return Hint(
        org="src",
        module="Leads",
        id=record_id,
        operation="insert",
        source="notification",
        received_at=time.time(),
    )


async def first_sync(emu: Emulator, broker: str, topics: Topics, worker: Worker) -> float:
    """Seconds from the worker's start until a new Lead created and hinted now is in tgt."""
    started = time.monotonic()
    worker.start()
    sampler = TreeSampler(worker.process.pid)  # type: ignore[union-attr]
    async with aiohttp.ClientSession() as session:
        src = await patient_client(emu, "src", session)
        [made] = await src.insert("Leads", [{"Last_Name": f"New {uuid.uuid4().hex[:6]}"}])
    producer = AIOKafkaProducer(bootstrap_servers=broker)
    await producer.start()
    hint = new_lead(str(made.id))
    await producer.send_and_wait(topics.hints, hint.dumps(), hint.key.encode())
    await producer.stop()
    while not any(r.get(ORIGIN) == str(made.id) for r in records(emu, "tgt", "Leads")):
        sampler.sample()
        if not worker.alive():
            raise RuntimeError(f"the worker exited:\n{worker.log()}")
        if time.monotonic() - started > 600:
            raise TimeoutError(f"no first sync within 600 s:\n{worker.log()}")
        await asyncio.sleep(0.1)
    return time.monotonic() - started


def store_bytes(state_dir: Path) -> dict[str, int]:
    """Bytes of keys and values per table (`fingerprints-3`, `links`, …) in a worker's store
    after a clean stop."""
    sizes: dict[str, int] = {}
    db = Rdict(str(state_dir / "store"), Options(raw_mode=True), access_type=AccessType.read_only())
    try:
        for key, value in db.items():
            raw, data = bytes(key), bytes(value)  # type: ignore[arg-type]
            name = raw.partition(b"\x00")[0].decode(errors="replace")
            sizes[name] = sizes.get(name, 0) + len(raw) + len(data)
    finally:
        db.close()
    return sizes


def held(tables: dict[str, int], partitions: set[int]) -> dict[str, int]:
    """What a worker that owns `partitions` keeps of these tables, per kind of table: its
    partitions of the partitioned ones, all of the others."""
    kept: dict[str, int] = {}
    for name, size in tables.items():
        kind, _, number = name.rpartition("-")
        if number.isdigit() and int(number) not in partitions:
            continue
        key = kind if number.isdigit() else name
        kept[key] = kept.get(key, 0) + size
    return kept


def assigned(log: str, topic: str) -> set[int]:
    """The partitions of `topic` a worker holds after its last rebalance (from its log)."""
    found: set[int] = set()
    for match in re.finditer(
        rf"partitions assigned.* topic={re.escape(topic)} partitions=([\d,-]+)", log
    ):
        found = {int(p) for p in match.group(1).split(",") if p != "-"}
    return found


async def trickle(emu: Emulator, broker: str, topics: Topics, seconds: float) -> list[float]:
    """A new Lead every 0.1 s for `seconds`, each hinted; returns each one's seconds from its
    creation until it is in tgt."""
    producer = AIOKafkaProducer(bootstrap_servers=broker)
    await producer.start()
    made: dict[str, float] = {}
    arrived: dict[str, float] = {}
    async with aiohttp.ClientSession() as session:
        src = await patient_client(emu, "src", session)
        ends = time.monotonic() + seconds
        while time.monotonic() < ends or len(arrived) < len(made):
            if time.monotonic() < ends:
                [new] = await src.insert("Leads", [{"Last_Name": f"T {uuid.uuid4().hex[:6]}"}])
                made[str(new.id)] = time.monotonic()
                hint = new_lead(str(new.id))
                await producer.send(topics.hints, hint.dumps(), hint.key.encode())
            now = time.monotonic()
            for row in records(emu, "tgt", "Leads"):
                origin = row.get(ORIGIN)
                if origin in made and origin not in arrived:
                    arrived[origin] = now
            if now > ends + 300:
                raise TimeoutError(f"{len(made) - len(arrived)} trickled records never arrived")
            await asyncio.sleep(0.1)
    await producer.stop()
    return [arrived[i] - made[i] for i in made]


async def join(
    emu: Emulator, broker: str, topics: Topics, config: Path, env: dict[str, str], workdir: Path
) -> dict[str, Any]:
    """A worker runs; a second one joins while records trickle in: the worst latency of a
    record meanwhile (the pause), then what each worker holds of the single worker's store
    (its partitions of the partitioned tables, and the shared ones)."""
    tables = store_bytes(workdir / "state" / "worker-0")  # the worker alone, stopped cleanly
    alone = sum(tables.values())
    first = Worker(config, env, workdir, log_name="worker-join-1.log")
    await first_sync(emu, broker, topics, first)
    second = Worker(config, env, workdir, log_name="worker-join-2.log")
    second.start()
    latencies = await trickle(emu, broker, topics, 30.0)
    owned = [assigned(w.log(chars=None), topics.hints) for w in (first, second)]
    for worker in (first, second):
        await worker.terminate()
    shares = [held(tables, partitions) for partitions in owned]
    return {
        "join_worst_latency_s": round(max(latencies), 2),
        "join_median_latency_s": round(sorted(latencies)[len(latencies) // 2], 2),
        "single_store_mb": round(alone / 1e6, 1),
        "partitions": [sorted(p) for p in owned],
        "shares": [round(sum(s.values()) / alone, 3) for s in shares],
        "share_tables_mb": [{k: round(v / 1e6, 1) for k, v in s.items()} for s in shares],
    }


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


async def run(args: argparse.Namespace) -> dict[str, Any]:
    prefix = f"scale-{uuid.uuid4().hex[:8]}"
    topics = Topics(prefix)
    targets = list(TARGETS)[: args.targets]
    orgs = {
        "src": org_config("src", "in", target_modules()),
        **{t: org_config(t, TARGETS[t], target_modules()) for t in targets},
    }
    produced = await produce_state(args.broker, topics, args.records, args.two_way, targets)
    workdir = Path(tempfile.mkdtemp(prefix="orgsync-scale-"))
    overrides: dict[str, Any] = {
        "kafka": {
            "broker": f"kafka://{args.broker}",
            "topic_prefix": prefix,
            "partitions": PARTITIONS,
        }
    }
    if args.state == "memory":
        overrides["worker"] = {"state_dir": False}
    else:
        overrides["worker"] = {"state_dir": str(workdir / "state")}
    if args.static:  # static membership: a restarted worker takes its partitions back at once
        overrides["worker"] = overrides["worker"] | {"instance_id": "scale-worker"}
    result: dict[str, Any] = {
        "records": args.records,
        "state": args.state,
        "two_way": args.two_way,
        "targets": args.targets,
        "static": args.static,
        "produce_s": round(produced, 1),
    }
    async with Emulator({"orgs": orgs}) as emu:
        config = write_config(
            workdir / "orgsync.yaml",
            emu.url,
            args.broker,
            prefix,
            ("src", *targets),
            routes(args.two_way, targets),
            **overrides,
        )
        env = {**worker_env(("src", *targets)), "XDG_STATE_HOME": str(workdir / "xdg")}
        for phase in ("start", "after_kill", "restart"):
            worker = Worker(config, env, workdir, log_name=f"worker-{phase}.log")
            seconds = await first_sync(emu, args.broker, topics, worker)
            result[f"{phase}_to_first_sync_s"] = round(seconds, 1)
            result[f"{phase}_rss_mb"] = round(rss_mb(worker.process.pid), 1)  # type: ignore[union-attr]
            if phase == "start":
                await asyncio.sleep(KILL_AFTER_S)
                worker.kill()
            else:
                await worker.terminate()
        if args.join:
            result |= await join(emu, args.broker, topics, config, env, workdir)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--state", choices=("disk", "memory"), default="disk")
    parser.add_argument("--two-way", action="store_true")
    parser.add_argument("--targets", type=int, choices=(1, 2, 3), default=1)
    parser.add_argument(
        "--join", action="store_true", help="then a second worker joins: pause and shares (disk)"
    )
    parser.add_argument(
        "--static",
        action="store_true",
        help="worker.instance_id set: after the kill -9, no wait for the killed member's session",
    )
    parser.add_argument(
        "--broker", default=os.environ.get("ORGSYNC_KAFKA_BROKER", "127.0.0.1:9092")
    )
    args = parser.parse_args()
    if args.static and args.join:
        parser.error("--static gives the worker one instance id: not with a second worker (--join)")
    result = asyncio.run(run(args))
    result |= {"at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": platform.node()}
    route = "two-way" if args.two_way else "one-way"
    label = f"{args.records}-{args.state}-{route}" + (
        f"-x{args.targets}" if args.targets > 1 else ""
    )
    label += "-static" if args.static else ""
    print(label, json.dumps(result))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    saved = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    saved[label] = result
    RESULTS.write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()

"""Scenario 8: on a 3-node cluster (replication 3, min ISR 2) the node leading the busiest
partition stops in the middle of a sync and comes back; then the whole cluster restarts."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.deployment import (
    ACCOUNTS_ROUTE,
    Deployment,
    MakeDeployment,
    count,
    insert_accounts,
    mirror,
    patient_client,
    until,
)
from tests.support.cluster import LocalCluster
from tests.support.reliability import (
    QUICK_SINK,
    Row,
    converged,
    paced_accounts,
    record_row,
    scaled,
    start_receiving,
    topic_count,
    webhook,
)
from zoho_emulator import Emulator


async def busiest_partition(cluster: LocalCluster, topic: str) -> int:
    """The partition of `topic` holding the most messages."""
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=cluster.bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    return max(ends, key=lambda tp: ends[tp]).partition


def cluster_kafka(cluster: LocalCluster, prefix: str) -> dict[str, Any]:
    brokers = ";".join(f"kafka://{address}" for address in cluster.bootstrap.split(","))
    return {
        "broker": brokers,
        "topic_prefix": prefix,
        "partitions": 4,
        "replication_factor": 3,
        "min_insync_replicas": 2,
    }


class Statuses:
    """The ingress's answers to a webhook, asked every 0.2 s while a fault lasts."""

    def __init__(self, session: aiohttp.ClientSession, deployment: Deployment) -> None:
        self.session, self.url = session, deployment.ingress_url
        self.seen: list[int] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._ask())

    async def stop(self) -> list[int]:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        return self.seen

    async def _ask(self) -> None:
        while True:
            self.seen.append(await webhook(self.session, self.url, "1"))
            await asyncio.sleep(0.2)  # pacing the probe, not waiting for an effect


async def test_a_lost_leader_and_a_cluster_restart_lose_and_duplicate_nothing(
    kafka_cluster: LocalCluster,
    emu: Emulator,
    make_deployment: MakeDeployment,
    session: aiohttp.ClientSession,
    unique_name: str,
) -> None:
    total = scaled(5000, 1000)
    more = 100  # created while the whole cluster is down
    deployment = make_deployment(
        [ACCOUNTS_ROUTE],
        broker=kafka_cluster.bootstrap.split(",")[0],
        kafka=cluster_kafka(kafka_cluster, unique_name),
        poll_seconds=5,
        sink=QUICK_SINK,
    )
    orgsync = deployment.process("all")
    await start_receiving(orgsync, deployment, emu, session)
    src = await patient_client(emu, "src", session)
    load = paced_accounts(src, total)  # about 30 s: before, during and after the failover
    await until(lambda: count(emu, "tgt", "Accounts") >= total // 4, 90, "a quarter", [orgsync])
    partition = await busiest_partition(kafka_cluster, deployment.topic("hints"))
    node = await kafka_cluster.leader_of(deployment.topic("changes"), partition)
    assert node is not None
    statuses = Statuses(session, deployment)
    statuses.start()
    await asyncio.to_thread(kafka_cluster.stop_node, node)
    stopped_with = count(emu, "tgt", "Accounts")
    try:
        await until(
            lambda: count(emu, "tgt", "Accounts") >= stopped_with + total // 4,
            90,
            "a quarter more written with two nodes of three",
            [orgsync],
        )
    finally:
        await asyncio.to_thread(kafka_cluster.start_node, node)
    during_failover = await statuses.stop()
    await load
    converge, why = await converged(
        lambda: count(emu, "tgt", "Accounts") >= total, 180, "every record", [orgsync]
    )
    after_failover = mirror(emu)

    await asyncio.to_thread(kafka_cluster.stop)
    await insert_accounts(src, range(total, total + more))
    down_status = await webhook(session, deployment.ingress_url, "1")
    await asyncio.to_thread(kafka_cluster.start)
    restarted = time.monotonic()
    converge_restart, why_restart = await converged(
        lambda: count(emu, "tgt", "Accounts") >= total + more,
        180,
        "the records created while the cluster was down",
        [orgsync],
    )
    result = mirror(emu)
    dlq = await topic_count(kafka_cluster.bootstrap, deployment.topic("dlq"))
    checked = await deployment.cli("check")  # every topic at replication 3 and min ISR 2
    refused = sorted(set(during_failover) - {200})
    record_row(
        Row(
            scenario="8. 3-node cluster: leader lost, then the whole cluster restarted",
            passed=(
                after_failover.exact
                and result.exact
                and dlq == 0
                and set(during_failover) <= {200, 503}
                and converge_restart is not None
            ),
            load=f"{total:,} Accounts created over ~30 s, {more} more while the cluster was down",
            faults=(
                f"node {node} (leader of changes partition {partition}, the busiest) stopped with "
                f"{stopped_with}/{total} written, started after a quarter more; ingress answered "
                f"{len(during_failover)} webhooks meanwhile, {refused or 'none'} refused; then all "
                f"3 nodes stopped and started (ingress {down_status} while down)"
            ),
            expected=result.expected,
            found=result.found,
            duplicates=result.duplicates,
            dlq=dlq,
            converge_s=None if converge_restart is None else round(time.monotonic() - restarted, 1),
        )
    )
    assert converge is not None, why
    assert after_failover.exact, (after_failover.missing[:5], after_failover.duplicates)
    assert set(during_failover) <= {200, 503}, during_failover
    assert converge_restart is not None, why_restart
    assert not result.missing and not result.wrong, (result.missing[:5], result.wrong[:5])
    assert result.duplicates == 0 and result.found == result.expected == total + more
    assert down_status == 503
    assert dlq == 0
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "replication 3 and min ISR 2" in checked.stdout

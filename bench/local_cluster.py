"""A local Kafka cluster run by `KAFKA_NODES=3 scripts/local-kafka`: the soak's broker faults
(bench/soak.py --cluster) and the `kafka_cluster` test fixture (tests/support/cluster.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "local-kafka"


class LocalCluster:
    """A cluster of `nodes` nodes; node N's broker id is N and it listens on `port + N`."""

    def __init__(self, port: int, home: Path | None = None, nodes: int = 3) -> None:
        self.port, self.home, self.nodes = port, home, nodes
        self.bootstrap = ",".join(f"127.0.0.1:{port + n}" for n in range(nodes))

    def run(self, *args: str, check: bool = True) -> str:
        """One `local-kafka` command on this cluster; what it printed."""
        env = {
            **os.environ,
            "KAFKA_NODES": str(self.nodes),
            "KAFKA_PORT": str(self.port),
        }
        for name in ("KAFKA_CONTROLLER_PORT", "KAFKA_SECURITY", "KAFKA_HOME_DIR"):
            env.pop(name, None)
        if self.home is not None:  # else the script's .local/kafka-$PORT-nodeN
            env["KAFKA_HOME_DIR"] = str(self.home)
        done = subprocess.run([SCRIPT, *args], env=env, capture_output=True, text=True)
        if check and done.returncode != 0:
            raise RuntimeError(f"local-kafka {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout + done.stderr

    def start(self) -> None:
        self.run("start")

    def stop(self) -> None:
        self.run("stop")

    def start_node(self, n: int) -> None:
        """Starts node n; returns once it serves metadata again."""
        self.run("start-node", str(n))

    def stop_node(self, n: int) -> None:
        """Stops node n (SIGTERM, a controlled shutdown); returns once its process is gone."""
        self.run("stop-node", str(n))

    def status(self) -> str:
        return self.run("status", check=False)

    def node_of_port(self, port: int) -> int:
        return port - self.port

    async def leader_of(self, topic: str, partition: int) -> int | None:
        """The node leading the partition, per the metadata of any live node (None: no leader)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
        await admin.start()
        try:
            brokers = {b["node_id"]: b["port"] for b in (await admin.describe_cluster())["brokers"]}
            [described] = await admin.describe_topics([topic])
        finally:
            await admin.close()
        leader = next(p["leader"] for p in described["partitions"] if p["partition"] == partition)
        return None if leader not in brokers else self.node_of_port(brokers[leader])

"""A 3-node KRaft cluster for failover tests (a plugin that tests/conftest.py registers), run by
`KAFKA_NODES=3 scripts/local-kafka` through bench/local_cluster.py. Brokers on
ORGSYNC_KAFKA_CLUSTER_PORT+N, controllers on that +100+N; without the variable a base port whose
six ports are free now, so that two suites on one machine do not both take 9192 (the second
one's nodes died on the bind while the first one's cluster answered for them)."""

from __future__ import annotations

import os
import random
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.local_cluster import LocalCluster


@pytest.fixture(scope="session")
def kafka_cluster() -> Iterator[LocalCluster]:
    """A running 3-node cluster (RF 3 and min ISR 2 by default) under a temporary home, stopped
    at the end of the session, also when a test failed or the start did."""
    chosen = os.environ.get("ORGSYNC_KAFKA_CLUSTER_PORT")
    port = int(chosen) if chosen else free_cluster_port()
    cluster = LocalCluster(port, Path(tempfile.mkdtemp(prefix="orgsync-kafka-cluster-")))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def free_cluster_port(nodes: int = 3, candidates: range = range(20000, 31000, 7)) -> int:
    """A base port whose brokers (base+N) and controllers (base+100+N) nothing listens on now,
    tried in a random order."""
    for base in random.sample(candidates, len(candidates)):
        ports = [base + n for n in range(nodes)] + [base + 100 + n for n in range(nodes)]
        if all(port_free(p) for p in ports):
            return base
    raise RuntimeError(f"no free ports for a {nodes}-node cluster in {candidates}")


def port_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:`port` (a bind succeeds)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True

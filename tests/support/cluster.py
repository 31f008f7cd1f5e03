"""A 3-node KRaft cluster for failover tests (a plugin that tests/conftest.py registers), run by
`KAFKA_NODES=3 scripts/local-kafka` through bench/local_cluster.py. Brokers on
ORGSYNC_KAFKA_CLUSTER_PORT+N (default 9192, clear of the CI broker on 9092), controllers on that
+100+N."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.local_cluster import LocalCluster


@pytest.fixture(scope="session")
def kafka_cluster() -> Iterator[LocalCluster]:
    """A running 3-node cluster (RF 3 and min ISR 2 by default) under a temporary home, stopped
    at the end of the session, also when a test failed or the start did."""
    port = int(os.environ.get("ORGSYNC_KAFKA_CLUSTER_PORT", "9192"))
    cluster = LocalCluster(port, Path(tempfile.mkdtemp(prefix="orgsync-kafka-cluster-")))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()

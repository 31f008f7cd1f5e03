"""The deployment's shared count of API credits, without Kafka: what a process adds up."""

from __future__ import annotations

from connectors.kafka.cluster import KafkaCluster
from connectors.kafka.credit_share import CreditShare


class Clock:
    now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_share_sums_the_other_processes_buckets_within_the_window() -> None:
    t = Clock()
    share = CreditShare(KafkaCluster("unused:9092"), "p.credits", clock=t)
    minute = int(t.now) // 60
    share.table.base.update(
        {
            "src|other": {str(minute): 4, str(minute - 5): 3, str(minute - 24 * 60 - 1): 100},
            "tgt|other": {str(minute): 50},
            f"src|{share.process}": {str(minute): 7},  # this process's own, published
        }
    )
    share.record("src", 2)
    assert share.others("src") == 7  # 4 + 3; the old bucket, the other org and its own: not
    assert share.own == {"src": {minute: 2}}

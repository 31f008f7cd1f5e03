"""The deployment's shared count of API credits, without Kafka: what a process adds up."""

from __future__ import annotations

from connectors.kafka.cluster import KafkaCluster
from connectors.kafka.credit_share import PRESENCE_SECONDS, CreditShare, presence_of


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
    assert share.others_spent("src") == [((minute - 4) * 60.0, 3), ((minute + 1) * 60.0, 4)]


def test_a_share_hears_the_other_processes_present_within_a_while() -> None:
    t = Clock()
    share = CreditShare(KafkaCluster("unused:9092"), "p.credits", clock=t)
    share.table.base.update(
        {
            "src|w1|slots": [0.5, t.now - 1, None, "worker"],
            "src|bf|slots": [0.25, t.now - 2, t.now + 600, "backfill"],
            "src|gone|slots": [0.5, t.now - PRESENCE_SECONDS - 1, None, "worker"],
            f"src|{share.process}|slots": [0.25, t.now, None, "plan"],  # its own
            "tgt|w1|slots": [0.5, t.now, None, "worker"],
            "src|w1": {str(int(t.now) // 60): 5},  # credit buckets are no presence
        }
    )
    present = share.others_present("src")
    assert sorted((p.process, p.claim, p.role) for p in present) == [
        ("bf", 0.25, "backfill"),
        ("w1", 0.5, "worker"),
    ]
    assert presence_of("src|a|b|slots", [1, 2, None, "worker"]) is not None  # `|` in a name
    assert presence_of("src|w1|slots", {"1": 5}) is None
    assert share.others("src") == 5  # presence entries are never counted as credits

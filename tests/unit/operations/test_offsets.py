"""Lag arithmetic, the pipeline's group and topics, and the credits collector (no I/O)."""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry

from orgsync_kernel.settings import Settings
from orgsync_operations.monitoring import CreditsCollector
from orgsync_operations.offsets import lag_by_topic
from pipeline.worker.app import create_pipeline

ORG = {
    "dc": "in",
    "edition": "enterprise",
    "client_id": "1000.X",
    "client_secret": "org-client-secret",
    "refresh_token": "org-refresh-token",
}


def settings() -> Settings:
    return Settings.model_validate(
        {
            "kafka": {"topic_prefix": "acme"},
            "ingress": {"webhook_secret": "hook-secret-0123456789"},
            "orgs": {"a": ORG, "b": ORG, "c": ORG},
            "sync": [
                {"source": "a", "target": "b", "modules": {"Leads": {"match_field": "Email"}}},
                {"source": "a", "target": "c", "modules": {"Leads": {"match_field": "Email"}}},
            ],
        }
    )


def tp(topic: str, partition: int) -> TopicPartition:
    return TopicPartition(topic, partition)


def test_lag_is_end_minus_committed_summed_per_topic() -> None:
    ends = {tp("x", 0): 10, tp("x", 1): 5, tp("y", 0): 7}
    starts = {tp("x", 0): 0, tp("x", 1): 2, tp("y", 0): 3}
    committed = {tp("x", 0): 4, tp("x", 1): -1}  # x/1 never committed, y/0 unknown to the group
    assert lag_by_topic(ends, starts, committed) == {"x": 6 + 3, "y": 4}


def test_lag_is_never_negative() -> None:
    assert lag_by_topic({tp("x", 0): 3}, {}, {tp("x", 0): 5}) == {"x": 0}


def test_group_and_topics_are_those_of_the_faust_app() -> None:
    config = settings()
    pipeline = create_pipeline(config)
    assert config.topics.group == pipeline.app.conf.id
    agents_read = config.topics.consumers(config.targets)[config.topics.group]
    assert set(agents_read) == set(pipeline.topic_names()) - {config.topics.dlq}


class Ledger:
    def __init__(self, budget: int, used: int) -> None:
        self.budget, self._used, self.reserve = budget, used, budget // 10
        self.waiters, self.waited = 0, 0.0

    def remaining(self) -> int:
        return self.budget - self._used


class Client:
    def __init__(self, budget: int, used: int) -> None:
        self.ledger = Ledger(budget, used)


def test_credits_left_are_read_at_scrape_time() -> None:
    registry = CollectorRegistry()
    clients: dict[str, Any] = {"a": Client(1000, 10), "b": Client(500, 0)}
    registry.register(CreditsCollector(clients))
    assert registry.get_sample_value("orgsync_zoho_credits_remaining", {"org": "a"}) == 990
    clients["a"].ledger._used = 400
    assert registry.get_sample_value("orgsync_zoho_credits_remaining", {"org": "a"}) == 600
    assert registry.get_sample_value("orgsync_zoho_credits_budget", {"org": "b"}) == 500
    assert registry.get_sample_value("orgsync_zoho_credits_reserve", {"org": "b"}) == 50
    clients["b"].ledger.waiters, clients["b"].ledger.waited = 2, 12.5
    assert registry.get_sample_value("orgsync_credit_waiters", {"org": "b"}) == 2
    assert registry.get_sample_value("orgsync_credit_wait_seconds_total", {"org": "b"}) == 12.5

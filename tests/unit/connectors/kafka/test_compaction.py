"""A broker that refuses to alter a compacted topic's settings costs a warning naming the
topic and the settings, not the start (connectors/kafka/compaction.py)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from connectors.kafka.compaction import DYNAMIC_TOPIC_CONFIG, align

TOPIC_AUTHORIZATION_FAILED = 29
DEFAULT_CONFIG = 5


class Response:
    API_VERSION = 1

    def __init__(self, resources: list[Any]) -> None:
        self.resources = resources


class RefusingAdmin:
    """Describes a topic with the broker's default compaction; refuses every alter."""

    def __init__(self) -> None:
        self.altered: list[Any] = []

    async def describe_configs(self, resources: list[Any]) -> list[Response]:
        entries = [
            ("cleanup.policy", "compact", False, DYNAMIC_TOPIC_CONFIG, False, []),
            ("retention.ms", "86400000", False, DYNAMIC_TOPIC_CONFIG, False, []),
            ("segment.ms", "604800000", False, DEFAULT_CONFIG, False, []),
            ("min.cleanable.dirty.ratio", "0.5", False, DEFAULT_CONFIG, False, []),
        ]
        return [Response([(0, None, 2, r.name, entries) for r in resources])]

    async def alter_configs(self, resources: list[Any]) -> list[Response]:
        self.altered += resources
        return [Response([(TOPIC_AUTHORIZATION_FAILED, "denied", 2, r.name) for r in resources])]


async def test_a_refused_alter_is_a_warning_and_sends_the_topics_own_settings_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    admin = RefusingAdmin()
    with caplog.at_level(logging.WARNING):
        await align(admin, ["p.links"])  # type: ignore[arg-type]
    [sent] = admin.altered
    assert sent.configs == {  # the topic's own settings kept, orgsync's added
        "cleanup.policy": "compact",
        "retention.ms": "86400000",
        "segment.ms": "3600000",
        "min.cleanable.dirty.ratio": "0.1",
    }
    [warning] = [r.getMessage() for r in caplog.records]
    assert "topic=p.links" in warning and "segment.ms=3600000" in warning
    assert "TopicAuthorizationFailedError" in warning

"""How compacted topics are set (`COMPACTION`), also those that existed before this release.

`ensure_topics(..., compacted=True)` (connectors/kafka/cluster.py) creates a topic with
`COMPACTION`, and brings one that exists already (created by an earlier release, or by hand)
to it (`align`), at every start; `orgsync check` reports those that differ (`differing`).

aiokafka has no IncrementalAlterConfigs, and AlterConfigs replaces every dynamic config of a
topic: `align` reads the topic's own settings first (those set on the topic, not inherited
from the broker) and sends them back with the changed ones, only when something differs. A
broker that refuses (no DESCRIBE_CONFIGS or ALTER_CONFIGS ACL) costs a warning, not the start.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, for_code

log = logging.getLogger(__name__)
# A state topic is read from its start on a fresh start: compaction must keep about one message
# per key. The broker never cleans the active segment, and by default rolls it only after 7
# days or 1 GiB, so a week of updates would be read back; an hourly roll and a cleaner that
# starts at 10 % of superseded messages keep a restore near one message per key.
COMPACTION = {
    "cleanup.policy": "compact",
    "segment.ms": str(3_600_000),
    "min.cleanable.dirty.ratio": "0.1",
}
DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs v1+: a setting made on the topic itself


@dataclass(frozen=True)
class TopicConfigs:
    """A topic's effective settings, and those set on the topic (an alter must send them all
    back: a value None is a sensitive one the broker does not show)."""

    effective: dict[str, str | None]
    own: dict[str, str | None]


def differing(effective: Mapping[str, str | None]) -> dict[str, str]:
    """The settings of `COMPACTION` that `effective` does not have, with their wanted values."""
    return {name: value for name, value in COMPACTION.items() if effective.get(name) != value}


def shown(settings: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}={value}" for name, value in sorted(settings.items()))


async def describe(
    admin: AIOKafkaAdminClient, topics: Sequence[str], names: Sequence[str] | None = None
) -> dict[str, TopicConfigs]:
    """The settings `names` (None: all) of each of `topics` the broker describes; a topic it
    refuses to describe is logged and left out."""
    resources = [
        ConfigResource(ConfigResourceType.TOPIC, t, dict.fromkeys(names) if names else None)
        for t in topics
    ]
    found: dict[str, TopicConfigs] = {}
    for response in await admin.describe_configs(resources):
        for code, message, _type, name, entries in response.resources:
            if code:
                log.warning("cannot read the settings of topic=%s: %s", name, _error(code, message))
                continue
            found[name] = _configs(entries, response.API_VERSION)
    return found


def _configs(entries: Sequence[Any], version: int) -> TopicConfigs:
    effective = {entry[0]: entry[1] for entry in entries}
    if version == 0:  # (name, value, read_only, is_default, is_sensitive): no source
        own = {entry[0]: entry[1] for entry in entries if not entry[3]}
    else:  # (name, value, read_only, source, is_sensitive, synonyms)
        own = {entry[0]: entry[1] for entry in entries if entry[3] == DYNAMIC_TOPIC_CONFIG}
    return TopicConfigs(effective, own)


async def align(admin: AIOKafkaAdminClient, topics: Sequence[str]) -> None:
    """Bring each of these existing compacted topics to `COMPACTION`; log what changed."""
    if not topics:
        return
    try:
        described = await describe(admin, topics)
        for topic, configs in described.items():
            await _align(admin, topic, configs)
    except KafkaError as error:
        log.warning(
            "compaction settings of %s not checked: %s", ", ".join(topics), type(error).__name__
        )


async def _align(admin: AIOKafkaAdminClient, topic: str, configs: TopicConfigs) -> None:
    changes = differing(configs.effective)
    if not changes:
        return
    if any(value is None for value in configs.own.values()):
        log.warning(
            "compaction settings of topic=%s not changed (%s wanted): it has a sensitive "
            "setting this alter would drop; use kafka-configs --alter",
            topic,
            shown(changes),
        )
        return
    wanted = {**configs.own, **changes}
    [response] = await admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic, wanted)]
    )
    for code, message, _type, _name in response.resources:
        if code:
            log.warning(
                "compaction settings of topic=%s not changed (%s wanted): %s",
                topic,
                shown(changes),
                _error(code, message),
            )
            return
    was = {name: configs.effective.get(name) for name in changes}
    log.info(
        "compaction settings of topic=%s changed: %s (was %s)", topic, shown(changes), shown(was)
    )


def _error(code: int, message: str | None) -> str:
    return f"{for_code(code).__name__} {message or ''}".strip()

"""`orgsync check` against two emulated orgs and the real Kafka broker: one test per failure."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from connectors.kafka.cluster import KafkaCluster, ensure_topics
from orgsync_kernel.topics import Topics
from tests.support.cli_check import (
    GOOD_LEADS,
    Result,
    assert_no_secret,
    closed_port,
    emulator_config,
    run_cli,
    secrets_env,
    write_config,
)
from zoho_emulator import Emulator


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator(emulator_config(), host="127.0.0.1", port=0) as emu:
        yield emu


async def check(config: Path, *extra: str, **env: str) -> Result:
    result = await run_cli("check", "--config", str(config), *extra, env=secrets_env(**env))
    assert_no_secret(result)
    return result


async def test_all_good(emulator: Emulator, kafka_broker: str, tmp_path: Path) -> None:
    result = await check(write_config(tmp_path, emulator.url, kafka_broker))

    assert result.code == 0, result.output
    for org in ("src", "dst"):
        assert " ok " in result.row("credentials", org)
        scopes = result.row("scopes", org)
        assert " ok " in scopes and "ZohoCRM.users.READ" in scopes
    assert "ZohoCRM.modules.leads.READ" in result.row("scopes", "src")
    kafka = result.row("kafka", f"kafka://{kafka_broker}")
    assert " ok " in kafka and "cluster" in kafka
    for name in ("module", "fields", "match_field", "owner"):
        assert " ok " in result.row(name, "src->dst/Leads"), result.output
    assert "is unique" in result.row("match_field", "src->dst/Leads")
    assert "sales@dst.example is an active user" in result.row("owner", "src->dst/Leads")
    assert "0 failed" in result.stdout
    assert " ok " in result.row("kafka_topics", "orgsync")


async def test_bad_credentials(emulator: Emulator, kafka_broker: str, tmp_path: Path) -> None:
    wrong = "not-the-dst-client-secret-0000000000"
    result = await check(
        write_config(tmp_path, emulator.url, kafka_broker), DST_CLIENT_SECRET=wrong
    )

    assert result.code == 1
    row = result.row("credentials", "dst")
    assert " FAIL " in row and "invalid_client_secret" in row
    assert " ok " in result.row("credentials", "src")
    assert " skip " in result.row("module", "src->dst/Leads")
    assert wrong not in result.output


async def test_revoked_refresh_token(emulator: Emulator, kafka_broker: str, tmp_path: Path) -> None:
    result = await check(
        write_config(tmp_path, emulator.url, kafka_broker),
        SRC_REFRESH_TOKEN="1000.revoked.refresh-token",
    )

    assert result.code == 1
    row = result.row("credentials", "src")
    assert " FAIL " in row and "refresh token was refused" in row
    assert "orgsync auth exchange --org src" in row


async def test_missing_module(emulator: Emulator, kafka_broker: str, tmp_path: Path) -> None:
    modules = {"Leads": GOOD_LEADS, "Vendors": {"match_field": "Origin_Record_Id"}}
    result = await check(write_config(tmp_path, emulator.url, kafka_broker, modules))

    assert result.code == 1
    assert " ok " in result.row("module", "src->dst/Leads")
    row = result.row("module", "src->dst/Vendors")
    assert " FAIL " in row and "module Vendors does not exist in src" in row


async def test_missing_match_field(emulator: Emulator, kafka_broker: str, tmp_path: Path) -> None:
    leads = {**GOOD_LEADS, "match_field": "External_Key"}
    result = await check(write_config(tmp_path, emulator.url, kafka_broker, {"Leads": leads}))

    assert result.code == 1
    row = result.row("match_field", "src->dst/Leads")
    assert " FAIL " in row and "External_Key does not exist in dst.Leads" in row


async def test_non_unique_match_field(
    emulator: Emulator, kafka_broker: str, tmp_path: Path
) -> None:
    leads = {**GOOD_LEADS, "match_field": "Plain_Text"}
    result = await check(write_config(tmp_path, emulator.url, kafka_broker, {"Leads": leads}))

    assert result.code == 1
    row = result.row("match_field", "src->dst/Leads")
    assert " FAIL " in row and "Plain_Text in dst.Leads is not unique" in row
    assert "Do not allow duplicate values" in row


async def test_natural_key_is_a_warning_not_a_failure(
    emulator: Emulator, kafka_broker: str, tmp_path: Path
) -> None:
    leads = {**GOOD_LEADS, "match_field": "Email"}
    # With a public_url the Notification API is in use: its scope is probed in the source.
    ingress = {
        "listen": "127.0.0.1:0",
        "public_url": "https://sync.example.com",
        "webhook_secret": "${WEBHOOK_SECRET}",
    }
    config = write_config(tmp_path, emulator.url, kafka_broker, {"Leads": leads}, ingress=ingress)
    result = await check(config)

    assert result.code == 0, result.output
    row = result.row("match_field", "src->dst/Leads")
    assert " warn " in row and "duplicate-check field of Leads" in row
    assert "ZohoCRM.notifications.READ" in result.row("scopes", "src")
    assert "ZohoCRM.notifications.READ" not in result.row("scopes", "dst")


async def test_unreachable_kafka(emulator: Emulator, tmp_path: Path) -> None:
    broker = f"127.0.0.1:{closed_port()}"
    config = write_config(tmp_path, emulator.url, broker)
    result = await check(config, "--kafka-timeout", "2")

    assert result.code == 1
    row = result.row("kafka", f"kafka://{broker}")
    assert " FAIL " in row and "no answer within 2 s" in row
    assert " ok " in result.row("credentials", "dst")  # only Kafka failed
    assert result.stdout.count(" FAIL ") == 1


async def test_unknown_field_and_owner(
    emulator: Emulator, kafka_broker: str, tmp_path: Path
) -> None:
    leads = {
        **GOOD_LEADS,
        "fields": ["Last_Name", "Nickname"],
        "owner": {"match": "email", "default": "nobody@dst.example"},
    }
    config = write_config(tmp_path, emulator.url, kafka_broker, {"Leads": leads})
    result = await check(config, "--format", "json")

    assert result.code == 1
    body = orjson.loads(result.stdout)
    failed = {row["check"]: row["detail"] for row in body["checks"] if row["result"] == "FAIL"}
    assert body["ok"] is False and set(failed) == {"fields", "owner"}
    assert failed["fields"] == "missing in src: Nickname; missing in dst: Nickname"
    assert "nobody@dst.example is not an active user of dst" in failed["owner"]


async def test_invalid_config_lists_problems_by_path(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, "http://127.0.0.1:9", "127.0.0.1:9", {"Leads": {"fields": ["Email"]}}
    )
    result = await check(config, DST_REFRESH_TOKEN="")

    assert result.code == 2  # a configuration error, not a problem the checks found
    assert " FAIL " in result.row("config", "orgs.dst.refresh_token")
    assert "variable DST_REFRESH_TOKEN is not set" in result.row("config", "orgs.dst.refresh_token")
    assert "required" in result.row("config", "sync[0].modules.Leads.match_field")


async def test_existing_topics_are_checked_against_the_config(
    emulator: Emulator, kafka_broker: str, tmp_path: Path, unique_name: str
) -> None:
    topics = Topics(unique_name)
    await ensure_topics(KafkaCluster(kafka_broker), [topics.hints], 2)
    await ensure_topics(KafkaCluster(kafka_broker), [topics.links], 1, compacted=True)
    kafka = {"broker": kafka_broker, "topic_prefix": unique_name, "partitions": 4}
    result = await check(write_config(tmp_path, emulator.url, kafka_broker, kafka=kafka))

    assert result.code == 1, result.output
    hints = result.row("kafka_topic", topics.hints)
    assert " FAIL " in hints and "2 partitions, the config says 4" in hints
    assert topics.links not in result.output  # one partition, as orgsync creates it

    replicated = {**kafka, "replication_factor": 3, "min_insync_replicas": 2}
    result = await check(write_config(tmp_path, emulator.url, kafka_broker, kafka=replicated))
    row = result.row("kafka_replication", f"kafka://{kafka_broker}")
    assert (
        " FAIL " in row and "replication_factor 3 needs as many brokers; the cluster has 1" in row
    )
    assert "replication 1, the config says 3" in result.row("kafka_topic", topics.links)


async def test_a_compacted_topic_with_other_compaction_settings_is_reported(
    emulator: Emulator, kafka_broker: str, tmp_path: Path, unique_name: str
) -> None:
    topics = Topics(unique_name)
    weekly = {"cleanup.policy": "compact", "segment.ms": "604800000"}
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_broker)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topics.links, 1, 1, topic_configs=weekly)])
    finally:
        await admin.close()
    kafka = {"broker": kafka_broker, "topic_prefix": unique_name}
    result = await check(write_config(tmp_path, emulator.url, kafka_broker, kafka=kafka))

    row = result.row("kafka_topic", topics.links)
    assert " warn " in row and "segment.ms=604800000" in row, result.output
    assert "orgsync sets min.cleanable.dirty.ratio=0.1, segment.ms=3600000" in row
    assert " ok " in result.row("kafka_topics", unique_name)  # partitions and replication

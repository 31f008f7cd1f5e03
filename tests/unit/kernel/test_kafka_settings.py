"""The `kafka` settings of a replicated, secured cluster, and the client options built from
them (connectors/kafka/cluster.py for aiokafka, pipeline/worker/app.py for Faust)."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faust
import pytest

from connectors.kafka.cluster import KafkaCluster
from orgsync_kernel.config_file import load_settings
from orgsync_kernel.settings import Settings
from pipeline.worker.app import faust_credentials
from tests.support.config import ENV, example_dict
from tests.unit.kernel.test_settings import problems_of

WriteConfig = Callable[..., Path]
PASSWORD = "kafka-password-that-must-not-leak"


def with_kafka(write_config: WriteConfig, **kafka: Any) -> Path:
    data = example_dict()
    data["kafka"] = {**data["kafka"], **kafka}
    return write_config(data)


def load(path: Path) -> Settings:
    return load_settings(path, {**ENV, "KAFKA_PASSWORD": PASSWORD})


def sasl(**extra: Any) -> dict[str, Any]:
    return {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": "orgsync",
        "sasl_password": "${KAFKA_PASSWORD}",
        **extra,
    }


def test_the_default_is_one_plaintext_broker_without_replication(write_config: WriteConfig) -> None:
    cluster = KafkaCluster.of(load(with_kafka(write_config)).kafka)
    assert (cluster.replication, cluster.min_insync) == (1, 1)
    assert cluster.auth == {"security_protocol": "PLAINTEXT"}
    assert cluster.topic_configs(compacted=True) == {
        "min.insync.replicas": "1",
        "cleanup.policy": "compact",
        "segment.ms": "3600000",  # the active segment rolls hourly, so it can be compacted
        "min.cleanable.dirty.ratio": "0.1",
    }


def test_sasl_scram_reaches_every_aiokafka_client_and_never_its_repr(
    write_config: WriteConfig,
) -> None:
    settings = load(with_kafka(write_config, replication_factor=3, min_insync_replicas=2, **sasl()))
    cluster = KafkaCluster.of(settings.kafka)
    assert cluster.options(group_id=None) == {
        "bootstrap_servers": "127.0.0.1:9092",
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "orgsync",
        "sasl_plain_password": PASSWORD,
        "group_id": None,
    }
    assert cluster.topic_configs() == {"min.insync.replicas": "2"}
    assert PASSWORD not in repr(cluster) + repr(settings) + str(settings.kafka)


def test_sasl_ssl_gives_faust_and_aiokafka_the_same_tls_and_credentials(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    settings = load(with_kafka(write_config, **sasl(security_protocol="SASL_SSL")))
    auth = KafkaCluster.of(settings.kafka).auth
    assert auth["security_protocol"] == "SASL_SSL"
    assert isinstance(auth["ssl_context"], ssl.SSLContext)
    credentials = faust_credentials(settings.kafka)
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.protocol.value, credentials.mechanism.value) == (
        "SASL_SSL",
        "SCRAM-SHA-512",
    )
    assert (credentials.username, credentials.password) == ("orgsync", PASSWORD)
    assert PASSWORD not in repr(credentials)


def test_plaintext_gives_faust_no_credentials(write_config: WriteConfig) -> None:
    assert faust_credentials(load(with_kafka(write_config)).kafka) is None


def test_a_literal_password_is_refused(write_config: WriteConfig) -> None:
    problems = problems_of(with_kafka(write_config, **sasl(sasl_password=PASSWORD)))
    assert "kafka.sasl_password: must be a ${VARIABLE} reference, not a literal secret" in problems


def test_every_inconsistency_is_named_at_once(write_config: WriteConfig) -> None:
    write_config("", name="client.pem")
    path = with_kafka(
        write_config,
        replication_factor=1,
        min_insync_replicas=2,
        security_protocol="SASL_SSL",
        sasl_username="orgsync",
        ssl_certfile="client.pem",
    )
    [problem] = problems_of(path)
    assert problem.startswith("kafka: ")
    for part in (
        "min_insync_replicas (2) cannot exceed replication_factor (1)",
        "sasl_mechanism is required with security_protocol SASL_SSL",
        "sasl_password is required with security_protocol SASL_SSL",
        "ssl_certfile and ssl_keyfile go together",
    ):
        assert part in problem
    assert "sasl_username is required" not in problem


def test_tls_files_must_exist_and_need_a_tls_protocol(write_config: WriteConfig) -> None:
    problems = problems_of(with_kafka(write_config, ssl_cafile="missing-ca.pem"))
    assert problems[0].startswith("kafka.ssl_cafile: no such file: ")
    write_config("", name="ca.pem")
    [problem] = problems_of(with_kafka(write_config, ssl_cafile="ca.pem", sasl_username="x"))
    assert "ssl_cafile needs security_protocol SSL or SASL_SSL" in problem
    assert "sasl_username needs security_protocol SASL_PLAINTEXT or SASL_SSL" in problem


@pytest.mark.parametrize("mechanism", ["GSSAPI", "OAUTHBEARER", "scram-sha-256"])
def test_only_the_supported_mechanisms(write_config: WriteConfig, mechanism: str) -> None:
    problems = problems_of(with_kafka(write_config, **sasl(sasl_mechanism=mechanism)))
    assert any(p.startswith("kafka.sasl_mechanism: Input should be 'PLAIN'") for p in problems)

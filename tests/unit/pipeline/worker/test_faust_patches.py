"""Every private faust-streaming/aiokafka name that pipeline/worker/faust_patches.py relies on still
exists: an upgrade that renames one fails here, not silently in a worker."""

from __future__ import annotations

import inspect

import faust
import pytest
from aiokafka import AIOKafkaConsumer
from faust.transport.drivers import aiokafka as kafka_driver

from pipeline.worker import faust_patches

OVERRIDDEN = [
    (kafka_driver.AIOKafkaConsumerThread, "_create_worker_consumer"),
    (kafka_driver.Consumer, "_new_consumer_thread"),
    (kafka_driver.Consumer, "_is_changelog_tp"),
    (kafka_driver.Consumer, "_getmany"),
    (kafka_driver.Consumer, "resume_partitions"),
    (kafka_driver.Consumer, "pause_partitions"),
    (kafka_driver.Consumer, "perform_seek"),
    (kafka_driver.Consumer, "resume_flow"),
    (kafka_driver.Consumer, "seek_to_committed"),
    (kafka_driver.AIOKafkaConsumerThread, "seek_to_beginning"),
    (kafka_driver.Producer, "_settings_extra"),
    (faust.App, "_new_transport"),
]


@pytest.mark.parametrize(
    ("owner", "name"), OVERRIDDEN, ids=[f"{o.__name__}.{n}" for o, n in OVERRIDDEN]
)
def test_a_patched_name_still_exists(owner: type, name: str) -> None:
    assert callable(getattr(owner, name, None)), f"{owner.__name__}.{name} is gone"


def test_the_aiokafka_attribute_set_on_the_worker_consumer_is_read_at_start() -> None:
    assert "self._fetch_max_wait_ms" in inspect.getsource(AIOKafkaConsumer.start)


def test_the_transport_hands_out_the_patched_consumer() -> None:
    assert faust_patches._Transport.Consumer is faust_patches._Consumer
    assert issubclass(faust_patches._Consumer, kafka_driver.Consumer)


def test_every_overridden_name_is_listed_in_the_module_docstring() -> None:
    doc = faust_patches.__doc__ or ""
    for _owner, name in OVERRIDDEN:
        assert name in doc


def test_the_assignor_names_its_leader_topic_as_orgsync_creates_it() -> None:
    app = faust.App("orgsync-test-pipeline")
    assert faust_patches.leader_topic(app) == "orgsync-test-pipeline-__assignor-__leader"

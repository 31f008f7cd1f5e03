"""End to end against the emulator: Notification API, workflow webhooks, the poller under
dropped notifications, channels across restarts, all read back from the hints topic."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from bench.deployment import free_port
from connectors.ingress import IngressService
from connectors.kafka import KafkaUnavailable
from connectors.kafka.cluster import KafkaCluster, ensure_topics
from connectors.zoho import WatchChannel, ZohoClient
from orgsync_kernel.events import RELATED_SOURCE
from orgsync_kernel.settings import Settings
from tests.support.ingress import (
    MODULES,
    PARTITIONS,
    SECRET,
    TopicReader,
    emulator_config,
    lead,
    make_settings,
    wait_for,
    zoho_client,
)
from zoho_emulator import Emulator, load_config


@dataclass
class Stack:
    emu: Emulator
    settings: Settings
    zoho: ZohoClient
    hints: TopicReader

    @asynccontextmanager
    async def ingress(
        self, *, clock: Callable[[], float] = time.time, **kw: Any
    ) -> AsyncIterator[IngressService]:
        service = IngressService(
            self.settings, {"alpha": self.zoho}, CollectorRegistry(), clock=clock, **kw
        )
        await service.start()
        try:
            yield service
        finally:
            await service.stop()

    async def insert(self, *names: str, workflows: bool = False) -> list[str]:
        trigger = None if workflows else []
        outcomes = await self.zoho.insert("Leads", [lead(n) for n in names], trigger=trigger)
        assert all(o.ok for o in outcomes), outcomes
        return [str(o.id) for o in outcomes]

    async def faults(self, **faults: Any) -> None:
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.emu.url + "/__emulator/faults", json={"org": "alpha", **faults}) as r,
        ):
            assert r.status == 200

    def stats(self) -> dict[str, Any]:
        return self.emu.state.orgs["alpha"].stats.as_dict()


SYNCED_DELETES = {m: {"match_field": "Origin_Record_Id", "delete": True} for m in MODULES}


@pytest.fixture
async def stack(kafka_broker: str, unique_name: str) -> AsyncIterator[Stack]:
    port = free_port()
    hook = f"http://127.0.0.1:{port}/hooks/zoho/alpha?secret={SECRET}"
    async with Emulator(load_config(emulator_config(hook)), host="127.0.0.1", port=0) as emu:
        settings = make_settings(
            kafka_broker,
            unique_name,
            zoho_url=emu.url,
            public_url=f"http://127.0.0.1:{port}",
            ingress={
                "listen": f"127.0.0.1:{port}",
                "public_url": f"http://127.0.0.1:{port}",
                "webhook_secret": SECRET,
            },
            poller={"interval_seconds": 1.0, "overlap_seconds": 1.0},
            # deletes synced: the poller lists them (issue 28), so a dropped delete
            # notification is caught too
            sync=[{"source": "alpha", "target": "beta", "modules": SYNCED_DELETES}],
        )
        await ensure_topics(
            KafkaCluster(kafka_broker), settings.topics.pipeline(settings.targets), PARTITIONS
        )
        async with (
            zoho_client(settings) as zoho,
            TopicReader(kafka_broker, settings.topics.hints) as hints,
        ):
            yield Stack(emu, settings, zoho, hints)


def _ids_from(source: str, ids: list[str]) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda seen: set(ids) <= {h["id"] for h in seen if h["source"] == source}


async def test_record_reaches_hints_through_the_notification_api_within_1s(stack: Stack) -> None:
    async with stack.ingress(poll=False) as service:
        assert service.channels is not None
        (channel,) = [c for c in service.channels.channels() if c.module == "Leads"]
        started = time.monotonic()
        ids = await stack.insert("Notified")
        seen = await stack.hints.until(_ids_from("notification", ids), within=1.0)
        assert time.monotonic() - started < 1.0
    (hint,) = [h for h in seen if h["id"] == ids[0]]
    assert (hint["module"], hint["operation"]) == ("Leads", "insert")
    listed = await stack.zoho.watch_get(channel.channel_id)
    assert listed[0]["notify_url"] == f"{stack.settings.ingress.public_url}/notify/alpha"


async def test_record_reaches_hints_through_the_workflow_webhook_within_1s(stack: Stack) -> None:
    async with stack.ingress(poll=False, watch=False):
        started = time.monotonic()
        ids = await stack.insert("Hooked", workflows=True)
        await stack.hints.until(_ids_from("webhook", ids), within=1.0)
        assert time.monotonic() - started < 1.0
    assert stack.stats()["notifications"]["sent"] == 0  # no channel: only the webhook path


async def test_poller_closes_the_gap_of_dropped_notifications_within_one_interval(
    stack: Stack,
) -> None:
    await stack.faults(drop_notifications=0.3)
    async with stack.ingress() as service:
        ids: list[str] = []
        # At least 12 batches, and on until the emulator has dropped one (30% is a chance per
        # callback, so a run without any drop would prove nothing about the poller).
        for batch in range(60):
            if batch >= 12 and stack.stats()["notifications"]["dropped"] > 0:
                break
            ids += await stack.insert(*(f"Lead {batch}-{i}" for i in range(3)))
        outcomes = await stack.zoho.delete("Leads", ids[:3])
        assert all(o.ok for o in outcomes)
        written = time.monotonic()
        interval = stack.settings.poller.interval_seconds
        seen = await stack.hints.until(
            lambda seen: (
                set(ids) <= {h["id"] for h in seen}
                and set(ids[:3]) <= {h["id"] for h in seen if h["operation"] == "delete"}
            ),
            within=interval + 1.5,
        )
        assert time.monotonic() - written <= interval + 1.5
        # The poller counts its hints once Kafka acknowledged them, which can come after the
        # reader above already got them.
        await wait_for(
            lambda: bool(
                service.metrics.registry.get_sample_value(
                    "orgsync_hints_total", {"org": "alpha", "source": "poll"}
                )
            )
        )
    assert stack.stats()["notifications"]["dropped"] > 0
    notified = {h["id"] for h in seen if h["source"] == "notification"}
    assert notified < set(ids)  # some were dropped; the poll brought them


async def test_channel_survives_a_restart_and_a_vanished_channel_is_recreated(stack: Stack) -> None:
    async with stack.ingress(poll=False) as first:
        assert first.channels is not None
        before = {c.module: c.channel_id for c in first.channels.channels()}
    assert set(before) == {"Leads", "Contacts"}
    async with stack.ingress(poll=False) as second:
        assert second.channels is not None
        assert {c.module: c.channel_id for c in second.channels.channels()} == before
        ids = await stack.insert("After restart")
        await stack.hints.until(_ids_from("notification", ids), within=2.0)
        outcomes = await stack.zoho.watch_disable([before["Leads"]])
        assert outcomes[0].ok
        await second.channels.check()
        assert await stack.zoho.watch_get(before["Leads"])  # back, same id and token
        ids = await stack.insert("After recreate")
        await stack.hints.until(_ids_from("notification", ids), within=2.0)


async def test_channel_is_renewed_before_it_expires(stack: Stack) -> None:
    shift = [0.0]
    async with stack.ingress(poll=False, clock=lambda: time.time() + shift[0]) as service:
        assert service.channels is not None
        (channel,) = [c for c in service.channels.channels() if c.module == "Leads"]
        first = (await stack.zoho.watch_get(channel.channel_id))[0]["channel_expiry"]
        shift[0] = 20 * 3600.0  # 4 h left of the default 1-day lifetime: renew
        await service.channels.check()
        renewed = (await stack.zoho.watch_get(channel.channel_id))[0]["channel_expiry"]
    gained = _epoch(renewed) - _epoch(first)
    assert abs(gained - 20 * 3600) < 60


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


async def test_a_related_action_reaches_hints_and_an_old_channel_is_given_the_flag(
    stack: Stack,
) -> None:
    async with stack.ingress(poll=False) as service:
        assert service.channels is not None
        (channel,) = [c for c in service.channels.channels() if c.module == "Leads"]
        [listed] = await stack.zoho.watch_get(channel.channel_id)
        assert listed["notify_on_related_action"] is True
        # A channel an earlier release subscribed without related actions gets them.
        old = WatchChannel(
            int(channel.channel_id),
            ["Leads.all"],
            channel.notify_url,
            channel.token,
            notify_on_related_action=False,
        )
        assert (await stack.zoho.watch_update([old]))[0].ok
        await service.channels.check()
        [listed] = await stack.zoho.watch_get(channel.channel_id)
        assert listed["notify_on_related_action"] is True
        [lead_id] = await stack.insert("Tagged later")
        await stack.zoho.add_tags("Leads", [lead_id], ["VIP"])
        seen = await stack.hints.until(_ids_from(RELATED_SOURCE, [lead_id]), within=2.0)
    assert [h["operation"] for h in seen if h["source"] == RELATED_SOURCE] == ["update"]


async def test_a_refused_notification_burst_is_found_by_the_poller_within_one_interval(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Zoho sends no callback again: what the ingress answered 503 (Kafka not acknowledging
    in time) comes from the poller, a related action too, which moves no Modified_Time and
    which only the refused hints kept for the poller can bring back."""
    async with stack.ingress() as service:
        hints_topic, send = stack.settings.topics.hints, service.producer.send_many
        refusing = [True]

        async def unacknowledged(topic: str, messages: Any, headers: Any = None) -> None:
            if refusing[0] and topic == hints_topic:
                raise KafkaUnavailable("no acknowledgement from Kafka: KafkaTimeoutError")
            await send(topic, messages, headers)

        monkeypatch.setattr(service.producer, "send_many", unacknowledged)
        ids: list[str] = []
        for batch in range(5):
            ids += await stack.insert(*(f"Burst {batch}-{i}" for i in range(20)))
        await stack.zoho.add_tags("Leads", ids[:3], ["VIP"])  # related actions
        await wait_for(lambda: _refused(service) >= 6, within=5.0)  # 5 inserts, 1 tagging
        refusing[0] = False  # Kafka acknowledges again
        back = time.monotonic()
        await stack.hints.until(
            lambda seen: (
                set(ids) <= {h["id"] for h in seen}
                and set(ids[:3]) <= {h["id"] for h in seen if h["source"] == RELATED_SOURCE}
            ),
            within=stack.settings.poller.interval_seconds + 1.5,
        )
        assert time.monotonic() - back <= stack.settings.poller.interval_seconds + 1.5
        # every refused hint was produced by the poller (the listing found the inserts too)
        registry, labels = service.metrics.registry, {"org": "alpha", "source": "refused"}
        await wait_for(
            lambda: (registry.get_sample_value("orgsync_hints_total", labels) or 0) >= 103
        )


def _refused(service: IngressService) -> float:
    registry = service.metrics.registry
    labels = {"reason": "kafka_unavailable"}
    return registry.get_sample_value("orgsync_ingress_rejected_total", labels) or 0.0


async def test_refused_hints_survive_a_restart_of_the_ingress(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A related action answered 503 moves no Modified_Time: if the ingress restarts before
    its poller produced the refused hint, only the hints kept on disk can bring it back."""
    async with stack.ingress(poll=False, refusals_dir=tmp_path) as service:
        hints_topic, send = stack.settings.topics.hints, service.producer.send_many

        async def unacknowledged(topic: str, messages: Any, headers: Any = None) -> None:
            if topic == hints_topic:
                raise KafkaUnavailable("no acknowledgement from Kafka: KafkaTimeoutError")
            await send(topic, messages, headers)

        monkeypatch.setattr(service.producer, "send_many", unacknowledged)
        [lead_id] = await stack.insert("Tagged while Kafka was slow")
        await stack.zoho.add_tags("Leads", [lead_id], ["VIP"])  # a related action
        await wait_for(lambda: _refused(service) >= 2, within=5.0)  # the insert, the tagging
    async with stack.ingress(refusals_dir=tmp_path) as restarted:  # its poller runs now
        await stack.hints.until(_ids_from(RELATED_SOURCE, [lead_id]), within=3.0)
        registry, labels = restarted.metrics.registry, {"org": "alpha", "source": "refused"}
        await wait_for(lambda: (registry.get_sample_value("orgsync_hints_total", labels) or 0) >= 2)
    assert _journal_files(tmp_path) == []  # produced and settled: nothing kept


def _journal_files(directory: Path) -> list[Path]:
    return list(directory.glob("*.jsonl"))

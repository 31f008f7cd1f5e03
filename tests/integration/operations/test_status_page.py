"""The status page in headless Chromium: routes and DLQ entries render, Retry re-publishes;
the charts draw, the health panel names each target, the search box finds a record."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client import CollectorRegistry
from selenium.webdriver.common.by import By

from connectors.ingress import IngressService
from connectors.kafka.cluster import KafkaCluster, ensure_topics
from connectors.zoho import OrgConnection, ZohoClient
from connectors.zoho.metrics import ZohoMetrics
from orgsync_kernel.events import DeadLetter, Write, link_key
from orgsync_kernel.settings import Settings
from orgsync_operations.monitoring import CreditsCollector
from orgsync_operations.status import StatusPage
from pipeline.sync.metrics import PipelineMetrics
from tests.support.status_page import (
    SECRETS,
    chromium,
    colours,
    emulator_config,
    make_settings,
    near,
)
from zoho_emulator import Emulator


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(emulator_config()) as emulator:
        yield emulator


@pytest.fixture
async def clients(
    emu: Emulator,
    kafka_broker: str,
    unique_name: str,
) -> AsyncIterator[dict[str, ZohoClient]]:
    settings = make_settings(kafka_broker, unique_name, emu.url)
    found = {}
    for name, org in settings.orgs.items():
        found[name] = ZohoClient(
            OrgConnection(
                name=name,
                dc=org.dc,
                edition=org.edition,
                client_id=org.client_id,
                client_secret=org.client_secret.get_secret_value(),
                refresh_token=org.refresh_token.get_secret_value(),
                accounts_url=org.accounts_url,
                api_url=org.api_url,
            )
        )
        await found[name].start()
    yield found
    for client in found.values():
        await client.stop()


def dead_write(source_id: str, modified_time: str) -> DeadLetter:
    write = Write(
        route="src->tgt",
        target_org="tgt",
        target_module="Accounts",
        source_org="src",
        source_module="Accounts",
        source_id=source_id,
        operation="upsert",
        record={"Account_Name": "Acme", "Origin_Record_Id": source_id},
        match_field="Origin_Record_Id",
        content_hash="h",
        modified_time=modified_time,
        attempt=7,
    )
    return DeadLetter(
        id=f"w{source_id}",
        route="src->tgt",
        stage="write",
        key=write.key,
        record=write.asdict(),
        code="MANDATORY_NOT_FOUND",
        message="required field not found",
        details={"api_name": "Tier"},
        attempts=7,
        failed_at=time.time(),
    )


def dead_transform(source_id: str) -> DeadLetter:
    return DeadLetter(
        id=f"t{source_id}",
        route="src->tgt",
        stage="transform",
        key=f"src/Accounts/{source_id}",
        record={"id": source_id},
        code="REJECTED",
        message="<b>no mapping</b> for Rating",
        details={},
        attempts=1,
        failed_at=time.time() - 60,
    )


async def produce(broker: str, topic: str, *letters: DeadLetter) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=broker, acks="all")
    await producer.start()
    try:
        for letter in letters:
            await producer.send_and_wait(topic, key=letter.key.encode(), value=letter.dumps())
    finally:
        await producer.stop()


async def read_all(
    broker: str,
    topic: str,
    expect: int,
    within: float = 15.0,
) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=broker, auto_offset_reset="earliest")
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + within
        while len(found) < expect and time.monotonic() < deadline:
            for messages in (await consumer.getmany(timeout_ms=300)).values():
                found += [orjson.loads(m.value) for m in messages]
    finally:
        await consumer.stop()
    return found


def browse_and_retry(url: str, entry_id: str) -> dict[str, Any]:
    """In Chromium: read the page, press the entry's Retry, read the page it lands on."""
    with chromium() as browser:
        browser.get(url)
        route = browser.find_element(By.CSS_SELECTOR, "tr.route[data-route='src->tgt']")
        before = [
            row.get_attribute("data-id")
            for row in browser.find_elements(By.CSS_SELECTOR, "tr.dlq-entry")
        ]
        html = browser.page_source
        row = browser.find_element(By.CSS_SELECTOR, f"tr.dlq-entry[data-id='{entry_id}']")
        route_cells = [c.text for c in route.find_elements(By.TAG_NAME, "td")]
        row.find_element(By.CSS_SELECTOR, "button.retry").click()
        deadline = time.monotonic() + 10
        while "Retried" not in browser.page_source and time.monotonic() < deadline:
            time.sleep(0.05)  # polling the browser's DOM with a deadline
        after = [
            r.get_attribute("data-id")
            for r in browser.find_elements(By.CSS_SELECTOR, "tr.dlq-entry")
        ]
        return {
            "route": route_cells,
            "before": before,
            "after": after,
            "html": html,
            "landed": browser.page_source,
            "url": browser.current_url,
        }


async def test_page_renders_and_retry_button_republishes(
    emu: Emulator,
    clients: dict[str, ZohoClient],
    kafka_broker: str,
    unique_name: str,
) -> None:
    settings: Settings = make_settings(kafka_broker, unique_name, emu.url)
    [outcome] = await clients["src"].insert("Accounts", [{"Account_Name": "Acme"}])
    [record] = await clients["src"].get_by_ids("Accounts", [str(outcome.id)])
    writes_topic = settings.topics.writes("tgt")
    await ensure_topics(KafkaCluster(kafka_broker), [settings.topics.dlq, writes_topic], 2)
    failed = dead_write(str(outcome.id), str(record["Modified_Time"]))
    await produce(kafka_broker, settings.topics.dlq, failed, dead_transform("42"))
    registry = CollectorRegistry()
    PipelineMetrics.create(registry).writes.labels(
        target="tgt", module="Accounts", outcome="insert"
    ).inc(7)

    status_page = StatusPage(settings, registry, clients)
    async with IngressService(
        settings, clients, registry, poll=False, watch=False, extensions=[status_page]
    ) as ingress:
        seen = await asyncio.to_thread(browse_and_retry, ingress.url + "/", failed.id)
        async with aiohttp.ClientSession() as http, http.get(ingress.url + "/admin/dlq") as r:
            still_open = [e["id"] for e in await r.json()]

    assert seen["route"][0] == "src->tgt" and seen["route"][3] == "7"
    assert seen["before"] == [failed.id, "t42"]  # newest first
    assert "&lt;b&gt;no mapping&lt;/b&gt;" in seen["html"]  # escaped, not markup
    assert f"Retried {failed.id}" in seen["landed"]
    assert seen["after"] == ["t42"] and still_open == ["t42"]
    for secret in SECRETS:
        assert secret not in seen["html"]
    [republished] = await read_all(kafka_broker, writes_topic, expect=1)
    assert republished["source_id"] == str(outcome.id) and republished["attempt"] == 0


async def link(broker: str, settings: Settings, source_id: str, target_id: str) -> None:
    """What the sink records once the record is written to the target."""
    topic = settings.topics.links
    await ensure_topics(KafkaCluster(broker), [topic], 1, compacted=True)
    producer = AIOKafkaProducer(bootstrap_servers=broker, acks="all")
    await producer.start()
    try:
        key = link_key("src", "Accounts", source_id, "tgt")
        await producer.send_and_wait(topic, key=key.encode(), value=orjson.dumps(target_id))
    finally:
        await producer.stop()


def browse_charts_and_search(url: str, record_id: str, shots: Path) -> dict[str, Any]:
    """In Chromium: screenshot the page and a chart, read the health panel, search a record."""
    with chromium() as browser:
        browser.set_window_size(1400, 2600)
        browser.get(url)
        html = browser.page_source
        charts = browser.find_elements(By.CSS_SELECTOR, "div.chart-box")
        paths = {
            box.get_attribute("data-chart"): [
                p.get_attribute("d") for p in box.find_elements(By.CSS_SELECTOR, "path.series")
            ]
            for box in charts
        }
        written = browser.find_element(By.CSS_SELECTOR, "[data-chart='Records written'] svg")
        (shots / "status-page.png").write_bytes(browser.get_screenshot_as_png())
        (shots / "records-written.png").write_bytes(written.screenshot_as_png)
        targets = {
            row.get_attribute("data-name"): row.get_attribute("data-state")
            for row in browser.find_elements(By.CSS_SELECTOR, "tr.health-item[data-kind=target]")
        }
        form = browser.find_element(By.CSS_SELECTOR, "form.search")
        for name, value in (("org", "src"), ("module", "Accounts"), ("id", record_id)):
            form.find_element(By.NAME, name).send_keys(value)
        form.find_element(By.TAG_NAME, "button").click()
        deadline = time.monotonic() + 30
        while "trace-target" not in browser.page_source and time.monotonic() < deadline:
            time.sleep(0.05)  # polling the browser's DOM with a deadline
        found = browser.find_element(
            By.CSS_SELECTOR, "tr.trace-target[data-target=tgt] td.target-id"
        )
        return {"html": html, "paths": paths, "targets": targets, "found": found.text}


async def test_charts_render_health_names_each_target_and_search_finds_the_target_id(
    emu: Emulator,
    clients: dict[str, ZohoClient],
    kafka_broker: str,
    unique_name: str,
    tmp_path: Path,
) -> None:
    settings: Settings = make_settings(kafka_broker, unique_name, emu.url)
    [source] = await clients["src"].insert("Accounts", [{"Account_Name": "Acme"}])
    [target] = await clients["tgt"].insert("Accounts", [{"Account_Name": "Acme"}])
    await link(kafka_broker, settings, str(source.id), str(target.id))
    registry = CollectorRegistry()
    registry.register(CreditsCollector(clients))
    metrics = PipelineMetrics.create(registry)
    metrics.target_state.labels("tgt", "ok").set(1)
    throttled = ZohoMetrics.create(registry).throttled.labels(org="tgt", kind="records.write")
    status_page = StatusPage(settings, registry, clients, sample_seconds=0.2)
    async with IngressService(
        settings, clients, registry, poll=False, watch=False, extensions=[status_page]
    ) as ingress:
        deadline = time.monotonic() + 30
        while len(status_page.sampler.snapshots()) < 6 and time.monotonic() < deadline:
            metrics.writes.labels(target="tgt", module="Accounts", outcome="insert").inc(5)
            metrics.e2e_latency.labels(target="tgt").observe(0.3)
            throttled.inc()
            await asyncio.sleep(0.1)
        seen = await asyncio.to_thread(
            browse_charts_and_search, ingress.url + "/", str(source.id), tmp_path
        )
        query = f"/admin/trace?org=src&module=Accounts&id={source.id}"
        async with aiohttp.ClientSession() as http, http.get(ingress.url + query) as response:
            traced = await response.json()

    assert len(seen["paths"]) == 8 and seen["paths"]["Consumer lag"] == []  # no worker ran
    assert [chart for chart, paths in seen["paths"].items() if not paths] == ["Consumer lag"]
    assert seen["paths"]["Records written"][0].count("L") >= 3
    chart = colours((tmp_path / "records-written.png").read_bytes())
    assert len(chart) > 2 and near(chart, "#1f77b4")  # the line is drawn in its colour
    assert len(colours((tmp_path / "status-page.png").read_bytes())) > 10
    assert seen["targets"] == {"tgt": "ok"}
    assert seen["found"] == str(target.id) and traced["targets"] == {"tgt": str(target.id)}
    assert all(secret not in seen["html"] for secret in SECRETS)

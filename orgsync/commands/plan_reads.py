"""The reads behind `orgsync plan` (orgsync/commands/plan.py): the source records, the links
orgsync recorded (the `links` topic), and the target records they lead to; nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.kafka.cluster import KafkaCluster
from connectors.kafka.compacted import CompactedReader, CompactedTable
from connectors.zoho import Priority, ZohoClient
from orgsync.orgs import deployment_clients
from orgsync_kernel.events import Write, link_key
from orgsync_kernel.settings import Route, Settings
from pipeline.mapping.transforms import (
    Rejected,
    TargetRecord,
    TransformContext,
    transform,
)
from pipeline.sync.binding import query_all, query_for
from pipeline.sync.metadata import Metadata
from pipeline.sync.planning import ModulePlan, plan_linked, plan_unlinked, sync_credits

BATCH = 100  # records per target query, as the sink's batches
MAX_LIST_FIELDS = 50
EPOCH = "1970-01-01T00:00:00+00:00"


async def make_plan(
    settings: Settings, routes: Sequence[Route], only: str | None
) -> dict[str, Any]:
    links = await read_links(settings)
    orgs = {org for route in routes for org in (route.source, route.target)}
    async with deployment_clients(settings, orgs, "plan") as clients:
        found = []
        for route in routes:
            modules = {}
            for module in route.modules:
                if only in (None, module):
                    modules[module] = await plan_module(route, module, clients, links)
            found.append({"route": f"{route.source}:{route.target}", "modules": modules})
    return {"routes": found}


async def read_links(settings: Settings) -> Mapping[str, Any]:
    """The links as the workers left them (both tables, pipeline/worker/tables.py); empty
    before the first sync."""
    cluster = KafkaCluster.of(settings.kafka)
    probe = cluster.consumer(group_id=None)
    await probe.start()
    try:
        existing = await probe.topics()
    finally:
        await probe.stop()
    reader = CompactedReader(cluster)
    links: dict[str, Any] = {}
    for topic in (settings.topics.links, settings.topics.record_links):
        for partition in await reader.partitions(topic) if topic in existing else []:
            table = CompactedTable(topic, partition=partition, followed=False)
            await reader.load(table, [partition])
            links.update(table)
    return links


async def plan_module(
    route: Route, module: str, clients: Mapping[str, ZohoClient], links: Mapping[str, Any]
) -> dict[str, Any]:
    source, target = clients[route.source], clients[route.target]
    mapping = route.modules[module]
    target_module = route.target_module(module)
    records, many_fields = await source_records(source, module)
    context = await _context(route, module, Metadata(clients), links)
    writes, rejected = [], ModulePlan()
    for record in records:
        mapped = transform(record, mapping, context)
        if isinstance(mapped, Rejected):  # the sync would dead-letter it (a currency, say)
            rejected.add("create", {"source_id": str(record["id"]), "reason": mapped.reason})
        elif isinstance(mapped, TargetRecord):
            writes.append(_write(route, module, record, mapped, links))
    plan = ModulePlan()
    linked = [w for w in writes if w.target_id]
    found = await target.get_by_ids(target_module, [str(w.target_id) for w in linked])
    plan_linked(linked, {str(r["id"]): r for r in found}, mapping, plan)
    unlinked = [w for w in writes if not w.target_id]
    for n in range(0, len(unlinked), BATCH):
        batch = unlinked[n : n + BATCH]
        rows = await query_all(target, query_for(target_module, batch, mapping))
        plan_unlinked(batch, rows, mapping, plan)
    credits = sync_credits(plan.counts, many_fields, bool(mapping.link_existing))
    if rejected.counts["create"]:
        plan.samples["rejected"] = rejected.samples["create"]
    return {
        **plan.counts,
        "rejected": rejected.counts["create"],
        "credits": credits,
        "samples": plan.samples,
    }


async def source_records(client: ZohoClient, module: str) -> tuple[list[dict[str, Any]], bool]:
    """Every record of the module, and whether a list page cannot carry all its fields."""
    from datetime import datetime

    names = await client.field_names(module, Priority.LOW)
    listed = names if len(names) <= MAX_LIST_FIELDS else ["Modified_Time"]
    since = datetime.fromisoformat(EPOCH)
    records = [r async for r in client.list_modified_since(module, since, listed)]
    if len(names) <= MAX_LIST_FIELDS:
        return records, False
    ids = [str(r["id"]) for r in records]
    return await client.get_by_ids(module, ids, priority=Priority.LOW), True


async def _context(
    route: Route, module: str, metadata: Metadata, links: Mapping[str, Any]
) -> TransformContext:
    """The context the processor would build (pipeline/sync/processor.py `_context`): target
    fields and subform rows, users, and both orgs' currencies, so that a record the sync
    would reject for its currency is counted as rejected."""

    def resolve(parent_module: str, source_id: str) -> str:
        """The parent's target id, or a marker: a parent the sync would create first."""
        found = links.get(link_key(route.source, parent_module, source_id, route.target))
        return str(found) if found else f"new:{parent_module}/{source_id}"

    fields = await metadata.fields(route.target, route.target_module(module))
    rows = {
        subform.api_name: await metadata.fields(route.target, str(subform.row_module))
        for subform in fields.subforms
    }
    source_money = await metadata.money(route.source)
    target_money = await metadata.money(route.target)
    money = (source_money, target_money) if source_money and target_money else None
    return TransformContext.for_route(
        route,
        module,
        fields,
        await metadata.users(route.source),
        await metadata.users(route.target),
        resolve,
        rows,
        money,
    )


def _write(
    route: Route,
    module: str,
    record: Mapping[str, Any],
    mapped: TargetRecord,
    links: Mapping[str, Any],
) -> Write:
    source_id = str(record["id"])
    linked = links.get(link_key(route.source, module, source_id, route.target))
    return Write(
        route=route.name,
        target_org=route.target,
        target_module=mapped.module,
        source_org=route.source,
        source_module=module,
        source_id=source_id,
        operation="upsert",
        record=mapped.data,
        match_field=mapped.match_field,
        content_hash="",
        modified_time=None,
        target_id=str(linked) if linked else None,
    )

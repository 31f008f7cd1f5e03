"""Zoho CRM Notification API: watch subscriptions and callback delivery (endpoint: watch_api).

A channel id may watch several modules; one subscription is kept per (channel_id, module),
as Zoho lists them. Enabling an existing (channel_id, module) again replaces it (that is how
Zoho documents renewing a channel before it expires).

Delivery: a successful write of a watched module becomes ONE callback per matching,
unexpired subscription, carrying the ids of that API call (batching rule UNCONFIRMED;
``ids_per_callback`` caps it). Zoho documents no retry policy: by default a failed callback
is counted and dropped (``retries`` turns retries on). Notifications are not workflows, so
``trigger: []`` does not suppress them unless ``respect_trigger`` is on. Switches come
from the config's optional ``notifications:`` mapping (see ``NotificationPolicy``).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
from aiohttp import web

from .webhooks import Outbound, workflows_triggered

OP_TO_EVENT = {"insert": "create", "update": "edit", "delete": "delete"}
SYSTEM_FIELDS = frozenset({"id", "Created_Time", "Modified_Time", "Created_By", "Modified_By"})


@dataclass
class NotificationPolicy:
    """Switches for what Zoho does not document (defaults: the most likely behaviour)."""

    timeout_s: float = 10.0
    retries: int = 0
    retry_backoff_s: float = 1.0
    respect_trigger: bool = False
    ids_per_callback: int = 100
    resource_uri_version: str = "v2"  # real callbacks say /crm/v2/ even on v7/v8


@dataclass(frozen=True)
class RelatedEvent:
    """What a related-record callback tells the parent's channel: an update, no values."""

    module: str
    operation: str = "update"
    records: tuple[dict[str, Any], ...] = ()


@dataclass
class Subscription:
    channel_id: str
    module: str
    events: set[str]
    notify_url: str
    token: str | None
    expiry_ms: int
    resource_base: str
    return_affected_field_values: bool = False
    notify_on_related_action: bool = True
    notification_condition: list[dict[str, Any]] | None = None


class NotificationHub:
    """Watch subscriptions of one org and the delivery of their callbacks."""

    def __init__(self, org: Any, outbound: Outbound, policy: NotificationPolicy) -> None:
        self.org = org
        self.outbound = outbound
        self.policy = policy
        self.subs: dict[tuple[str, str], Subscription] = {}
        self.scheduled = 0
        self.rng = random.Random()
        self.listening = False
        self.seen: dict[str, dict[str, Mapping[str, Any]]] = {}  # module -> id -> stored values
        self.watchable: dict[str, tuple[str, ...]] = {}  # module -> fields a callback may name
        self.links: dict[str, tuple[str, ...]] = {}  # "Module>Parent" -> its lookup fields

    def listen(self) -> None:
        """Hook into the org's writes on the first subscription (a write listener makes every
        write snapshot its records, which costs a little when nobody watches)."""
        if not self.listening:
            self.org.add_write_listener(self.on_write)
            self.org.add_related_listener(self.on_related)
            self.listening = True

    def reset(self) -> None:
        """/__emulator/reset: counters go; channels stay (they are set-up, like webhook rules,
        and a sync would not know to subscribe again)."""
        self.scheduled = 0

    def now_ms(self) -> int:
        return int(self.org.now_ms())

    def active(self) -> list[Subscription]:
        now = self.now_ms()
        for key in [k for k, s in self.subs.items() if s.expiry_ms <= now]:
            del self.subs[key]
        return list(self.subs.values())

    def of_channel(self, channel_id: str) -> list[Subscription]:
        return [s for s in self.active() if s.channel_id == channel_id]

    def count(self, outcome: str) -> None:
        self.org.stats.notifications[outcome] += 1  # the core's /__emulator/stats reads this

    def on_write(self, event: Any) -> None:
        active = self.active()
        subs = [s for s in active if s.module == event.module]
        related = [
            s
            for s in active
            if s.module != event.module and s.notify_on_related_action and "edit" in s.events
        ]
        if not subs:
            self.seen.pop(event.module, None)  # unwatched: its snapshots would go stale
        if not subs and not related:
            return
        changes = self._changes(event) if subs else []
        if self.policy.respect_trigger and not workflows_triggered(event.trigger):
            return
        wanted = OP_TO_EVENT.get(event.operation)
        for sub in subs:
            if wanted in sub.events:
                self._schedule(sub, event, changes)
        for sub in related:
            self._related(sub, event)

    def on_related(self, module: str, ids: tuple[str, ...], kind: str) -> None:
        """A note, attachment or relation of watched records changed: an `update` with no
        affected fields to each channel watching their module for edits (payload UNCONFIRMED)."""
        for sub in self.active():
            if sub.module == module and sub.notify_on_related_action and "edit" in sub.events:
                self._dispatch(sub, RelatedEvent(module), [(r, (), n) for n, r in enumerate(ids)])

    def _related(self, sub: Subscription, event: Any) -> None:
        """A record written with a lookup to a watched record is a related action on that
        record (it shows in its related list): the parent gets an `update` callback with no
        affected fields (notify_on_related_action, default true; payload UNCONFIRMED)."""
        links = self._links(event.module, sub.module)
        if not links:
            return
        parents = self.org.stores[sub.module].records
        ids = dict.fromkeys(v[f] for v in event.values for f in links if v.get(f) in parents)
        if ids:
            pairs = [(rid, (), n) for n, rid in enumerate(ids)]
            self._dispatch(sub, RelatedEvent(sub.module), pairs)

    def _links(self, module: str, parent: str) -> tuple[str, ...]:
        key = f"{module}>{parent}"
        found = self.links.get(key)
        if found is None:
            found = self.links[key] = tuple(
                name
                for name, fd in self.org.modules[module].fields.items()
                if fd.data_type == "lookup" and fd.lookup_module == parent
            )
        return found

    def _fields_of(self, module: str) -> tuple[str, ...]:
        found = self.watchable.get(module)
        if found is None:
            names = self.org.modules[module].fields
            found = self.watchable[module] = tuple(
                f for f in names if f not in SYSTEM_FIELDS and f[:1] != "$"
            )
        return found

    def _changes(self, event: Any) -> list[tuple[str, ...]]:
        """Per id, the fields whose stored value differs from the last version this hub saw
        (every field for a record first seen now), in the module's field order."""
        seen = self.seen.setdefault(event.module, {})
        order = self._fields_of(event.module)
        deleting = event.operation == "delete"
        values: tuple[Mapping[str, Any], ...] = event.values or ({},) * len(event.ids)
        out: list[tuple[str, ...]] = []
        for rid, now in zip(event.ids, values, strict=True):
            before = seen.pop(rid, None) if deleting else seen.get(rid)
            if not deleting:
                seen[rid] = now  # stored values are replaced on write, never changed in place
            if before is None:
                out.append(order)
                continue
            diff = {f for f in now.keys() | before.keys() if now.get(f) != before.get(f)}
            out.append(tuple(f for f in order if f in diff) if diff else ())
        return out

    def _schedule(self, sub: Subscription, event: Any, changes: list[tuple[str, ...]]) -> None:
        pairs = list(zip(event.ids, changes, range(len(changes)), strict=True))
        if event.operation == "update" and sub.notification_condition:
            pairs = [p for p in pairs if _condition_met(sub, set(p[1]))]
        self._dispatch(sub, event, pairs)

    def _dispatch(
        self, sub: Subscription, event: Any, pairs: list[tuple[str, tuple[str, ...], int]]
    ) -> None:
        size = max(1, self.policy.ids_per_callback)
        for start in range(0, len(pairs), size):
            if self.rng.random() < self.org.faults.drop_notifications:
                self.count("dropped")
                continue
            self.scheduled += 1
            body = _callback(sub, event, pairs[start : start + size], self.now_ms())
            self.outbound.spawn(self._deliver(sub.notify_url, orjson.dumps(body)))

    async def _deliver(self, url: str, body: bytes) -> None:
        delay_ms = self.org.faults.delay_notifications_ms
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)
        copies = 2 if self.rng.random() < self.org.faults.duplicate_notifications else 1
        for _ in range(copies):
            self.count("sent" if await self._post_with_retries(url, body) else "failed")

    async def _post_with_retries(self, url: str, body: bytes) -> bool:
        p = self.policy
        for attempt in range(p.retries + 1):
            if await self.outbound.post(url, body, "application/json", p.timeout_s):
                return True
            if attempt < p.retries:
                await asyncio.sleep(p.retry_backoff_s * 2**attempt)
        return False


def _callback(
    sub: Subscription, event: Any, pairs: list[tuple[str, tuple[str, ...], int]], now_ms: int
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "server_time": now_ms,
        "query_params": dict(parse_qsl(urlsplit(sub.notify_url).query, keep_blank_values=True)),
        "module": event.module,
        "resource_uri": f"{sub.resource_base}/{event.module}",
        "ids": [str(i) for i, _, _ in pairs],
        "affected_fields": (
            [{str(i): list(c)} for i, c, _ in pairs] if event.operation == "update" else []
        ),
        "operation": event.operation,
        "channel_id": sub.channel_id,
        "token": sub.token,
    }
    if sub.return_affected_field_values:
        records = event.records  # rendered only for channels that ask for values
        body["affected_values"] = [
            {"record_id": str(i), "values": {f: records[n].get(f) for f in c}} for i, c, n in pairs
        ]
    return body


def _condition_met(sub: Subscription, changed: set[str]) -> bool:
    """The conditions given for the subscription's module (none given for it: no filter)."""
    mine = [
        c
        for c in sub.notification_condition or []
        if (c.get("module") or {}).get("api_name") in (None, sub.module)
    ]
    return not mine or any(_group_met(c.get("field_selection") or {}, changed) for c in mine)


def _group_met(node: dict[str, Any], changed: set[str]) -> bool:
    if isinstance(node.get("field"), dict):
        return node["field"].get("api_name") in changed
    if "api_name" in node:
        return node["api_name"] in changed
    parts = [_group_met(g, changed) for g in node.get("group") or [] if isinstance(g, dict)]
    return all(parts) if node.get("group_operator") == "and" else any(parts)


HUBS = web.AppKey("zoho_emulator.notification_hubs", dict)


def policy_from(emulator_state: Any) -> NotificationPolicy:
    """Switches from the config's optional ``notifications:`` mapping."""
    raw = emulator_state.config.raw.get("notifications") or {}
    known = {f.name for f in fields(NotificationPolicy)}
    return NotificationPolicy(**{k: v for k, v in raw.items() if k in known})


def hub_of(app: web.Application, org_name: str) -> NotificationHub:
    """The NotificationHub of an org (tests)."""
    hub: NotificationHub = app[HUBS][org_name]
    return hub

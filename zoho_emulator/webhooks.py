"""Outgoing HTTP of the emulator (one shared ClientSession) and workflow-rule webhooks.

Workflow webhooks come from the org's config: ``webhooks: [{module, on: [create, edit],
url, body: json|form}]``. Each is a workflow rule with one webhook action: after a
create/edit of a record of ``module`` it POSTs ``{"module": ..., "id": ...}`` (JSON, or the
same two keys form-encoded) to ``url``, once per record, as Zoho runs a rule per record.
Rules run only when the write asked for workflows: ``trigger`` absent or containing
"workflow" (``"trigger": []`` runs none). Zoho's webhook retry policy is undocumented:
a failed call is counted and not retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
from aiohttp import web

OP_TO_RULE = {"insert": "create", "update": "edit", "delete": "delete"}
DEFAULT_TIMEOUT_S = 10.0


class Outbound:
    """The one ClientSession for callbacks and webhooks, plus the delivery tasks in flight."""

    def __init__(self) -> None:
        self.session: aiohttp.ClientSession | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def post(self, url: str, body: bytes, content_type: str, timeout_s: float) -> bool:
        """POST once; True on a 2xx answer, False on any other answer, error or timeout."""
        if self.session is None:
            return False
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        headers = {"Content-Type": content_type}
        try:
            async with self.session.post(url, data=body, headers=headers, timeout=timeout) as r:
                await r.read()
                return 200 <= r.status < 300
        except (TimeoutError, aiohttp.ClientError, ValueError):
            return False

    async def idle(self) -> None:
        """Wait until no delivery is in flight (tests and benchmarks)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def context(self, _app: web.Application) -> AsyncIterator[None]:
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
        yield
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*list(self.tasks), return_exceptions=True)
        await self.session.close()
        self.session = None


OUTBOUND = web.AppKey("zoho_emulator.outbound", Outbound)


def outbound_for(app: web.Application) -> Outbound:
    """The app's shared Outbound, created (with its cleanup_ctx) on first use."""
    if OUTBOUND not in app:
        out = Outbound()
        app[OUTBOUND] = out
        app.cleanup_ctx.append(out.context)
    return app[OUTBOUND]


def orgs_of(emulator_state: Any) -> list[Any]:
    """The per-org state objects of the emulator state (a mapping or a sequence)."""
    orgs = getattr(emulator_state, "orgs", emulator_state)
    return list(orgs.values()) if isinstance(orgs, Mapping) else list(orgs)


def workflows_triggered(trigger: Iterable[str] | None) -> bool:
    return trigger is None or "workflow" in trigger


@dataclass(frozen=True)
class WebhookRule:
    module: str
    on: frozenset[str]
    url: str
    body: str = "json"

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> WebhookRule:
        body = str(raw.get("body", "json")).lower()
        if body not in ("json", "form") or not raw.get("url") or not raw.get("module"):
            raise ValueError(f"webhook needs module, url and body json|form: {raw!r}")
        on = raw.get("on") or ("create", "edit")
        return cls(str(raw["module"]), frozenset(str(o) for o in on), str(raw["url"]), body)

    def encode(self, module: str, record_id: str) -> tuple[bytes, str]:
        fields = {"module": module, "id": record_id}
        if self.body == "form":
            return urlencode(fields).encode(), "application/x-www-form-urlencoded"
        return orjson.dumps(fields), "application/json"


@dataclass
class WebhookStats:
    scheduled: int = 0
    sent: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "failed": self.failed}


class WorkflowWebhooks:
    """The webhook rules of one org, fired from its write listener."""

    def __init__(
        self, rules: Iterable[WebhookRule], outbound: Outbound, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self.rules = tuple(rules)
        self.outbound = outbound
        self.timeout_s = timeout_s
        self.stats = WebhookStats()

    def on_write(self, event: Any) -> None:
        if not self.rules or not workflows_triggered(event.trigger):
            return
        action = OP_TO_RULE.get(event.operation)
        for rule in self.rules:
            if rule.module == event.module and action in rule.on:
                for record_id in event.ids:
                    self.stats.scheduled += 1
                    self.outbound.spawn(self._call(rule, event.module, str(record_id)))

    async def _call(self, rule: WebhookRule, module: str, record_id: str) -> None:
        body, content_type = rule.encode(module, record_id)
        if await self.outbound.post(rule.url, body, content_type, self.timeout_s):
            self.stats.sent += 1
        else:
            self.stats.failed += 1

    def reset(self) -> None:
        self.stats = WebhookStats()


WEBHOOKS = web.AppKey("zoho_emulator.webhooks", dict)


def _rules_of(org: Any) -> list[WebhookRule]:
    return [WebhookRule.from_config(raw) for raw in org.config.webhooks]


def setup_webhooks(app: web.Application, emulator_state: Any) -> None:
    """Register each org's workflow webhooks as a write listener (called by the app factory)."""
    outbound = outbound_for(app)
    by_org: dict[str, WorkflowWebhooks] = {}
    for org in orgs_of(emulator_state):
        hooks = by_org[org.name] = WorkflowWebhooks(_rules_of(org), outbound)
        org.add_reset_listener(hooks.reset)
        if hooks.rules:  # a listener makes every write render its records: only when needed
            org.add_write_listener(hooks.on_write)
    app[WEBHOOKS] = by_org


def webhooks_of(app: web.Application, org_name: str) -> WorkflowWebhooks:
    """The WorkflowWebhooks of an org (tests)."""
    webhooks: WorkflowWebhooks = app[WEBHOOKS][org_name]
    return webhooks

"""Zoho CRM Notification API: ``/crm/{version}/actions/watch`` and callback delivery.

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
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
from aiohttp import web

from .dc import format_datetime, parse_datetime
from .http import ApiError, empty, error_body, json_response, read_json
from .keys import ORG
from .webhooks import Outbound, orgs_of, outbound_for, workflows_triggered

HOUR_MS = 3_600_000
WEEK_MS = 7 * 24 * HOUR_MS
OP_TO_EVENT = {"insert": "create", "update": "edit", "delete": "delete"}
EVENT_ORDER = ("edit", "create", "delete")  # the order Zoho lists an expanded ".all"
SYSTEM_FIELDS = frozenset({"id", "Created_Time", "Modified_Time", "Created_By", "Modified_By"})
UNWATCHABLE = frozenset({"Notes", "Attachments", "Users"})
MAX_TOKEN_LEN, MAX_WATCH_ITEMS, MAX_CONDITION_FIELDS = 50, 50, 10
SUBSCRIBED = "Successfully subscribed for actions-watch of the given module"
UPDATED = "Successfully updated the subscribe details"
REMOVED = "Successfully removed the subscribe details"
UNSUBSCRIBED = "Successfully un-subscribed from actions-watch"


@dataclass
class NotificationPolicy:
    """Switches for what Zoho does not document (defaults: the most likely behaviour)."""

    timeout_s: float = 10.0
    retries: int = 0
    retry_backoff_s: float = 1.0
    respect_trigger: bool = False
    ids_per_callback: int = 100
    resource_uri_version: str = "v2"  # real callbacks say /crm/v2/ even on v7/v8


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
        self.seen: dict[str, dict[str, dict[str, Any]]] = {}  # module -> id -> field values

    def listen(self) -> None:
        """Hook into the org's writes on the first subscription (a write listener makes every
        write render its records, which costs when nobody watches)."""
        if not self.listening:
            self.org.add_write_listener(self.on_write)
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
        subs = [s for s in self.active() if s.module == event.module]
        if not subs:
            self.seen.pop(event.module, None)  # unwatched: its snapshots would go stale
            return
        changes = self._changes(event)
        if self.policy.respect_trigger and not workflows_triggered(event.trigger):
            return
        wanted = OP_TO_EVENT.get(event.operation)
        for sub in subs:
            if wanted in sub.events:
                self._schedule(sub, event, changes)

    def _changes(self, event: Any) -> list[dict[str, Any]]:
        """Per id, the fields whose value differs from the last version this hub saw (all of
        them for a record first seen now), with their new values."""
        seen = self.seen.setdefault(event.module, {})
        records = list(event.records) + [{}] * (len(event.ids) - len(event.records))
        out = []
        for rid, record in zip(event.ids, records, strict=True):
            now = {f: v for f, v in record.items() if f not in SYSTEM_FIELDS and f[:1] != "$"}
            before = seen.pop(rid, None) if event.operation == "delete" else seen.get(rid)
            if event.operation != "delete":
                seen[rid] = now
            out.append(now if before is None else
                       {f: v for f, v in now.items() if f not in before or before[f] != v})
        return out

    def _schedule(self, sub: Subscription, event: Any, changes: list[dict[str, Any]]) -> None:
        pairs = list(zip(event.ids, changes, strict=True))
        if event.operation == "update" and sub.notification_condition:
            pairs = [(i, c) for i, c in pairs if _condition_met(sub, set(c))]
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


def _callback(sub: Subscription, event: Any, pairs: list[tuple[str, dict[str, Any]]],
              now_ms: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "server_time": now_ms,
        "query_params": dict(parse_qsl(urlsplit(sub.notify_url).query, keep_blank_values=True)),
        "module": event.module,
        "resource_uri": f"{sub.resource_base}/{event.module}",
        "ids": [str(i) for i, _ in pairs],
        "affected_fields": ([{str(i): list(c)} for i, c in pairs]
                            if event.operation == "update" else []),
        "operation": event.operation,
        "channel_id": sub.channel_id,
        "token": sub.token,
    }
    if sub.return_affected_field_values:
        body["affected_values"] = [{"record_id": str(i), "values": c} for i, c in pairs]
    return body


def _condition_met(sub: Subscription, changed: set[str]) -> bool:
    return any(_group_met(c.get("field_selection") or {}, changed)
               for c in sub.notification_condition or [])


def _group_met(node: dict[str, Any], changed: set[str]) -> bool:
    if isinstance(node.get("field"), dict):
        return node["field"].get("api_name") in changed
    if "api_name" in node:
        return node["api_name"] in changed
    parts = [_group_met(g, changed) for g in node.get("group") or [] if isinstance(g, dict)]
    return all(parts) if node.get("group_operator") == "and" else any(parts)


# -- request input ---------------------------------------------------------------------------
def _error(code: str, message: str, details: dict[str, Any]) -> ApiError:
    return ApiError(400, code, message, details)


def _invalid(api_name: str, path: str, **extra: Any) -> ApiError:
    details = {"api_name": api_name, "json_path": path, **extra}
    return _error("INVALID_DATA", "invalid data", details)


def _mandatory(api_name: str, path: str) -> ApiError:
    details = {"api_name": api_name, "json_path": path}
    return _error("MANDATORY_NOT_FOUND", "required field not found", details)


@dataclass
class WatchSpec:
    """One validated entry of a ``watch`` array; ``given`` names the keys the client sent."""

    channel_id: str
    given: set[str]
    events: dict[str, set[str]] = field(default_factory=dict)
    notify_url: str | None = None
    token: str | None = None
    expiry_ms: int | None = None
    return_affected_field_values: bool | None = None
    notify_on_related_action: bool | None = None
    notification_condition: list[dict[str, Any]] | None = None
    delete_events: bool = False


def watch_items(body: Any, allow_bare: bool) -> list[Any]:
    if allow_bare and isinstance(body, dict) and "watch" not in body:
        return [body]  # PATCH as the v8 OpenAPI file shows it: one bare object
    if not isinstance(body, dict) or "watch" not in body:
        raise _mandatory("watch", "$.watch")
    items = body["watch"]
    if not isinstance(items, list) or not items:
        raise _invalid("watch", "$.watch", expected_data_type="jsonarray")
    if len(items) > MAX_WATCH_ITEMS:
        raise _error("LIMIT_EXCEEDED", "the limit has been exceeded",
                     {"api_name": "watch", "json_path": "$.watch", "limit": MAX_WATCH_ITEMS})
    return items


def parse_watch(item: Any, i: int, mode: str, org: Any, now_ms: int) -> WatchSpec:
    path = f"$.watch[{i}]"
    if not isinstance(item, dict):
        raise _invalid("watch", path, expected_data_type="jsonobject")
    required = ("channel_id",) if mode == "patch" else ("channel_id", "events", "notify_url")
    for key in required:
        if item.get(key) in (None, "", []):
            raise _mandatory(key, f"{path}.{key}")
    spec = WatchSpec(channel_id=_channel_id(item["channel_id"], path), given=set(item))
    if "events" in item:
        spec.events = _events(item["events"], path, org)
    if "notify_url" in item:
        spec.notify_url = _notify_url(item["notify_url"], path)
    if "token" in item:
        spec.token = _token(item["token"], path)
    if item.get("channel_expiry") is not None:
        spec.expiry_ms = _expiry(item["channel_expiry"], path, now_ms)
    spec.return_affected_field_values = _flag(item, "return_affected_field_values", path)
    spec.notify_on_related_action = _flag(item, "notify_on_related_action", path)
    spec.delete_events = bool(_flag(item, "_delete_events", path))
    if item.get("notification_condition") is not None:
        spec.notification_condition = _conditions(item["notification_condition"], path)
    return spec


def _channel_id(value: Any, path: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise _invalid("channel_id", f"{path}.channel_id", expected_data_type="long")
    return str(value)


def _events(value: Any, path: str, org: Any) -> dict[str, set[str]]:
    if not isinstance(value, list) or not value:
        raise _invalid("events", f"{path}.events", expected_data_type="jsonarray")
    modules = {name.lower(): name for name in org.modules if name not in UNWATCHABLE}
    out: dict[str, set[str]] = {}
    for j, event in enumerate(value):
        module, _, op = str(event).rpartition(".")
        api_name = modules.get(module.lower())
        if not isinstance(event, str) or api_name is None or op not in (*EVENT_ORDER, "all"):
            raise _invalid("events", f"{path}.events[{j}]")
        out.setdefault(api_name, set()).update(EVENT_ORDER if op == "all" else (op,))
    return out


def _notify_url(value: Any, path: str) -> str:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise _invalid("notify_url", f"{path}.notify_url")
    return str(value)


def _token(value: Any, path: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise _invalid("token", f"{path}.token", expected_data_type="string")
    if value is not None and len(value) > MAX_TOKEN_LEN:
        raise _invalid("token", f"{path}.token", maximum_length=MAX_TOKEN_LEN)
    return value


def _expiry(value: Any, path: str, now_ms: int) -> int:
    epoch_s = parse_datetime(value) if isinstance(value, str) else None
    if epoch_s is None or epoch_s * 1000 <= now_ms:  # a past expiry: rejected (UNCONFIRMED)
        raise _invalid("channel_expiry", f"{path}.channel_expiry", expected_data_type="datetime")
    return epoch_s * 1000


def _flag(item: dict[str, Any], key: str, path: str) -> bool | None:
    value = item.get(key)
    if value is not None and not isinstance(value, bool):
        raise _invalid(key, f"{path}.{key}", expected_data_type="boolean")
    return value


def _conditions(value: Any, path: str) -> list[dict[str, Any]]:
    cpath = f"{path}.notification_condition"
    if not isinstance(value, list) or len(value) > 2:
        raise _invalid("notification_condition", cpath)
    for k, cond in enumerate(value):
        here = f"{cpath}[{k}]"
        if not isinstance(cond, dict) or "type" not in cond:
            raise _mandatory("type", f"{here}.type")
        if cond["type"] != "field_selection":
            raise _invalid("type", f"{here}.type", supported_values=["field_selection"])
        selection = cond.get("field_selection")
        if not isinstance(selection, dict):
            raise _invalid("field_selection", f"{here}.field_selection",
                           expected_data_type="jsonobject")
        if selection.get("group_operator") not in ("and", "or"):
            raise _invalid("group_operator", f"{here}.field_selection.group_operator",
                           supported_values=["or", "and"])
        if _field_count(selection) > MAX_CONDITION_FIELDS:
            raise _invalid("field_selection", f"{here}.field_selection",
                           maximum_length=MAX_CONDITION_FIELDS)
    return value


def _field_count(node: dict[str, Any]) -> int:
    own = 1 if isinstance(node.get("field"), dict) or "api_name" in node else 0
    return own + sum(_field_count(g) for g in node.get("group") or [] if isinstance(g, dict))


# -- HTTP ------------------------------------------------------------------------------------
HUBS = web.AppKey("zoho_emulator.notification_hubs", dict)


def _summary(sub: Subscription, org: Any) -> dict[str, Any]:
    module = org.modules.get(sub.module)
    return {"channel_expiry": format_datetime(sub.expiry_ms // 1000, org.tz),
            "resource_uri": f"{sub.resource_base}/{sub.module}",
            "resource_id": module.id if module else "", "resource_name": sub.module,
            "channel_id": sub.channel_id}


def _success(hub: NotificationHub, channel_id: str, message: str) -> dict[str, Any]:
    events = [_summary(s, hub.org) for s in hub.of_channel(channel_id)]
    return {"code": "SUCCESS", "details": {"events": events}, "message": message,
            "status": "success"}


def _not_subscribed(channel_id: str, path: str) -> dict[str, Any]:
    details = {"api_name": "channel_id", "json_path": path, "channel_id": channel_id}
    return error_body("NOT_SUBSCRIBED", "not subscribed for actions-watch", details)


def _multi(results: list[dict[str, Any]], ok_status: int) -> web.Response:
    oks = sum(1 for r in results if r["status"] == "success")
    status = ok_status if oks == len(results) else 207 if oks else 400
    return json_response({"watch": results}, status)


def _expiry_or_default(spec: WatchSpec, now_ms: int) -> int:
    """The requested expiry when within a week, else Zoho's default of one hour."""
    wanted = spec.expiry_ms
    return wanted if wanted is not None and wanted <= now_ms + WEEK_MS else now_ms + HOUR_MS


def _subscribe(hub: NotificationHub, spec: WatchSpec, base: str) -> dict[str, Any]:
    expiry = _expiry_or_default(spec, hub.now_ms())
    hub.listen()
    for module, events in spec.events.items():
        hub.subs[(spec.channel_id, module)] = Subscription(
            channel_id=spec.channel_id, module=module, events=set(events),
            notify_url=spec.notify_url or "", token=spec.token, expiry_ms=expiry,
            resource_base=base,
            return_affected_field_values=bool(spec.return_affected_field_values),
            notify_on_related_action=spec.notify_on_related_action is not False,
            notification_condition=spec.notification_condition)
    return _success(hub, spec.channel_id, SUBSCRIBED)


def _replace(hub: NotificationHub, spec: WatchSpec, base: str) -> dict[str, Any]:
    for sub in hub.of_channel(spec.channel_id):
        del hub.subs[(sub.channel_id, sub.module)]
    return _subscribe(hub, spec, base)


def _patch(hub: NotificationHub, spec: WatchSpec, _base: str) -> dict[str, Any]:
    template = hub.of_channel(spec.channel_id)[0]
    for module, events in spec.events.items():
        key = (spec.channel_id, module)
        sub = hub.subs.get(key)
        if sub is None and not spec.delete_events:
            hub.subs[key] = replace(template, module=module, events=set(events))
        elif sub is not None and spec.delete_events:
            sub.events -= events
            if not sub.events:
                del hub.subs[key]
        elif sub is not None:
            sub.events |= events
    for sub in hub.of_channel(spec.channel_id):
        _apply_given(sub, spec, hub.now_ms())
    return _success(hub, spec.channel_id, REMOVED if spec.delete_events else UPDATED)


def _apply_given(sub: Subscription, spec: WatchSpec, now_ms: int) -> None:
    if spec.notify_url is not None:
        sub.notify_url = spec.notify_url
    if "token" in spec.given:
        sub.token = spec.token
    if "channel_expiry" in spec.given:
        sub.expiry_ms = _expiry_or_default(spec, now_ms)
    if spec.return_affected_field_values is not None:
        sub.return_affected_field_values = spec.return_affected_field_values
    if spec.notify_on_related_action is not None:
        sub.notify_on_related_action = spec.notify_on_related_action
    if "notification_condition" in spec.given:
        sub.notification_condition = spec.notification_condition


ACTIONS = {"POST": ("create", _subscribe, 201), "PUT": ("replace", _replace, 200),
           "PATCH": ("patch", _patch, 200)}


async def _write(request: web.Request, hub: NotificationHub) -> web.Response:
    mode, action, ok_status = ACTIONS[request.method]
    base = f"{request.url.origin()}/crm/{hub.policy.resource_uri_version}"
    items = watch_items(await read_json(request), allow_bare=mode == "patch")
    results: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            spec = parse_watch(item, index, mode, hub.org, hub.now_ms())
        except ApiError as e:
            results.append(error_body(e.code, e.message, e.details))
            continue
        if mode != "create" and not hub.of_channel(spec.channel_id):
            results.append(_not_subscribed(spec.channel_id, f"$.watch[{index}].channel_id"))
        else:
            results.append(action(hub, spec, base))
    return _multi(results, ok_status)


def _listing(sub: Subscription, org: Any) -> dict[str, Any]:
    summary = _summary(sub, org)
    return {"notify_on_related_action": sub.notify_on_related_action,
            "channel_expiry": summary["channel_expiry"],
            "return_affected_field_values": sub.return_affected_field_values,
            "resource_uri": summary["resource_uri"], "resource_id": summary["resource_id"],
            "notify_url": sub.notify_url, "resource_name": sub.module, "fields": None,
            "notification_condition": sub.notification_condition, "channel_id": sub.channel_id,
            "events": [f"{sub.module}.{e}" for e in EVENT_ORDER if e in sub.events],
            "token": sub.token}


def _paging(query: Any) -> tuple[int, int]:
    try:
        page, per_page = int(query.get("page", 1)), int(query.get("per_page", 200))
    except ValueError:
        raise ApiError(400, "INVALID_DATA", "invalid data", {"param_name": "page"}) from None
    if page < 1 or not 1 <= per_page <= 200:
        name = "page" if page < 1 else "per_page"
        raise ApiError(400, "INVALID_DATA", "invalid data", {"param_name": name})
    return page, per_page


async def _list(request: web.Request, hub: NotificationHub) -> web.Response:
    query = request.query
    page, per_page = _paging(query)
    subs = [s for s in hub.active() if query.get("module") in (None, s.module)
            and query.get("channel_id") in (None, s.channel_id)]
    chunk = subs[(page - 1) * per_page : page * per_page]
    if not chunk:
        return empty(204)
    info = {"per_page": per_page, "count": len(chunk), "page": page,
            "more_records": len(subs) > page * per_page}
    return json_response({"watch": [_listing(s, hub.org) for s in chunk], "info": info})


async def _disable(request: web.Request, hub: NotificationHub) -> web.Response:
    ids = [c.strip() for c in request.query.get("channel_ids", "").split(",") if c.strip()]
    if not ids:
        raise ApiError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
                       {"param": "channel_ids", "param_name": "channel_ids"})
    results: list[dict[str, Any]] = []
    for channel_id in ids:
        subs = hub.of_channel(channel_id)
        if not subs:
            results.append(_not_subscribed(channel_id, "channel_ids"))
        for sub in subs:
            del hub.subs[(sub.channel_id, sub.module)]
            details = {k: v for k, v in _summary(sub, hub.org).items()
                       if k in ("resource_uri", "resource_id", "channel_id")}
            results.append({"code": "SUCCESS", "details": details, "message": UNSUBSCRIBED,
                            "status": "success"})
    return _multi(results, 200)


async def watch_handler(request: web.Request) -> web.Response:
    hub: NotificationHub = request.app[HUBS][request[ORG].name]
    try:
        if request.method == "GET":
            return await _list(request, hub)
        if request.method in ACTIONS:
            return await _write(request, hub)
        if request.method == "DELETE":
            return await _disable(request, hub)
        raise ApiError(400, "INVALID_REQUEST_METHOD",
                       "The http request method type is not a valid one")
    except ApiError as e:
        return e.response()


def policy_from(emulator_state: Any) -> NotificationPolicy:
    """Switches from the config's optional ``notifications:`` mapping."""
    raw = emulator_state.config.raw.get("notifications") or {}
    known = {f.name for f in fields(NotificationPolicy)}
    return NotificationPolicy(**{k: v for k, v in raw.items() if k in known})


def setup_notifications(app: web.Application, emulator_state: Any) -> None:
    """Add the watch routes and one write listener per org (called by the app factory)."""
    outbound = outbound_for(app)
    policy = policy_from(emulator_state)
    hubs: dict[str, NotificationHub] = {}
    for org in orgs_of(emulator_state):
        hub = hubs[org.name] = NotificationHub(org, outbound, policy)
        org.add_reset_listener(hub.reset)
    app[HUBS] = hubs
    app.router.add_route("*", r"/crm/{version:v2|v2\.1|v[3-8]}/actions/watch", watch_handler)


def hub_of(app: web.Application, org_name: str) -> NotificationHub:
    """The NotificationHub of an org (tests)."""
    hub: NotificationHub = app[HUBS][org_name]
    return hub

"""The ``/crm/{version}/actions/watch`` endpoint: enable, list, update, disable channels.

Per-entry results in request order, 201/200 when all succeed, 207 mixed, 400 all failed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aiohttp import web

from .dc import format_datetime
from .http import ApiError, empty, error_body, json_response, read_json
from .keys import ORG
from .notifications import HUBS, NotificationHub, Subscription, policy_from
from .watch_validation import EVENT_ORDER, WatchSpec, parse_watch, watch_items
from .webhooks import orgs_of, outbound_for

HOUR_MS = 3_600_000
WEEK_MS = 7 * 24 * HOUR_MS
SUBSCRIBED = "Successfully subscribed for actions-watch of the given module"
UPDATED = "Successfully updated the subscribe details"
REMOVED = "Successfully removed the subscribe details"
UNSUBSCRIBED = "Successfully un-subscribed from actions-watch"


def _summary(sub: Subscription, org: Any) -> dict[str, Any]:
    module = org.modules.get(sub.module)
    return {
        "channel_expiry": format_datetime(sub.expiry_ms // 1000, org.tz),
        "resource_uri": f"{sub.resource_base}/{sub.module}",
        "resource_id": module.id if module else "",
        "resource_name": sub.module,
        "channel_id": sub.channel_id,
    }


def _success(hub: NotificationHub, channel_id: str, message: str) -> dict[str, Any]:
    events = [_summary(s, hub.org) for s in hub.of_channel(channel_id)]
    return {
        "code": "SUCCESS",
        "details": {"events": events},
        "message": message,
        "status": "success",
    }


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
            channel_id=spec.channel_id,
            module=module,
            events=set(events),
            notify_url=spec.notify_url or "",
            token=spec.token,
            expiry_ms=expiry,
            resource_base=base,
            return_affected_field_values=bool(spec.return_affected_field_values),
            notify_on_related_action=spec.notify_on_related_action is not False,
            notification_condition=spec.notification_condition,
        )
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


ACTIONS = {
    "POST": ("create", _subscribe, 201),
    "PUT": ("replace", _replace, 200),
    "PATCH": ("patch", _patch, 200),
}


async def _write(request: web.Request, hub: NotificationHub) -> web.Response:
    mode, action, ok_status = ACTIONS[request.method]
    # the org's real Zoho domain, as callbacks show it (never the emulator's own origin)
    base = f"{hub.org.dc.api_domain}/crm/{hub.policy.resource_uri_version}"
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
    return {
        "notify_on_related_action": sub.notify_on_related_action,
        "channel_expiry": summary["channel_expiry"],
        "return_affected_field_values": sub.return_affected_field_values,
        "resource_uri": summary["resource_uri"],
        "resource_id": summary["resource_id"],
        "notify_url": sub.notify_url,
        "resource_name": sub.module,
        "fields": None,
        "notification_condition": sub.notification_condition,
        "channel_id": sub.channel_id,
        "events": [f"{sub.module}.{e}" for e in EVENT_ORDER if e in sub.events],
        "token": sub.token,
    }


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
    subs = [
        s
        for s in hub.active()
        if query.get("module") in (None, s.module)
        and query.get("channel_id") in (None, s.channel_id)
    ]
    chunk = subs[(page - 1) * per_page : page * per_page]
    if not chunk:
        return empty(204)
    info = {
        "per_page": per_page,
        "count": len(chunk),
        "page": page,
        "more_records": len(subs) > page * per_page,
    }
    return json_response({"watch": [_listing(s, hub.org) for s in chunk], "info": info})


async def _disable(request: web.Request, hub: NotificationHub) -> web.Response:
    ids = [c.strip() for c in request.query.get("channel_ids", "").split(",") if c.strip()]
    if not ids:
        raise ApiError(
            400,
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            {"param": "channel_ids", "param_name": "channel_ids"},
        )
    results: list[dict[str, Any]] = []
    for channel_id in ids:
        subs = hub.of_channel(channel_id)
        if not subs:
            results.append(_not_subscribed(channel_id, "channel_ids"))
        for sub in subs:
            del hub.subs[(sub.channel_id, sub.module)]
            details = {
                k: v
                for k, v in _summary(sub, hub.org).items()
                if k in ("resource_uri", "resource_id", "channel_id")
            }
            results.append(
                {
                    "code": "SUCCESS",
                    "details": details,
                    "message": UNSUBSCRIBED,
                    "status": "success",
                }
            )
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
        raise ApiError(
            400, "INVALID_REQUEST_METHOD", "The http request method type is not a valid one"
        )
    except ApiError as e:
        return e.response()


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

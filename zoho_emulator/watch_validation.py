"""Input validation of ``/crm/{version}/actions/watch`` bodies, with Zoho's error shapes.

Each ``watch`` entry becomes a ``WatchSpec``; an invalid entry raises an ``ApiError`` whose
code/details become that entry's result (Zoho answers per entry, 207 when some succeed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .dc import parse_datetime
from .http import ApiError

EVENT_ORDER = ("edit", "create", "delete")  # the order Zoho lists an expanded ".all"
UNWATCHABLE = frozenset({"Notes", "Attachments", "Users"})
MAX_TOKEN_LEN, MAX_WATCH_ITEMS, MAX_CONDITION_FIELDS = 50, 50, 10


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
        raise _error(
            "LIMIT_EXCEEDED",
            "the limit has been exceeded",
            {"api_name": "watch", "json_path": "$.watch", "limit": MAX_WATCH_ITEMS},
        )
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
    modules["users"] = "Users"  # watchable, as in Zoho's own subscribe example (Users.all)
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
        module = cond.get("module")
        if not isinstance(module, dict) or not module.get("api_name"):
            raise _mandatory("module", f"{here}.module")
        if cond["type"] != "field_selection":
            raise _invalid("type", f"{here}.type", supported_values=["field_selection"])
        selection = cond.get("field_selection")
        if not isinstance(selection, dict):
            raise _invalid(
                "field_selection", f"{here}.field_selection", expected_data_type="jsonobject"
            )
        if selection.get("group_operator") not in ("and", "or"):
            raise _invalid(
                "group_operator",
                f"{here}.field_selection.group_operator",
                supported_values=["or", "and"],
            )
        if _field_count(selection) > MAX_CONDITION_FIELDS:
            raise _invalid(
                "field_selection", f"{here}.field_selection", maximum_length=MAX_CONDITION_FIELDS
            )
    return value


def _field_count(node: dict[str, Any]) -> int:
    own = 1 if isinstance(node.get("field"), dict) or "api_name" in node else 0
    return own + sum(_field_count(g) for g in node.get("group") or [] if isinstance(g, dict))

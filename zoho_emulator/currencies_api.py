"""Currencies API (reference §18): `/org/currencies[/{id}]`, `/org/currencies/actions/enable`.

Enable and the base-currency update answer ``{"base_currency": entry}``; add and update answer
``{"currencies": [entry per item]}`` (200, 207 mixed, 400 none). There is no DELETE: a currency
is retired with ``is_active: false``. Scopes are not checked (nowhere in the emulator).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from .config import MULTI_CURRENCY_EDITIONS
from .currency import ONE, Currency, default_format, invalid, new_currency, rate_text
from .dc import format_datetime
from .http import ApiError, empty, json_response, read_json
from .keys import ORG
from .record_error import RecordError, batch_status
from .state import OrgState

_ISO = re.compile(r"^[A-Z]{3}$")
_RATE = re.compile(r"^\d+(\.\d+)?$")
_FORMAT = {
    "decimal_separator": ("Comma", "Period"),
    "thousand_separator": ("Space", "Comma", "Period"),
    "decimal_places": ("0", "2", "3"),
}
_ISO_INVALID = "Currency isocode given seems to be invalid"
_RATE_INVALID = "Exchange rate given seems to be invalid"
_CREATED = "The currency created successfully."
_UPDATED = "The currency updated successfully."
_ENABLED = (
    "The multi-currency feature is enabled and given currency is created as the base currency."
)

Run = Callable[[dict[str, Any], str], str]  # (item, its JSON path) → the currency id


# --- shapes ------------------------------------------------------------------------------


def _shown(org: OrgState, c: Currency) -> dict[str, Any]:
    user = {"name": org.api_user.name, "id": org.api_user.id}
    return {
        "id": c.id,
        "name": c.name,
        "iso_code": c.iso_code,
        "symbol": c.symbol,
        "prefix_symbol": c.prefix_symbol,
        "is_active": c.is_active,
        "is_base": c.is_base,
        "exchange_rate": rate_text(c.exchange_rate),
        "exchange_rate_auto_update": c.exchange_rate_auto_update,
        "exchange_rate_updated_time": format_datetime(c.rate_updated_s, org.tz),
        "format": dict(c.format),
        "created_by": user,
        "created_time": format_datetime(c.created_s, org.tz),
        "modified_by": user,
        "modified_time": format_datetime(c.modified_s, org.tz),
    }


def _success(cid: str, message: str) -> dict[str, Any]:
    return {"code": "SUCCESS", "details": {"id": cid}, "message": message, "status": "success"}


def _not_enabled() -> RecordError:
    message = (
        "The multi-currency feature is not yet enabled. Please enable it before doing this action."
    )
    return RecordError("FEATURE_NOT_ENABLED", message, {})


def _missing(key: str, path: str) -> RecordError:
    details = {"api_name": key, "json_path": f"{path}.{key}"}
    return RecordError("MANDATORY_NOT_FOUND", "required field not found", details)


def _limit(org: OrgState) -> RecordError:
    message = (
        "Allowed active currency limit reached. Please deactivate any one of the existing "
        "active currencies to create this currency."
    )
    details = {"limit": org.behaviour.active_currencies_limit}
    return RecordError("ACTIVE_STATE_LIMIT_EXCEEDED", message, details)


# --- input -------------------------------------------------------------------------------


def _rate(value: Any, path: str) -> Decimal:
    """A string of a positive number with at most 9 decimals (a JSON number is refused)."""
    if not isinstance(value, str):
        raise invalid(_RATE_INVALID, "exchange_rate", path, expected_data_type="string")
    if not _RATE.match(value) or len(value.partition(".")[2]) > 9:
        raise invalid(_RATE_INVALID, "exchange_rate", path, maximum_decimal_place=9)
    try:
        rate = Decimal(value)
    except InvalidOperation:
        raise invalid(_RATE_INVALID, "exchange_rate", path) from None
    if rate <= 0:
        raise invalid(_RATE_INVALID, "exchange_rate", path)
    return rate


def _format(value: Any, current: dict[str, str], path: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise invalid("invalid data", "format", path, expected_data_type="jsonobject")
    out = {**current, **value}
    for key, allowed in _FORMAT.items():
        if out.get(key) not in allowed:
            raise invalid("invalid data", key, f"{path}.{key}")
    if out["decimal_separator"] == out["thousand_separator"]:
        details = {"api_name": "thousand_separator", "json_path": f"{path}.thousand_separator"}
        raise RecordError("NOT_ALLOWED", "separators cannot be equal", details)
    return out


def _properties(raw: dict[str, Any], path: str, current: Currency | None) -> dict[str, Any]:
    """The settable properties given: name, symbol, prefix_symbol, is_active, format, …"""
    out: dict[str, Any] = {}
    for key, message in (
        ("name", "Currency name is invalid."),
        ("symbol", "Currency symbol is invalid."),
    ):
        if key in raw:
            if not isinstance(raw[key], str) or not raw[key].strip():
                raise invalid(message, key, f"{path}.{key}")
            out[key] = raw[key].strip()
    for key in ("prefix_symbol", "is_active", "exchange_rate_auto_update"):
        if key in raw:
            if not isinstance(raw[key], bool):
                raise invalid("invalid data", key, f"{path}.{key}", expected_data_type="boolean")
            out[key] = raw[key]
    if "format" in raw:
        base = current.format if current else default_format()
        out["format"] = _format(raw["format"], base, f"{path}.format")
    return out


def _iso(raw: dict[str, Any], path: str) -> str:
    iso = raw.get("iso_code")
    if iso is None:
        raise _missing("iso_code", path)
    if not isinstance(iso, str) or not _ISO.match(iso):
        raise invalid(_ISO_INVALID, "iso_code", f"{path}.iso_code")
    return iso


# --- changes -----------------------------------------------------------------------------


def _new(org: OrgState, raw: dict[str, Any], path: str, *, is_base: bool) -> Currency:
    iso = _iso(raw, path)
    if org.currencies.find(iso) is not None:
        details = {"api_name": "iso_code", "json_path": f"{path}.iso_code"}
        raise RecordError("DUPLICATE_DATA", "Duplicate value given for Isocode parameter", details)
    if "name" not in raw:  # mandatory on add and on enable (v7 add-currencies, enable pages)
        raise _missing("name", path)
    if "exchange_rate" not in raw and not is_base:
        raise _missing("exchange_rate", path)
    rate = _rate(raw["exchange_rate"], f"{path}.exchange_rate") if "exchange_rate" in raw else ONE
    props = _properties(raw, path, None)
    if is_base:  # the home currency is always active, at rate 1
        props["is_active"], rate = True, ONE
    elif props.get("is_active", True) and org.currencies.active_count() >= _cap(org):
        raise _limit(org)
    return new_currency(org.new_id(), iso, rate, org.now_ms() // 1000, is_base=is_base, **props)


def _cap(org: OrgState) -> int:
    return int(org.behaviour.active_currencies_limit)


def _update(org: OrgState, c: Currency, raw: dict[str, Any], path: str) -> str:
    """Every check first, then the change: a refused item changes nothing."""
    if "iso_code" in raw and raw["iso_code"] != c.iso_code:  # never changes, the home's neither
        raise invalid(_ISO_INVALID, "iso_code", f"{path}.iso_code")
    props = _properties(raw, path, c)
    rate = _rate(raw["exchange_rate"], f"{path}.exchange_rate") if "exchange_rate" in raw else None
    if c.is_base and props.get("is_active") is False:
        details = {"api_name": "is_active", "json_path": f"{path}.is_active"}
        raise RecordError("NOT_ALLOWED", "the base currency cannot be deactivated", details)
    if props.get("is_active") and not c.is_active and org.currencies.active_count() >= _cap(org):
        raise _limit(org)
    now_s = org.now_ms() // 1000
    for key, value in props.items():
        setattr(c, key, value)
    if rate is not None and not c.is_base and rate != c.exchange_rate:
        c.exchange_rate, c.rate_updated_s = rate, now_s
    c.modified_s = now_s
    return c.id


def _batch(items: list[Any], run: Run, message: str) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for i, raw in enumerate(items):
        try:
            cid = run(raw if isinstance(raw, dict) else {}, f"$.currencies[{i}]")
        except RecordError as exc:
            results.append(exc.entry())
            continue
        results.append(_success(cid, message))
    return results


async def _body(request: web.Request, key: str) -> Any:
    body = await read_json(request)
    found = body.get(key) if isinstance(body, dict) else None
    if not found:
        details = {"api_name": key, "json_path": f"$.{key}"}
        raise ApiError(400, "MANDATORY_NOT_FOUND", "required field not found", details)
    return found


def _supported_org(request: web.Request) -> OrgState:
    """Below Enterprise every currencies call is 403 FEATURE_NOT_SUPPORTED (v7 pages)."""
    org: OrgState = request[ORG]
    if org.config.edition not in MULTI_CURRENCY_EDITIONS:
        message = (
            "The multi-currency feature is not available except the Enterprise and higher editions."
        )
        raise ApiError(403, "FEATURE_NOT_SUPPORTED", message, {})
    return org


def _enabled_org(request: web.Request) -> OrgState:
    org = _supported_org(request)
    if not org.currencies.enabled:
        raise ApiError(403, "CURRENCIES_NOT_ENABLED", "Multi currency is not enabled", {})
    return org


# --- handlers ----------------------------------------------------------------------------


async def list_currencies(request: web.Request) -> web.Response:
    org = _enabled_org(request)
    ordered = sorted(org.currencies.by_id.values(), key=lambda c: not c.is_base)
    return json_response({"currencies": [_shown(org, c) for c in ordered]})


async def get_currency(request: web.Request) -> web.Response:
    org = _enabled_org(request)
    found = org.currencies.by_id.get(request.match_info["id"])
    return json_response({"currencies": [_shown(org, found)]}) if found else empty(204)


def _refused_before_enabling(org: OrgState, items: Any) -> web.Response | None:
    """Writes before multi-currency is on: FEATURE_NOT_ENABLED per item, HTTP 403 (v7
    update-currencies page; the per-item wrapper: [oas] example)."""
    if org.currencies.enabled:
        return None
    entries = [_not_enabled().entry() for _ in items]
    return json_response({"currencies": entries}, 403)


async def add_currencies(request: web.Request) -> web.Response:
    org = _supported_org(request)
    items = list(await _body(request, "currencies"))
    if (refused := _refused_before_enabling(org, items)) is not None:
        return refused

    def add(raw: dict[str, Any], path: str) -> str:
        currency = _new(org, raw, path, is_base=False)
        org.currencies.add(currency)
        return currency.id

    results = _batch(items, add, _CREATED)
    if any(r["status"] == "success" for r in results):
        org.currencies_changed()  # the records' Currency picklist offers the new ones
    return json_response({"currencies": results}, batch_status(results, 200))


async def update_currencies(request: web.Request) -> web.Response:
    org = _supported_org(request)
    items = list(await _body(request, "currencies"))
    if (refused := _refused_before_enabling(org, items)) is not None:
        return refused
    one = request.match_info.get("id")

    def update(raw: dict[str, Any], path: str) -> str:
        cid = one or raw.get("id")
        if cid is None:
            raise _missing("id", path)
        found = org.currencies.by_id.get(str(cid))
        if found is None:
            raise invalid("Currency id is invalid.", "id", f"{path}.id")
        if found.is_base:  # the base changes through PUT /actions/enable only
            details = {"api_name": "id", "json_path": f"{path}.id"}
            raise RecordError("NOT_ALLOWED", "Base currency ID is not allowed here", details)
        return _update(org, found, raw, path)

    results = _batch(items, update, _UPDATED)
    return json_response({"currencies": results}, batch_status(results, 200))


async def enable(request: web.Request) -> web.Response:
    org = _supported_org(request)
    raw = await _body(request, "base_currency")
    try:
        if org.currencies.enabled:
            raise RecordError("ALREADY_ENABLED", "The base currency is already added", {})
        base = _new(org, raw if isinstance(raw, dict) else {}, "$.base_currency", is_base=True)
    except RecordError as exc:
        return json_response({"base_currency": exc.entry()}, 400)
    org.enable_currencies(base)
    return json_response({"base_currency": _success(base.id, _ENABLED)})


async def update_base(request: web.Request) -> web.Response:
    org = _supported_org(request)
    raw = await _body(request, "base_currency")
    try:
        base = org.currencies.base
        if base is None:
            raise _not_enabled()
        _update(org, base, raw if isinstance(raw, dict) else {}, "$.base_currency")
    except RecordError as exc:
        return json_response({"base_currency": exc.entry()}, 400)
    return json_response({"base_currency": _success(base.id, _UPDATED)})


def currency_routes(prefix: str) -> list[web.RouteDef]:
    base = prefix + "/org/currencies"
    return [
        web.get(base, list_currencies),
        web.post(base, add_currencies),
        web.put(base, update_currencies),
        web.post(base + "/actions/enable", enable),
        web.put(base + "/actions/enable", update_base),
        web.get(base + "/{id:\\d+}", get_currency),
        web.put(base + "/{id:\\d+}", update_currencies),
    ]

"""Every /crm/ call: authenticate, count, concurrency, latency, faults, credits, error mapping."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from .config import Behaviour
from .http import JSON_BODY, ApiError, error_body, invalid_token, json_response, too_many_requests
from .keys import CLIENT_ID, ORG, STATE
from .limits import BULK_READ_CREATE_COST, write_cost
from .oauth import AccessToken
from .quirks import maybe_break
from .scopes import GRANT, READ, demand, need, required
from .state import EmulatorState, OrgState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_NOT_RECORDS = frozenset({"settings", "actions", "users", "org", "coql"})
_FAULT_CODES = {
    429: ("TOO_MANY_REQUESTS", "too many requests"),
    401: ("INVALID_TOKEN", "invalid oauth token"),
}


def _authenticate(state: EmulatorState, request: web.Request) -> AccessToken:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise ApiError(401, "AUTHENTICATION_FAILURE", "Authentication failed", {})
    if scheme != "Zoho-oauthtoken" and not (state.behaviour.accept_bearer and scheme == "Bearer"):
        raise invalid_token()
    access = state.tokens.authenticate(token.strip())
    if access is None:
        if token.strip() in state.tokens.evicted:
            raise ApiError(401, "INVALID_OAUTHTOKEN", "invalid oauth token", {})
        raise invalid_token()
    return access


def _check_scopes(request: web.Request, org: OrgState, access: AccessToken) -> None:
    """OAUTH_SCOPE_MISMATCH (401) before anything is metered; tokens without a list pass."""
    if access.grant is None:
        return
    request[GRANT] = access.grant
    if request.path.startswith("/crm/bulk/"):
        # POST needs ZohoCRM.bulk.read (+ the module's READ, checked by the handler); a job's
        # details and result accept bulk.read OR the module's READ (handler).
        if request.method == "POST":
            demand(request, ((need("ZohoCRM.bulk", READ),),))
        return
    demand(request, required(request.method, request.path.split("/")[3:], org.modules))


def _bulk_cost(request: web.Request, behaviour: Behaviour) -> tuple[int, bool]:
    """/crm/bulk/{v}/read…: creating a job costs 50 and is heavy; polling and download are
    priced by the behaviour switches (Zoho documents neither)."""
    parts = request.path.split("/")[4:]  # after /crm/bulk/{v}
    if request.method == "POST":
        return BULK_READ_CREATE_COST, True
    if len(parts) == 3 and parts[2] == "result":
        return behaviour.bulk_read_download_credits, False
    return behaviour.bulk_read_poll_credits, False


async def _classify(request: web.Request, threshold: int) -> tuple[int, bool]:
    """Credit cost and whether the call holds a sub-concurrency slot."""
    parts = request.path.split("/")[3:]
    method = request.method
    if parts and parts[0] == "coql":
        return 1, True  # a heavy call for sub-concurrency (API limits page)
    if not parts or parts[0] in _NOT_RECORDS:
        return 1, False
    if method == "POST" and parts[-1] in ("add_tags", "remove_tags"):
        return await _tagging_cost(request, len(parts)), False
    if method in ("POST", "PUT") and len(parts) <= 2:
        raw = await request.read()
        try:
            request[JSON_BODY] = body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            return 1, False
        data = body.get("data") if isinstance(body, dict) else None
        count = len(data) if isinstance(data, list) else 1
        return write_cost(count), count > threshold
    if method == "GET" and len(parts) == 2 and parts[1] == "deleted":
        return 2, False
    if method == "GET" and len(parts) == 2 and parts[1] == "search":
        return 1, True
    heavy = method == "GET" and ("sort_by" in request.query or "cvid" in request.query)
    return 1, heavy


async def _tagging_cost(request: web.Request, depth: int) -> int:
    """add/remove tags: 1 credit per 50 records (reference §7); one record: 1."""
    if depth == 4:  # /{module}/{id}/actions/add_tags
        return 1
    raw = await request.read()
    try:
        request[JSON_BODY] = body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return 1
    ids = body.get("ids") if isinstance(body, dict) else None
    count = len(ids) if isinstance(ids, list) else len(request.query.get("ids", "").split(","))
    return max(1, -(-count // 50))


async def _latency(org: OrgState) -> None:
    cfg, faults, rnd = org.config, org.faults, org.random
    delay: float = cfg.latency_ms + faults.latency_ms
    jitter = cfg.latency_jitter_ms + faults.latency_jitter_ms
    if jitter:
        delay += rnd.uniform(0, jitter)
    if delay > 0:
        await asyncio.sleep(delay / 1000)


def _fault(org: OrgState) -> web.Response | None:
    faults, rnd = org.faults, org.random
    if faults.throttle_rate and rnd.random() < faults.throttle_rate:
        org.stats.throttled += 1
        return too_many_requests().response()
    if faults.error_rate and rnd.random() < faults.error_rate:
        status = faults.error_status
        code, message = _FAULT_CODES.get(status, ("INTERNAL_ERROR", "Internal Server Error"))
        return json_response(error_body(code, message), status)
    return None


def _credits_header(org: OrgState, response: web.StreamResponse) -> None:
    ledger = org.credits
    remaining = ledger.remaining(org.now_ms())
    if ledger.allowance - remaining >= ledger.allowance * org.behaviour.credits_header_ratio:
        response.headers["X-API-CREDITS-REMAINING"] = str(max(0, remaining))


@web.middleware
async def crm_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/crm/"):
        return await handler(request)
    state = request.app[STATE]
    try:
        access = _authenticate(state, request)
        org, client_id = state.orgs[access.org], access.client_id
        request[ORG] = org
        request[CLIENT_ID] = client_id
        calls = org.stats.calls.setdefault(client_id, {})
        key = f"{request.method} {request.path}"
        calls[key] = calls.get(key, 0) + 1
        _check_scopes(request, org, access)
    except ApiError as exc:
        return exc.response()
    if request.path.startswith("/crm/bulk/"):
        cost, heavy = _bulk_cost(request, org.behaviour)
    else:
        cost, heavy = await _classify(request, org.behaviour.heavy_write_threshold)
    slot = org.concurrency_for(client_id)
    response: web.StreamResponse
    if not slot.try_enter(heavy):
        org.stats.throttled += 1
        response = too_many_requests().response()
    else:
        org.in_flight += 1
        org.stats.max_concurrency = max(org.stats.max_concurrency, org.in_flight)
        try:
            response = await _metered(request, handler, org, cost)
        finally:
            slot.leave(heavy)
            org.in_flight -= 1
    _credits_header(org, response)  # on every authenticated answer, 429s included
    return response


async def _metered(
    request: web.Request, handler: Handler, org: OrgState, cost: int
) -> web.StreamResponse:
    await _latency(org)
    faulted = _fault(org)
    if faulted is not None:
        return faulted
    if not org.credits.try_spend(org.now_ms(), cost):
        org.stats.throttled += 1
        return too_many_requests().response()
    org.stats.credits_used += cost
    return maybe_break(org, request, await _handle(request, handler))


async def _handle(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPMethodNotAllowed:
        return ApiError(
            400, "INVALID_REQUEST_METHOD", "The http request method type is not a valid one", {}
        ).response()
    except web.HTTPNotFound:
        return ApiError(
            404,
            "INVALID_URL_PATTERN",
            "Please check if the URL trying to access is a correct one",
            {},
        ).response()

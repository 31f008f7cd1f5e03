"""One Zoho API call, done right: credits, a concurrency slot, a token, retries.

Every call goes through ``ZohoTransport.call``.  Per attempt it spends credits from the
ledger, takes a concurrency slot, sends with the cached token, and classifies the
answer.  INVALID_TOKEN → invalidate, refresh once, retry once.  429 → wait per the
backoff policy (honouring rate-limit headers), retry.  5xx/timeouts → jittered backoff up
to ``max_attempts``, then the ``RetryableError`` goes to the caller.  The policy is the
call's own (``Call.retry``: the budget of the operation) or the client's default; a caller
that retries by itself passes ``SINGLE_ATTEMPT``, so no call is retried at two levels.
Anything else raises its typed error.  Write answers with a per-record ``data`` list
(200/201/207 and the all-failed 400) are returned, not raised: the caller turns them into
outcomes.

Files go both ways without being held whole: a ``Call`` with ``form`` sends a multipart body
that the factory builds anew for each attempt (aiohttp reads a file part chunk by chunk), and
``ZohoTransport.stream`` hands a 200's body to a consumer chunk by chunk while the connection
(and the concurrency slot) is held.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import orjson

from .auth import AccessToken, TokenManager
from .errors import (
    AuthError,
    InvalidToken,
    RetryableError,
    TooManyRequests,
    TransportError,
    TruncatedBody,
    UnexpectedResponse,
    ZohoError,
    error_for,
)
from .limits import (
    BackoffPolicy,
    ConcurrencyLimiter,
    CreditLedger,
    Priority,
    credits_remaining_header,
    retry_after_from_headers,
)
from .metrics import ZohoMetrics

log = logging.getLogger(__name__)

_PER_RECORD_WRAPPERS = ("data", "watch")
CHUNK_SIZE = 1 << 16
T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # below /crm/{version}, e.g. "/Leads/upsert"
    kind: str  # a metrics.KINDS value
    params: Mapping[str, str] | None = None
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    credits: int = 1
    heavy: bool = False
    priority: Priority = Priority.LIVE
    # Not idempotent (insert): a timeout or 5xx may have written, so only 429 and
    # INVALID_TOKEN (refused before any work) are retried here.
    idempotent: bool = True
    retry: BackoffPolicy | None = None  # None: the client's policy
    bulk: bool = False  # below /crm/bulk/{version} (Bulk Read)
    binary: bool = False  # a 200's body is the raw bytes (a file), not JSON
    # A multipart body, built anew per attempt: a retry must send the file from its start.
    form: Callable[[], aiohttp.FormData] | None = None


@dataclass(frozen=True)
class Response:
    status: int
    body: Any
    headers: Mapping[str, str]


@dataclass(frozen=True)
class BodyStream:
    """A 200's body while the connection is open: read it with ``chunks``, once."""

    headers: Mapping[str, str]
    _content: aiohttp.StreamReader = field(repr=False)

    def chunks(self, size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        return self._content.iter_chunked(size)


Read = Callable[[aiohttp.ClientResponse], Awaitable[Any]]


class ZohoTransport:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        tokens: TokenManager,
        *,
        org: str,
        limiter: ConcurrencyLimiter,
        ledger: CreditLedger,
        backoff: BackoffPolicy,
        metrics: ZohoMetrics,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        timeout: float = 30.0,
        api_version: str = "v8",
    ) -> None:
        self._session = session
        self.tokens = tokens
        self.org = org
        self.limiter = limiter
        self.ledger = ledger
        self._backoff = backoff
        self._metrics = metrics
        self._clock = clock
        self._sleep = sleep
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        # A file of any size may take longer than ``timeout`` in all: only a stall fails it.
        self._file_timeout = aiohttp.ClientTimeout(sock_connect=timeout, sock_read=timeout)
        self._version = api_version
        self.attempts = 0

    async def call(self, call: Call) -> Response:
        return await self._run(call, None)

    async def stream(self, call: Call, consume: Callable[[BodyStream], Awaitable[T]]) -> T:
        """``consume``'s result for a 200 whose body it reads as it arrives.

        A retried attempt (a dropped connection mid-body, a 5xx, a token refresh) calls
        ``consume`` again with a new stream, so it must start afresh each time (a new hash, a
        truncated spool file).  Any other answer is read whole and raised as usual.
        """

        async def read(resp: aiohttp.ClientResponse) -> Any:
            if resp.status != 200:
                return _json(await resp.read())
            return await consume(BodyStream(dict(resp.headers), resp.content))

        response = await self._run(call, read)
        if response.status != 200:
            raise UnexpectedResponse(
                f"{call.method} {call.path}: HTTP {response.status}, no content", org=self.org
            )
        result: T = response.body
        return result

    async def _run(self, call: Call, stream: Read | None) -> Response:
        attempt, refreshed = 0, False
        while True:
            attempt += 1
            try:
                return await self._attempt(call, stream)
            except InvalidToken:
                if refreshed:
                    raise
                refreshed = True
                log.info("zoho INVALID_TOKEN org=%s kind=%s: refreshing once", self.org, call.kind)
            except RetryableError as exc:
                await self._back_off(call, exc, attempt)

    async def _back_off(self, call: Call, exc: RetryableError, attempt: int) -> None:
        throttled = isinstance(exc, TooManyRequests)
        policy = call.retry or self._backoff
        if not (call.idempotent or throttled) or not policy.should_retry(attempt, exc.retry_after):
            raise exc
        delay = policy.delay(attempt, throttled=throttled, retry_after=exc.retry_after)
        log.info(
            "zoho retry org=%s kind=%s attempt=%d error=%s wait=%.3fs",
            self.org,
            call.kind,
            attempt,
            exc.zoho_code,
            delay,
        )
        await self._sleep(delay)

    async def _attempt(self, call: Call, stream: Read | None) -> Response:
        await self.ledger.spend(call.credits, call.priority)
        async with self.limiter.slot(call.heavy):
            token = await self.tokens.get()
            started = time.perf_counter()
            try:
                response = await self._send(call, token, stream)
            except TransportError:
                self._record(call, "transport", started)
                raise
        return self._check(call, response, token, started)

    @property
    def version(self) -> str:
        return self._version

    async def _send(self, call: Call, token: AccessToken, stream: Read | None) -> Response:
        self.attempts += 1
        data, content_type = _payload(call)
        headers = {"Authorization": token.header, **content_type, **call.headers}
        root = "/crm/bulk" if call.bulk else "/crm"
        url = f"{token.api_domain}{root}/{self._version}{call.path}"
        whole = call.form is None and stream is None
        try:
            async with self._session.request(
                call.method,
                url,
                params=call.params,
                data=data,
                headers=headers,
                timeout=self._timeout if whole else self._file_timeout,
            ) as resp:
                body = await stream(resp) if stream else await _read_whole(call, resp)
                if body is _BROKEN:
                    raise TruncatedBody(
                        f"{call.method} {call.path}: HTTP {resp.status} with an empty or "
                        "truncated JSON body",
                        status=resp.status,
                        org=self.org,
                    )
                return Response(resp.status, body, dict(resp.headers))
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise TransportError(
                f"{call.method} {call.path}: {type(exc).__name__}", org=self.org
            ) from None

    def _check(
        self, call: Call, response: Response, token: AccessToken, started: float
    ) -> Response:
        remaining = credits_remaining_header(response.headers)
        if remaining is not None:
            self.ledger.observe_remaining(remaining)
        if response.status < 300 or response.status == 304 or _per_record(response):
            self._record(call, "ok", started)
            self._metrics.credits.labels(org=self.org, kind=call.kind).inc(call.credits)
            log.debug(
                "zoho call org=%s kind=%s %s %s status=%d",
                self.org,
                call.kind,
                call.method,
                call.path,
                response.status,
            )
            return response
        raise self._error(call, response, token, started)

    def _error(
        self, call: Call, response: Response, token: AccessToken, started: float
    ) -> ZohoError:
        retry_after = None
        if response.status == 429:
            retry_after = retry_after_from_headers(response.headers, self._clock())
        error = error_for(response.status, response.body, retry_after=retry_after, org=self.org)
        if isinstance(error, TooManyRequests):
            self.ledger.refund(call.credits)
            self._metrics.throttled.labels(org=self.org, kind=call.kind).inc()
        else:
            self._metrics.credits.labels(org=self.org, kind=call.kind).inc(call.credits)
        if isinstance(error, InvalidToken):
            self.tokens.invalidate(token)
        self._record(call, _outcome(error), started)
        log.debug(
            "zoho call org=%s kind=%s %s %s status=%d code=%s",
            self.org,
            call.kind,
            call.method,
            call.path,
            response.status,
            error.zoho_code,
        )
        return error

    def _record(self, call: Call, outcome: str, started: float) -> None:
        labels = {"org": self.org, "kind": call.kind}
        self._metrics.calls.labels(outcome=outcome, **labels).inc()
        self._metrics.latency.labels(**labels).observe(time.perf_counter() - started)


def _payload(call: Call) -> tuple[Any, dict[str, str]]:
    """The request body and its content type (aiohttp sets a form's, with its boundary)."""
    if call.form is not None:
        return call.form(), {}
    if call.body is not None:
        return orjson.dumps(call.body), {"Content-Type": "application/json"}
    return None, {}


_BROKEN = object()  # a 2xx whose JSON body is empty or cut short


async def _read_whole(call: Call, resp: aiohttp.ClientResponse) -> Any:
    raw = await resp.read()
    if call.binary and resp.status == 200:
        return raw
    body = _json(raw)
    if body is None and 200 <= resp.status < 300 and resp.status != 204:
        return _BROKEN  # Zoho answers every 2xx but 204 with JSON
    return body


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _per_record(response: Response) -> bool:
    """An answer whose errors are per record (``{"data": [...]}``), not a bare error."""
    body = response.body
    if response.status >= 500 or not isinstance(body, dict) or "code" in body:
        return False
    return any(isinstance(body.get(key), list) for key in _PER_RECORD_WRAPPERS)


def _outcome(error: ZohoError) -> str:
    if isinstance(error, TooManyRequests):
        return "throttled"
    if isinstance(error, InvalidToken | AuthError):
        return "auth"
    if isinstance(error, RetryableError):
        return "server_error"
    return "client_error"

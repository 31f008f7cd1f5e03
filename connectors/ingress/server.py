"""The ingress HTTP app: Zoho pushes in, hints out to Kafka.

    POST /hooks/zoho/{org}   workflow-rule webhooks (secret in X-Orgsync-Secret or `secret`)
    POST /notify/{org}       Notification API callbacks (the channel token in the body)
    GET  /metrics, /healthz
    GET  /, /admin/...       the status page and admin API, mounted by IngressService
                             (orgsync_operations/status.py)

A 2xx means every hint of the request was acknowledged by Kafka (acks=all); when Kafka
does not acknowledge within the producer's timeout the answer is 503. Zoho is not known to
send a callback again (a notification answered 503 never came back, issue 26), so the
refused hints are kept (`Refusals`) for the poller of this process, which produces them at
its next poll of the org and module.
Bad input is refused with 4xx and a short JSON error, and counted by reason.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp
import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError
from prometheus_client.aiohttp import make_aiohttp_handler

from orgsync_kernel.events import RELATED_SOURCE
from orgsync_kernel.settings import Settings

from ..kafka import KafkaUnavailable, Producer
from .hints import BadInput, HintBatch
from .metrics import IngressMetrics
from .notifications import Envelope, parse_callback, parse_envelope
from .refusals import Refusals
from .webhooks import (
    SECRET_HEADER,
    Fields,
    body_fields,
    merged,
    parse_webhook,
    query_fields,
    secret_of,
)

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = "5"
_ENDPOINTS = ("hooks", "notify")


class ChannelTokens(Protocol):
    """The token we gave each Notification API channel (the ChannelManager)."""

    def token_for(self, org: str, channel_id: str) -> str | None: ...


class StaticChannelTokens:
    """Tokens from a mapping ``{(org, channel_id): token}`` (tests, fixed setups)."""

    def __init__(self, tokens: Mapping[tuple[str, str], str] | None = None) -> None:
        self.tokens = dict(tokens or {})

    def token_for(self, org: str, channel_id: str) -> str | None:
        return self.tokens.get((org, channel_id))


@dataclass(frozen=True)
class Ingress:
    """Everything the handlers need; one per app."""

    settings: Settings
    producer: Producer
    metrics: IngressMetrics
    tokens: ChannelTokens
    clock: Callable[[], float]
    refusals: Refusals

    def source_org(self, request: web.Request) -> str:
        org = request.match_info["org"]
        if org not in self.settings.orgs:
            raise BadInput("unknown_org", "unknown org", status=404)
        return org

    def check_secret(self, presented: str | None) -> None:
        expected = self.settings.ingress.webhook_secret.get_secret_value()
        if presented is None or not hmac.compare_digest(_raw(presented), _raw(expected)):
            raise BadInput("unauthorized", "missing or wrong secret", status=401)

    def check_token(self, org: str, envelope: Envelope) -> None:
        expected = self.tokens.token_for(org, envelope.channel_id)
        presented = envelope.token
        if (
            expected is None
            or presented is None
            or not hmac.compare_digest(_raw(presented), _raw(expected))
        ):
            raise BadInput("unauthorized", "unknown channel or wrong token", status=401)

    async def produce(self, org: str, batch: HintBatch, source: str) -> web.Response:
        received_at = self.clock()
        messages = batch.messages(org, source, received_at)
        try:
            await self.producer.send_many(self.settings.topics.hints, messages)
        except KafkaUnavailable:
            self.refusals.add(org, batch.module, messages, received_at)
            raise
        self.metrics.hints.labels(org, source).inc(len(messages))
        return _json({"status": "ok", "hints": len(messages)}, 200)


INGRESS = web.AppKey("orgsync.ingress", Ingress)


def _raw(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _json(body: object, status: int, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
    )


def create_app(
    settings: Settings,
    producer: Producer,
    metrics: IngressMetrics,
    channel_tokens: ChannelTokens,
    *,
    clock: Callable[[], float] = time.time,
    refused: Refusals | None = None,
) -> web.Application:
    app = web.Application(client_max_size=settings.ingress.max_body_bytes, middlewares=[refusals])
    app[INGRESS] = Ingress(
        settings,
        producer,
        metrics,
        channel_tokens,
        clock,
        refused if refused is not None else Refusals(),
    )
    app.router.add_post("/hooks/zoho/{org}", receive_webhook, name="hooks")
    app.router.add_post("/notify/{org}", receive_notification, name="notify")
    app.router.add_get("/metrics", make_aiohttp_handler(metrics.registry))
    app.router.add_get("/healthz", healthz)
    return app


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def refusals(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turns refusals into counted JSON answers and times the two endpoints."""
    ctx = request.app[INGRESS]
    started = time.perf_counter()
    try:
        return await handler(request)
    except BadInput as error:
        return _refuse(ctx, error.reason, error.status, error.message)
    except web.HTTPRequestEntityTooLarge:
        return _refuse(ctx, "too_large", 413, "body too large")
    except RequestPayloadError:  # e.g. a body that does not match its Content-Encoding
        return _refuse(ctx, "malformed", 400, "unreadable body")
    except KafkaUnavailable as error:
        log.warning("ingress answers 503: %s", error)
        return _refuse(
            ctx,
            "kafka_unavailable",
            503,
            "Kafka is unavailable, retry later",
            {"Retry-After": RETRY_AFTER_SECONDS},
        )
    finally:
        endpoint = request.match_info.route.name
        if endpoint in _ENDPOINTS:
            ctx.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)


def _refuse(
    ctx: Ingress, reason: str, status: int, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    ctx.metrics.rejected.labels(reason).inc()
    return _json({"error": reason, "message": message}, status, headers)


def _check_length(request: web.Request, ctx: Ingress) -> None:
    length = request.content_length
    if length is not None and length > ctx.settings.ingress.max_body_bytes:
        raise web.HTTPRequestEntityTooLarge(
            max_size=ctx.settings.ingress.max_body_bytes, actual_size=length
        )


async def receive_webhook(request: web.Request) -> web.Response:
    ctx = request.app[INGRESS]
    org = ctx.source_org(request)
    _check_length(request, ctx)
    query = query_fields(request.query)
    presented = request.headers.get(SECRET_HEADER) or secret_of(query)
    if presented is not None:
        ctx.check_secret(presented)  # refuse strangers before reading their body
    try:
        fields = merged(query, await _webhook_body(request))
    except BadInput:
        if presented is None:
            ctx.check_secret(None)
        raise
    if presented is None:
        ctx.check_secret(secret_of(fields))
    batch = parse_webhook(fields, ctx.settings.synced_modules(org))
    return await ctx.produce(org, batch, "webhook")


async def _webhook_body(request: web.Request) -> Fields:
    if request.content_type.startswith("multipart/"):
        try:
            return query_fields(await request.post())
        except (ValueError, LookupError, AssertionError, aiohttp.ClientError):
            raise BadInput("malformed", "unreadable multipart body") from None
    return body_fields(await request.read(), request.content_type)


async def receive_notification(request: web.Request) -> web.Response:
    ctx = request.app[INGRESS]
    org = ctx.source_org(request)
    _check_length(request, ctx)
    envelope = parse_envelope(await request.read())
    ctx.check_token(org, envelope)
    batch = parse_callback(envelope, ctx.settings.synced_modules(org))
    return await ctx.produce(org, batch, RELATED_SOURCE if batch.related else "notification")


async def healthz(request: web.Request) -> web.Response:
    return _json({"status": "ok"}, 200)

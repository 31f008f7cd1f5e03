"""The status page and the admin API, mounted on the ingress app by the process that runs it.

    StatusPage(settings, registry, readers)  the extension `orgsync.runner` hands to the
                                             ingress: it opens the DLQ store on the ingress's
                                             producer and mounts the routes below

    GET  /                         charts of the last hour, health of tokens, channels, poller,
                                   targets and schema, per route and topic totals, the newest
                                   DLQ entries with a retry button (Jinja2 templates and
                                   server-side SVG, no script; orgsync_operations/dashboard.py)
    GET  /trace?org=&module=&id=   the record's journey (orgsync_operations/trace.py), as HTML
    GET  /login, POST /login       a form that sets the session cookie
    GET  /admin/trace?org=&module=&id=  the same journey (JSON)
    GET  /admin/dlq[?route=R]      open DLQ entries (JSON)
    GET  /admin/dlq/{id}           one entry (JSON)
    POST /admin/dlq/{id}/retry     re-publish it (orgsync_operations/dlq.py says how)
    POST /admin/dlq/{id}/purge     drop it from the list

Access (`admin_required`): when `ingress.admin_secret` is set, or the listen address is not a
loopback one (then the settings insist on the secret), every route above needs the secret:
`Authorization: Bearer <secret>`, or the cookie set by /login (an HMAC of the secret, never the
secret; HttpOnly, SameSite=Strict; a cookie-authenticated POST must come from this origin).
Without a secret, on loopback, a request that came through a proxy (Forwarded headers) is
refused too: a proxy would expose the page to whoever reaches the proxy. Numbers come from this
process's metrics registry (the worker's too when it runs in the same process, `--role all`),
sampled for the charts (orgsync_operations/sampler.py), and from Kafka: the DLQ store, the
topics' offsets, the credits every process spent and the channels (kafka_state.py); nothing
secret is ever rendered.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
from aiohttp import web
from prometheus_client import CollectorRegistry

from connectors.kafka import KafkaError, Producer
from connectors.kafka.cluster import KafkaUnavailable
from orgsync_kernel.settings import Settings, is_loopback
from orgsync_operations.dashboard import Sources, dashboard
from orgsync_operations.dlq import DlqStore, Entry, Retrier, SourceReader
from orgsync_operations.kafka_state import KafkaState, kafka_probe
from orgsync_operations.offsets import topic_stats
from orgsync_operations.render import html_response, json_response
from orgsync_operations.sampler import Sampler, collect
from orgsync_operations.trace import trace_record

log = logging.getLogger(__name__)
COOKIE = "orgsync_admin"
SIGN_IN = "Sign in with the admin secret."
_PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def admin_required(settings: Settings) -> bool:
    ingress = settings.ingress
    return ingress.admin_secret is not None or not is_loopback(ingress.host)


def session_token(secret: str) -> str:
    return hmac.new(secret.encode(), b"orgsync status session v1", hashlib.sha256).hexdigest()


def _same(presented: str, expected: str) -> bool:
    return hmac.compare_digest(
        presented.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


@dataclass(frozen=True)
class Access:
    """Who may see the page: the policy of the module docstring, sans I/O."""

    required: bool
    secret: str | None

    @classmethod
    def of(cls, settings: Settings) -> Access:
        secret = settings.ingress.admin_secret
        return cls(admin_required(settings), secret.get_secret_value() if secret else None)

    def allows(
        self, headers: Mapping[str, str], cookies: Mapping[str, str], method: str, host: str
    ) -> bool:
        if not self.required:
            return not any(h in headers for h in _PROXY_HEADERS)
        if self.secret is None:
            return False
        scheme, _, presented = headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and presented:
            return _same(presented.strip(), self.secret)
        cookie = cookies.get(COOKIE)
        if cookie is None or not _same(cookie, session_token(self.secret)):
            return False
        origin = headers.get("Origin")
        return method in ("GET", "HEAD") or origin is None or urlsplit(origin).netloc == host


@dataclass(frozen=True)
class Status:
    settings: Settings
    registry: CollectorRegistry
    dlq: DlqStore
    readers: Mapping[str, SourceReader]
    access: Access
    sampler: Sampler
    kafka: KafkaState


STATUS = web.AppKey("orgsync.status", Status)


def mount_status(app: web.Application, status: Status) -> None:
    app[STATUS] = status
    app.router.add_get("/", protected(page))
    app.router.add_get("/trace", protected(trace_page))
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_get("/admin/trace", protected(api_trace))
    app.router.add_get("/admin/dlq", protected(api_list))
    app.router.add_get("/admin/dlq/{id}", protected(api_show))
    app.router.add_post("/admin/dlq/{id}/retry", protected(api_retry))
    app.router.add_post("/admin/dlq/{id}/purge", protected(api_purge))


class StatusPage:
    """The status page as an ingress extension (connectors.ingress.AppExtension)."""

    def __init__(
        self,
        settings: Settings,
        registry: CollectorRegistry,
        readers: Mapping[str, SourceReader],
        *,
        sample_seconds: float = 10.0,
    ) -> None:
        self.settings, self.registry, self.readers = settings, registry, readers
        self.sampler = Sampler(
            registry,
            probe=kafka_probe(settings),
            interval=sample_seconds,
            keep=int(3600 / sample_seconds),
        )
        self.kafka = KafkaState(settings)
        self.dlq: DlqStore | None = None

    async def mount(self, app: web.Application, producer: Producer) -> None:
        self.dlq = DlqStore(self.settings, producer, keep_done=False)
        await self.dlq.start()
        await self.kafka.start()
        await self.sampler.start()
        access = Access.of(self.settings)
        mount_status(
            app,
            Status(
                self.settings,
                self.registry,
                self.dlq,
                self.readers,
                access,
                self.sampler,
                self.kafka,
            ),
        )

    async def close(self) -> None:
        await self.sampler.stop()
        await self.kafka.stop()
        if self.dlq is not None:
            await self.dlq.close()
            self.dlq = None


def protected(handler: Handler) -> Handler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        access = request.app[STATUS].access
        if access.allows(request.headers, request.cookies, request.method, request.host):
            return await handler(request)
        if not request.path.startswith("/admin/"):
            return html_response("login.html", 401, note=SIGN_IN)
        return json_response(
            {"error": "unauthorized", "message": "the admin secret is required"},
            401,
            {"WWW-Authenticate": 'Bearer realm="orgsync"'},
        )

    return guarded


# --- login ----------------------------------------------------------------------------------


async def login_form(request: web.Request) -> web.Response:
    return html_response("login.html", 200, note=SIGN_IN)


async def login(request: web.Request) -> web.Response:
    access = request.app[STATUS].access
    presented = str((await request.post()).get("secret", ""))
    if access.secret is None or not _same(presented, access.secret):
        return html_response("login.html", 401, note="Wrong secret.")
    response = web.HTTPSeeOther("/")
    response.set_cookie(
        COOKIE,
        session_token(access.secret),
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        path="/",
    )
    raise response


# --- admin API ------------------------------------------------------------------------------


async def api_list(request: web.Request) -> web.Response:
    store = await _fresh(request)
    entries = store.entries(request.query.get("route"))
    return json_response([e.summary() for e in entries], 200)


async def api_show(request: web.Request) -> web.Response:
    return json_response((await _entry(request)).to_json(), 200)


async def api_retry(request: web.Request) -> web.StreamResponse:
    entry = await _entry(request)
    status = request.app[STATUS]
    report = await Retrier(status.dlq, status.readers).retry([entry])
    if entry.id in report.failed:
        return json_response({"error": "not_retried", "message": report.failed[entry.id]}, 409)
    return _done(request, entry.id, "retried", {"via": report.done[entry.id]})


async def api_purge(request: web.Request) -> web.StreamResponse:
    entry = await _entry(request)
    await request.app[STATUS].dlq.mark([entry.id], "purged")
    return _done(request, entry.id, "purged", {})


async def _fresh(request: web.Request) -> DlqStore:
    store = request.app[STATUS].dlq
    await store.refresh()
    return store


async def _entry(request: web.Request) -> Entry:
    entry = (await _fresh(request)).get(request.match_info["id"])
    if entry is None:
        raise web.HTTPNotFound(
            body=orjson.dumps({"error": "unknown_entry"}), content_type="application/json"
        )
    return entry


def _done(
    request: web.Request,
    entry_id: str,
    what: str,
    extra: dict[str, Any],
) -> web.StreamResponse:
    if request.content_type == "application/x-www-form-urlencoded":  # the page's button
        raise web.HTTPSeeOther(f"/?{what}={quote(entry_id)}")
    return json_response({"id": entry_id, "state": what, **extra}, 200)


# --- the page and the trace -----------------------------------------------------------------

KAFKA_ERRORS = (KafkaUnavailable, KafkaError, TimeoutError, OSError)


async def page(request: web.Request) -> web.Response:
    status = request.app[STATUS]
    settings = status.settings
    notes: list[str] = [
        f"{what.capitalize()} {request.query[what]}."
        for what in ("retried", "purged")
        if what in request.query
    ]
    try:
        await status.dlq.refresh()
        topics = await topic_stats(settings, [settings.topics.changes, settings.topics.dlq])
    except KAFKA_ERRORS as error:
        notes.append(f"Kafka is unavailable ({type(error).__name__}); figures may be stale.")
        topics = {}
    sources = Sources(
        settings,
        collect(status.registry),
        status.sampler.snapshots(),
        status.kafka,
        topics,
        time.time(),
    )
    context = dashboard(sources, status.dlq.entries())
    return html_response("status.html", 200, notes=notes, **context)


def _trace_query(request: web.Request) -> tuple[str, str, str] | None:
    org, module, record_id = (request.query.get(k, "").strip() for k in ("org", "module", "id"))
    return (org, module, record_id) if org and module and record_id else None


async def _trace(request: web.Request) -> tuple[dict[str, Any] | None, str | None, int]:
    """(the trace, or why there is none, and the HTTP status that says so)"""
    query = _trace_query(request)
    if query is None:
        return None, "Give the org, the module and the record id.", 400
    try:
        return await trace_record(request.app[STATUS].settings, *query), None, 200
    except ValueError as error:
        return None, str(error), 400
    except KafkaUnavailable as error:
        return None, str(error), 503


async def trace_page(request: web.Request) -> web.Response:
    asked = _trace_query(request)
    trace, error, _ = await _trace(request) if asked else (None, None, 200)
    org, module, record_id = asked or ("", "", "")
    return html_response(
        "trace.html",
        200,
        trace=trace,
        error=error,
        org=org,
        module=module,
        record_id=record_id,
    )


async def api_trace(request: web.Request) -> web.Response:
    trace, error, code = await _trace(request)
    if trace is None:
        return json_response({"error": "not_traced", "message": error}, code)
    return json_response(trace, 200)

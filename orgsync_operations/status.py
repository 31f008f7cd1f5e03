"""The status page and the admin API, mounted on the ingress app by the process that runs it.

    StatusPage(settings, registry, readers)  the extension `orgsync.runner` hands to the
                                             ingress: it opens the DLQ store on the ingress's
                                             producer and mounts the routes below

    GET  /                         per route: changes read, records written, dead letters, lag,
                                   last write queued; per topic: lag; the newest DLQ entries
                                   with a retry button (server-rendered HTML, no script)
    GET  /login, POST /login       a form that sets the session cookie
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
the DLQ store and Kafka's group offsets; nothing secret is ever rendered.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
from aiohttp import web
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry

from connectors.kafka import KafkaUnavailable, Producer
from orgsync_kernel.settings import Route, Settings, is_loopback
from orgsync_operations.dlq import DlqStore, Entry, Retrier, SourceReader
from orgsync_operations.offsets import TopicStat, topic_stats
from orgsync_operations.status_html import (
    dlq_table,
    html_response,
    json_response,
    lag_text,
    table,
    topics_table,
    when,
)

log = logging.getLogger(__name__)
COOKIE = "orgsync_admin"
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


STATUS = web.AppKey("orgsync.status", Status)


def mount_status(app: web.Application, status: Status) -> None:
    app[STATUS] = status
    app.router.add_get("/", protected(page))
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_get("/admin/dlq", protected(api_list))
    app.router.add_get("/admin/dlq/{id}", protected(api_show))
    app.router.add_post("/admin/dlq/{id}/retry", protected(api_retry))
    app.router.add_post("/admin/dlq/{id}/purge", protected(api_purge))


class StatusPage:
    """The status page as an ingress extension (connectors.ingress.AppExtension)."""

    def __init__(
        self, settings: Settings, registry: CollectorRegistry, readers: Mapping[str, SourceReader]
    ) -> None:
        self.settings, self.registry, self.readers = settings, registry, readers
        self.dlq: DlqStore | None = None

    async def mount(self, app: web.Application, producer: Producer) -> None:
        self.dlq = DlqStore(self.settings, producer, keep_done=False)
        await self.dlq.start()
        mount_status(
            app,
            Status(self.settings, self.registry, self.dlq, self.readers, Access.of(self.settings)),
        )

    async def close(self) -> None:
        if self.dlq is not None:
            await self.dlq.close()
            self.dlq = None


def protected(handler: Handler) -> Handler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        access = request.app[STATUS].access
        if access.allows(request.headers, request.cookies, request.method, request.host):
            return await handler(request)
        if request.path == "/":
            return html_response(_login_body("Sign in with the admin secret."), 401)
        return json_response(
            {"error": "unauthorized", "message": "the admin secret is required"},
            401,
            {"WWW-Authenticate": 'Bearer realm="orgsync"'},
        )

    return guarded


# --- login ----------------------------------------------------------------------------------


async def login_form(request: web.Request) -> web.Response:
    return html_response(_login_body("Sign in with the admin secret."), 200)


async def login(request: web.Request) -> web.Response:
    access = request.app[STATUS].access
    presented = str((await request.post()).get("secret", ""))
    if access.secret is None or not _same(presented, access.secret):
        return html_response(_login_body("Wrong secret."), 401)
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


def _login_body(note: str) -> str:
    return (
        f"<h1>orgsync</h1><p>{escape(note)}</p><form method='post' action='/login'>"
        "<input type='password' name='secret' autocomplete='current-password'>"
        "<button type='submit'>Sign in</button></form>"
    )


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


# --- the page -------------------------------------------------------------------------------


async def page(request: web.Request) -> web.Response:
    status = request.app[STATUS]
    notes: list[str] = [
        f"{what.capitalize()} {request.query[what]}."
        for what in ("retried", "purged")
        if what in request.query
    ]
    try:
        await status.dlq.refresh()
        topics = await topic_stats(status.settings)
    except (KafkaUnavailable, KafkaError, TimeoutError, OSError) as error:
        notes.append(f"Kafka is unavailable ({type(error).__name__}); figures may be stale.")
        topics = {}
    samples = _samples(status.registry)
    body = [
        f"<h1>orgsync</h1><p>As of {when(time.time())}.</p>",
        *(f"<p class='note'>{escape(n)}</p>" for n in notes),
        _routes_table(status, samples, topics),
        topics_table(topics),
        dlq_table(status.dlq.entries()),
    ]
    return html_response("".join(body), 200)


Samples = dict[str, list[tuple[dict[str, str], float]]]


def _samples(registry: CollectorRegistry) -> Samples:
    found: Samples = {}
    for metric in registry.collect():
        for sample in metric.samples:
            found.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return found


def _sum(samples: Samples, name: str, **labels: str) -> int:
    return int(
        sum(
            value
            for found, value in samples.get(name, [])
            if all(found.get(k) == v for k, v in labels.items())
            and found.get("outcome") != "failed"
        )
    )


def _route_row(
    status: Status, route: Route, samples: Samples, topics: Mapping[str, TopicStat]
) -> list[str]:
    writes = topics.get(status.settings.topics.writes(route.target))
    open_entries = len(status.dlq.entries(route.name))
    return [
        route.name,
        ", ".join(sorted(route.modules)),
        str(_sum(samples, "orgsync_changes_total", org=route.source)),
        str(_sum(samples, "orgsync_writes_total", target=route.target)),
        str(_sum(samples, "orgsync_dead_letters_total", route=route.name)),
        str(open_entries),
        lag_text(writes),
        when(writes.newest) if writes and writes.newest else "never",
    ]


def _routes_table(status: Status, samples: Samples, topics: Mapping[str, TopicStat]) -> str:
    head = [
        "Route",
        "Modules",
        "Changes read",
        "Records written (target)",
        "Dead letters",
        "Open in DLQ",
        "Lag",
        "Last write queued",
    ]
    rows = [
        (
            f"class='route' data-route='{escape(r.name, quote=True)}'",
            _route_row(status, r, samples, topics),
        )
        for r in status.settings.sync
    ]
    return "<h2>Routes</h2>" + table("routes", head, rows)

"""``ZohoClient``: one org's Zoho CRM, with an explicit lifecycle.

::

    async with ZohoClient(connection) as zoho:          # or: await zoho.start() / stop()
        records = await zoho.get_by_ids("Leads", ids, ["Last_Name", "Email"])
        outcomes = await zoho.upsert("Leads", rows, ["Origin_Record_Id"], trigger=[])

The client owns its limits (concurrency slots, credit ledger) and its token manager;
the aiohttp session is injected (one per process) or created and closed by the client.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import aiohttp

from .attachments import AttachmentsAPI
from .auth import TokenCache, TokenEndpoint, TokenManager
from .bulk import BulkReadAPI
from .currencies import CurrenciesAPI
from .endpoints import OrgEndpoints
from .limits import (
    BackoffPolicy,
    ConcurrencyLimiter,
    CreditLedger,
    edition_concurrency,
    edition_daily_credits,
)
from .metadata import MetadataAPI, TtlCache
from .metrics import ZohoMetrics
from .notifications import WatchAPI
from .query import QueryAPI
from .records import RecordsAPI
from .related import RelatedAPI
from .related_lists import RelatedListsAPI
from .transport import ZohoTransport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrgConnection:
    """What the client needs to know about one org; secrets stay out of ``repr``."""

    name: str
    dc: str
    edition: str
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    accounts_url: str | None = None
    api_url: str | None = None
    token_cache_path: Path | None = None
    max_concurrency: int | None = None  # default (and ceiling): the edition's limit
    daily_credit_budget: int | None = None  # default: the edition's base allowance
    credit_reserve: float = 0.2  # share of the budget that only live traffic may spend

    def __post_init__(self) -> None:
        if not 0 <= self.credit_reserve < 1:
            raise ValueError("credit_reserve is a share of the budget: 0 <= x < 1")

    @property
    def endpoints(self) -> OrgEndpoints:
        return OrgEndpoints.for_dc(self.dc, self.accounts_url, self.api_url)

    @property
    def concurrency(self) -> int:
        """Calls this client may have in flight: Zoho counts them per user per app, so one
        client (one app, one user) never goes beyond the edition's slots, whatever is set."""
        slots = edition_concurrency(self.edition)
        return min(self.max_concurrency, slots) if self.max_concurrency else slots

    @property
    def credit_budget(self) -> int:
        return self.daily_credit_budget or edition_daily_credits(self.edition)


class ZohoClient(
    RecordsAPI,
    RelatedAPI,
    RelatedListsAPI,
    AttachmentsAPI,
    CurrenciesAPI,
    QueryAPI,
    BulkReadAPI,
    MetadataAPI,
    WatchAPI,
):
    def __init__(
        self,
        connection: OrgConnection,
        *,
        session: aiohttp.ClientSession | None = None,
        metrics: ZohoMetrics | None = None,
        backoff: BackoffPolicy | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        timeout: float = 30.0,
        token_margin: float = 60.0,
        metadata_ttl: float = 3600.0,
        api_version: str = "v8",
    ) -> None:
        self.connection = connection
        self.endpoints = connection.endpoints
        self.metrics = metrics if metrics is not None else ZohoMetrics.create()
        self.backoff = backoff or BackoffPolicy()
        self.limiter = ConcurrencyLimiter(connection.concurrency)
        budget = connection.credit_budget
        self.ledger = CreditLedger(
            budget,
            int(budget * connection.credit_reserve),
            clock=clock,
            sleep=sleep,
            org=connection.name,
        )
        self._session = session
        self._owns_session = session is None
        self._clock = clock
        self._sleep = sleep
        self._timeout = timeout
        self._token_margin = token_margin
        self._api_version = api_version
        self._metadata = TtlCache(metadata_ttl)
        self._tokens: TokenManager | None = None
        self._transport_: ZohoTransport | None = None

    @property
    def name(self) -> str:
        return self.connection.name

    @property
    def _transport(self) -> ZohoTransport:  # type: ignore[override]
        if self._transport_ is None:
            raise RuntimeError(f"ZohoClient {self.name!r} is not started")
        return self._transport_

    @property
    def tokens(self) -> TokenManager:
        return self._transport.tokens

    async def start(self) -> None:
        if self._transport_ is not None:
            return
        if self._session is None:
            self._session = aiohttp.ClientSession()
        tokens = self._token_manager(self._session)
        self._transport_ = ZohoTransport(
            self._session,
            tokens,
            org=self.name,
            limiter=self.limiter,
            ledger=self.ledger,
            backoff=self.backoff,
            metrics=self.metrics,
            clock=self._clock,
            sleep=self._sleep,
            timeout=self._timeout,
            api_version=self._api_version,
        )
        log.debug("zoho client started org=%s dc=%s", self.name, self.endpoints.dc)

    def _token_manager(self, session: aiohttp.ClientSession) -> TokenManager:
        conn = self.connection
        endpoint = TokenEndpoint(
            session,
            self.endpoints,
            conn.client_id,
            conn.client_secret,
            org=conn.name,
            timeout=self._timeout,
        )
        cache = None
        if conn.token_cache_path is not None:
            cache = TokenCache(conn.token_cache_path, conn.refresh_token)

        return TokenManager(
            lambda: endpoint.refresh(conn.refresh_token),
            org=conn.name,
            clock=self._clock,
            margin=self._token_margin,
            cache=cache,
            accept_api_domain=self.endpoints.accept_api_domain,
            metrics=self.metrics,
        )

    async def stop(self) -> None:
        self._transport_ = None
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> ZohoClient:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

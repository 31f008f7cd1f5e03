"""Metadata API (reference §9): fields of a module and the org's users, cached.

Each cache entry is fetched once for all concurrent callers and kept for ``ttl`` seconds
(metadata changes rarely; ``clear_metadata`` drops it after a known change).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .limits import Priority
from .transport import Call, ZohoTransport


class TtlCache:
    """Single-flight async cache: one fetch per key per ``ttl``, shared by concurrent callers."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, asyncio.Future[Any]]] = {}

    async def get(self, key: str, fetch: Callable[[], Awaitable[Any]]) -> Any:
        entry = self._entries.get(key)
        if entry is None or self._clock() >= entry[0] or _failed(entry[1]):
            entry = (self._clock() + self._ttl, asyncio.ensure_future(fetch()))
            self._entries[key] = entry
        return await asyncio.shield(entry[1])

    def clear(self) -> None:
        self._entries.clear()


def _failed(future: asyncio.Future[Any]) -> bool:
    return future.done() and (future.cancelled() or future.exception() is not None)


class MetadataAPI:
    _transport: ZohoTransport
    _metadata: TtlCache

    async def fields(self, module: str, priority: Priority = Priority.LIVE) -> list[dict[str, Any]]:
        """Field metadata of ``module`` (``api_name``, ``data_type``, flags, picklists…)."""

        async def fetch() -> list[dict[str, Any]]:
            call = Call(
                "GET", "/settings/fields", "metadata", params={"module": module}, priority=priority
            )
            response = await self._transport.call(call)
            body = response.body if isinstance(response.body, dict) else {}
            return list(body.get("fields") or [])

        result: list[dict[str, Any]] = await self._metadata.get(f"fields:{module}", fetch)
        return result

    async def field_names(self, module: str, priority: Priority = Priority.LIVE) -> list[str]:
        return [str(f["api_name"]) for f in await self.fields(module, priority) if "api_name" in f]

    async def users(
        self, type: str = "AllUsers", priority: Priority = Priority.LIVE
    ) -> list[dict[str, Any]]:
        """Every user of the org (all pages); map owners across orgs by lower-cased email."""

        async def fetch() -> list[dict[str, Any]]:
            users: list[dict[str, Any]] = []
            page, more = 1, True
            while more:
                params = {"type": type, "page": str(page), "per_page": "200"}
                call = Call("GET", "/users", "metadata", params=params, priority=priority)
                response = await self._transport.call(call)
                body = response.body if isinstance(response.body, dict) else {}
                users += body.get("users") or []
                more = bool((body.get("info") or {}).get("more_records"))
                page += 1
            return users

        result: list[dict[str, Any]] = await self._metadata.get(f"users:{type}", fetch)
        return result

    def clear_metadata(self) -> None:
        self._metadata.clear()

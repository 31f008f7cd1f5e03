"""The transform's context per route and module (pipeline/mapping/context.py): field metadata,
users and currencies of both orgs, and the links that resolve lookups."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from orgsync_kernel.events import link_key
from orgsync_kernel.settings import Route, Settings
from pipeline.mapping.money import exchange_rates
from pipeline.mapping.transforms import TransformContext
from pipeline.sync.metadata import REUSE_SECONDS, Metadata


class Contexts:
    def __init__(self, settings: Settings, metadata: Metadata, links: Mapping[str, str]) -> None:
        self.metadata = metadata
        self.links = links
        self._rates = exchange_rates(settings.exchange_rates)
        self._built: dict[tuple[str, str], tuple[tuple[Any, ...], TransformContext, float]] = {}

    async def get(self, route: Route, module: str) -> TransformContext:
        """Reused for `REUSE_SECONDS` like the metadata it holds (its half-dozen awaits cost
        more than the transform), then rebuilt only when a piece of metadata was refetched."""
        cached = self._built.get((route.name, module))
        now = time.monotonic()
        if cached is not None and now - cached[2] < REUSE_SECONDS:
            return cached[1]
        fields = await self.metadata.fields(route.target, route.target_module(module))
        rows = {
            subform.api_name: await self.metadata.fields(route.target, str(subform.row_module))
            for subform in fields.subforms
        }
        source_money = await self.metadata.money(route.source)
        target_money = await self.metadata.money(route.target)
        source_users = await self.metadata.users(route.source)
        target_users = await self.metadata.users(route.target)
        parts = (fields, source_users, target_users, source_money, target_money, *rows.values())
        if cached is not None and len(cached[0]) == len(parts):
            if all(a is b for a, b in zip(cached[0], parts, strict=True)):
                self._built[(route.name, module)] = (cached[0], cached[1], now)
                return cached[1]

        def resolve(parent_module: str, source_id: str) -> str | None:
            return self.links.get(link_key(route.source, parent_module, source_id, route.target))

        context = TransformContext.for_route(
            route,
            module,
            fields,
            source_users,
            target_users,
            resolve,
            rows,
            (source_money, target_money),
            self._rates,
        )
        self._built[(route.name, module)] = (parts, context, now)
        return context

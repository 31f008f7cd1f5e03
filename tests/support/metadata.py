"""An org's metadata as the processor asks for it (pipeline/sync/metadata.py), without Zoho."""

from __future__ import annotations

from typing import Any

from connectors.zoho import OrgCurrency


class FakeOrg:
    """Every module has `fields`; no users, no currencies but the org's USD."""

    def __init__(self, fields: list[dict[str, Any]]) -> None:
        self._fields = fields

    async def fields(self, module: str) -> list[dict[str, Any]]:
        return self._fields

    async def users(self) -> list[dict[str, Any]]:
        return []

    async def currencies(self) -> list[Any]:
        return []

    async def org_currency(self) -> OrgCurrency:
        return OrgCurrency("USD", False)

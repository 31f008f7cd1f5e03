"""Notification API watch channels (reference §5): subscribe, get, update, disable.

A channel expires after 1 hour unless ``channel_expiry`` says otherwise (at most 1 week
ahead); the channel manager renews with ``watch_update`` before that.  The ``token`` is
echoed in every callback and is the callback's only proof of origin, so it is a secret:
it is not in ``repr``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .limits import Priority
from .outcomes import WriteOutcome, parse_write_response
from .records import zoho_datetime
from .transport import Call, ZohoTransport

MAX_TOKEN_LENGTH = 50
MAX_EXPIRY = timedelta(days=7)


@dataclass(frozen=True)
class WatchChannel:
    channel_id: int | str
    events: Sequence[str]  # "Leads.all", "Deals.edit", …
    notify_url: str
    token: str | None = field(default=None, repr=False)
    channel_expiry: datetime | None = None
    return_affected_field_values: bool = False
    notify_on_related_action: bool = False
    notification_condition: Sequence[dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        if self.token is not None and len(self.token) > MAX_TOKEN_LENGTH:
            raise ValueError(f"a channel token has at most {MAX_TOKEN_LENGTH} characters")
        if not self.events:
            raise ValueError("a channel needs at least one event")

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "channel_id": str(self.channel_id),
            "events": list(self.events),
            "notify_url": self.notify_url,
            "return_affected_field_values": self.return_affected_field_values,
            "notify_on_related_action": self.notify_on_related_action,
        }
        if self.token is not None:
            body["token"] = self.token
        if self.channel_expiry is not None:
            body["channel_expiry"] = zoho_datetime(self.channel_expiry)
        if self.notification_condition is not None:
            body["notification_condition"] = list(self.notification_condition)
        return body


class WatchAPI:
    _transport: ZohoTransport

    async def _watch(
        self,
        method: str,
        body: Any = None,
        params: dict[str, str] | None = None,
        priority: Priority = Priority.LIVE,
    ) -> Any:
        call = Call(
            method, "/actions/watch", "notifications", params=params, body=body, priority=priority
        )
        return (await self._transport.call(call)).body

    async def watch_subscribe(self, channels: Sequence[WatchChannel]) -> list[WriteOutcome]:
        """Enable channels; one outcome per channel, in order."""
        body = await self._watch("POST", {"watch": [c.to_json() for c in channels]})
        return parse_write_response(body, len(channels), None, key="watch")

    async def watch_get(
        self, channel_id: int | str | None = None, module: str | None = None
    ) -> list[dict[str, Any]]:
        """The org's channels (all pages), as Zoho lists them (``all`` events expanded)."""
        found: list[dict[str, Any]] = []
        page, more = 1, True
        while more:
            params = {"page": str(page), "per_page": "200"}
            if channel_id is not None:
                params["channel_id"] = str(channel_id)
            if module is not None:
                params["module"] = module
            body = await self._watch("GET", params=params)
            body = body if isinstance(body, dict) else {}
            found += body.get("watch") or []
            more = bool((body.get("info") or {}).get("more_records"))
            page += 1
        return found

    async def watch_update(
        self, channels: Sequence[WatchChannel], *, replace: bool = False
    ) -> list[WriteOutcome]:
        """Renew or change channels: PATCH keeps unspecified keys, ``replace`` PUTs."""
        method = "PUT" if replace else "PATCH"
        body = await self._watch(method, {"watch": [c.to_json() for c in channels]})
        return parse_write_response(body, len(channels), None, key="watch")

    async def watch_disable(self, channel_ids: Sequence[int | str]) -> list[WriteOutcome]:
        """Disable whole channels."""
        params = {"channel_ids": ",".join(str(c) for c in channel_ids)}
        body = await self._watch("DELETE", params=params)
        return parse_write_response(body, len(channel_ids), None, key="watch")

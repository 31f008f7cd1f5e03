"""Notification API channels (reference §5): one per source org and synced module.

Channels ask for related actions too (``notify_on_related_action: true``, Zoho's default,
reference §20): a note or attachment added to a record, or a record linked to it, is then
reported as an update of that record, which is how its related items reach the target live.
A channel listed with the flag off (made by an earlier release) is subscribed again with it on.

Each channel gets a random id and a random token (<= 50 characters) that Zoho echoes in
every callback; both are written to a compacted Kafka topic *before* subscribing, so a
callback that arrives right away, or after a restart, still verifies. A periodic check
lists the org's channels, recreates the ones that vanished and renews the ones close to
expiry. Stopping cancels the check and leaves the channels alive for the next start.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.zoho import WatchChannel, ZohoClient, ZohoError

from ..kafka import KafkaKV, KafkaUnavailable

log = logging.getLogger(__name__)
KEY_PREFIX = "channel/"


@dataclass(frozen=True)
class ChannelState:
    org: str
    module: str
    channel_id: str
    token: str = field(repr=False)
    notify_url: str
    expires_at: float = 0.0  # epoch seconds, as we asked Zoho

    @property
    def key(self) -> str:
        return f"{KEY_PREFIX}{self.org}/{self.module}"

    def to_json(self) -> dict[str, Any]:
        return {
            "org": self.org,
            "module": self.module,
            "channel_id": self.channel_id,
            "token": self.token,
            "notify_url": self.notify_url,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChannelState:
        return cls(
            str(data["org"]),
            str(data["module"]),
            str(data["channel_id"]),
            str(data["token"]),
            str(data["notify_url"]),
            float(data["expires_at"]),
        )


def new_channel(org: str, module: str, notify_url: str) -> ChannelState:
    channel_id = str(10**17 + secrets.randbelow(9 * 10**17))  # an 18-digit long, as Zoho's
    return ChannelState(org, module, channel_id, secrets.token_urlsafe(36), notify_url)


class ChannelManager:
    """Keeps a channel alive per source org and synced module; answers ``token_for``."""

    def __init__(
        self,
        public_url: str | None,
        watched: Mapping[str, frozenset[str]],
        clients: Mapping[str, ZohoClient],
        kv: KafkaKV,
        *,
        lifetime: timedelta = timedelta(days=1),
        renew_before: timedelta = timedelta(hours=6),
        check_interval: float = 900.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if public_url is None:
            raise ValueError("the Notification API needs ingress.public_url")
        if not timedelta(0) < lifetime <= timedelta(days=7):
            raise ValueError("a channel lives at most one week")
        self.public_url = public_url
        self.watched = watched
        self.clients = clients
        self.kv = kv
        self.lifetime = lifetime
        self.renew_before = renew_before
        self.check_interval = check_interval
        self.clock = clock
        self._states: dict[tuple[str, str], ChannelState] = {}
        self._task: asyncio.Task[None] | None = None

    def token_for(self, org: str, channel_id: str) -> str | None:
        state = self._states.get((org, channel_id))
        return state.token if state is not None else None

    def channels(self) -> list[ChannelState]:
        return list(self._states.values())

    async def load(self) -> None:
        """Read the channels of earlier runs, so their callbacks verify from now on."""
        for _, data in self.kv.items(KEY_PREFIX):
            self._remember(ChannelState.from_json(data))

    async def start(self) -> None:
        await self.load()
        await self.check()
        self._task = asyncio.create_task(self._run(), name="orgsync-channels")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.check_interval)
            await self.check()

    async def check(self) -> None:
        """One pass over every org: create, recreate or renew what needs it."""
        for org in sorted(self.clients):
            modules = self.watched.get(org, frozenset())
            if modules:
                await self._check_org(org, modules)

    async def _check_org(self, org: str, modules: frozenset[str]) -> None:
        client = self.clients[org]
        try:
            listed = {str(c.get("channel_id")): c for c in await client.watch_get()}
        except ZohoError as error:
            log.warning("channels: cannot list org=%s: %s", org, error)
            return
        for module in sorted(modules):
            try:
                await self._ensure(client, org, module, listed)
            except (ZohoError, KafkaUnavailable) as error:
                log.warning("channels: org=%s module=%s not ensured: %s", org, module, error)

    async def _ensure(
        self, client: ZohoClient, org: str, module: str, listed: Mapping[str, Mapping[str, Any]]
    ) -> None:
        url = f"{self.public_url}/notify/{org}"
        state = self._stored(org, module)
        if state is None:
            state = new_channel(org, module, url)
        elif state.notify_url != url:  # public_url changed: same channel, new address
            state = replace(state, notify_url=url)
        elif state.channel_id in listed and not self._stale(state, listed[state.channel_id]):
            return
        await self._subscribe(client, state, renew=state.channel_id in listed)

    def _stored(self, org: str, module: str) -> ChannelState | None:
        for state in self._states.values():
            if (state.org, state.module) == (org, module):
                return state
        return None

    def _stale(self, state: ChannelState, listed: Mapping[str, Any]) -> bool:
        """Close to expiry, or subscribed without related actions."""
        expires_at = _epoch(listed.get("channel_expiry")) or state.expires_at
        expiring = expires_at - self.clock() < self.renew_before.total_seconds()
        return expiring or listed.get("notify_on_related_action") is False

    async def _subscribe(self, client: ZohoClient, state: ChannelState, *, renew: bool) -> None:
        expiry = datetime.fromtimestamp(self.clock(), UTC) + self.lifetime
        state = replace(state, expires_at=expiry.timestamp())
        await self.kv.put(state.key, state.to_json())  # before Zoho can call back with it
        self._remember(state)
        channel = WatchChannel(
            int(state.channel_id),
            [f"{state.module}.all"],
            state.notify_url,
            state.token,
            expiry.replace(microsecond=0),
            notify_on_related_action=True,
        )
        outcome = (await (client.watch_update if renew else client.watch_subscribe)([channel]))[0]
        if not outcome.ok and renew and outcome.code == "NOT_SUBSCRIBED":
            outcome = (await client.watch_subscribe([channel]))[0]
        action = "renewed" if renew else "subscribed"
        if outcome.ok:
            log.info(
                "channels: %s org=%s module=%s channel=%s",
                action,
                state.org,
                state.module,
                state.channel_id,
            )
        else:
            log.warning(
                "channels: org=%s module=%s refused: %s %s",
                state.org,
                state.module,
                outcome.code,
                outcome.message,
            )

    def _remember(self, state: ChannelState) -> None:
        stale = [
            k for k, s in self._states.items() if (s.org, s.module) == (state.org, state.module)
        ]
        for key in stale:
            del self._states[key]
        self._states[(state.org, state.channel_id)] = state


def _epoch(value: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(value)).timestamp() if value else None
    except ValueError:
        return None

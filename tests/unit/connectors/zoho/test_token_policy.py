"""TokenManager as a policy: the refresher is a plain coroutine, the clock is injected."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from connectors.zoho.auth import AccessToken, TokenCache, TokenGrant, TokenManager
from connectors.zoho.errors import InvalidCode, RefreshThrottled, TransportError


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Refresher:
    """Counts refreshes; yields to the loop so concurrent callers really overlap."""

    def __init__(self, *errors: Exception) -> None:
        self.calls = 0
        self.errors = list(errors)

    async def __call__(self) -> TokenGrant:
        self.calls += 1
        await asyncio.sleep(0)
        if self.errors:
            raise self.errors.pop(0)
        return TokenGrant(f"tok-{self.calls}", "https://www.zohoapis.com", 3600)


def manager(refresher: Refresher, clock: Clock, **kw: object) -> TokenManager:
    return TokenManager(refresher, org="alpha", clock=clock, margin=60, **kw)  # type: ignore[arg-type]


def test_access_token_expiry_with_margin_and_repr() -> None:
    token = AccessToken("secret-value", "https://www.zohoapis.com", expires_at=100.0)
    assert not token.is_expired(39.9, margin=60)
    assert token.is_expired(40.0, margin=60)
    assert "secret-value" not in repr(token)
    assert token.header == "Zoho-oauthtoken secret-value"
    assert "tok" not in repr(TokenGrant("tok", "https://x", 1, "tok"))


async def test_single_flight_for_concurrent_callers() -> None:
    refresher, clock = Refresher(), Clock()
    tokens = manager(refresher, clock)
    got = await asyncio.gather(*(tokens.get() for _ in range(500)))
    assert refresher.calls == 1
    assert {t.value for t in got} == {"tok-1"}


async def test_cached_until_margin_before_expiry() -> None:
    refresher, clock = Refresher(), Clock()
    tokens = manager(refresher, clock)
    first = await tokens.get()
    clock.now += 3600 - 61
    assert (await tokens.get()) is first
    clock.now += 1
    assert (await tokens.get()).value == "tok-2"
    assert refresher.calls == 2


async def test_invalidate_only_the_token_that_failed() -> None:
    refresher, clock = Refresher(), Clock()
    tokens = manager(refresher, clock)
    old = await tokens.get()
    tokens.invalidate(old)
    new = await tokens.get()
    tokens.invalidate(old)  # a late caller with the old token: no second refresh
    assert (await tokens.get()) is new
    assert refresher.calls == 2


async def test_refresh_limit_backs_off_instead_of_hammering() -> None:
    refresher, clock = Refresher(), Clock()
    tokens = manager(refresher, clock, refresh_limit=3, refresh_window=600)
    for _ in range(3):
        tokens.invalidate(await tokens.get())
        clock.now += 10
    with pytest.raises(RefreshThrottled) as info:
        await tokens.get()
    assert refresher.calls == 3
    assert info.value.retry_after == pytest.approx(600 - 30)
    clock.now += 600
    assert (await tokens.get()).value == "tok-4"


async def test_auth_failure_is_remembered_no_retry_storm() -> None:
    refresher, clock = Refresher(InvalidCode("refresh token revoked")), Clock()
    tokens = manager(refresher, clock, auth_failure_cooldown=300)
    results = await asyncio.gather(*(tokens.get() for _ in range(50)), return_exceptions=True)
    assert all(isinstance(r, InvalidCode) for r in results)
    assert refresher.calls == 1
    clock.now += 301
    assert (await tokens.get()).value == "tok-2"


async def test_zoho_throttle_answer_starts_a_cooldown() -> None:
    refresher, clock = Refresher(RefreshThrottled("Access Denied")), Clock()
    tokens = manager(refresher, clock, throttle_cooldown=45)
    with pytest.raises(RefreshThrottled):
        await tokens.get()
    clock.now += 5
    with pytest.raises(RefreshThrottled) as info:
        await tokens.get()
    assert info.value.retry_after == pytest.approx(40)
    assert refresher.calls == 1


async def test_transient_failure_is_not_remembered() -> None:
    refresher, clock = Refresher(TransportError("reset")), Clock()
    tokens = manager(refresher, clock)
    with pytest.raises(TransportError):
        await tokens.get()
    assert (await tokens.get()).value == "tok-2"


async def test_an_unwritable_token_cache_costs_nothing_but_the_cache(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "home"
    blocker.write_text("a file where the cache directory should be")
    cache = TokenCache(blocker / "tokens" / "alpha.json", "refresh-secret")
    refresher = Refresher()
    tokens = manager(refresher, Clock(), cache=cache)

    assert (await tokens.get()).value == "tok-1"
    assert refresher.calls == 1
    assert "token cache not written" in caplog.text
    assert "tok-1" not in caplog.text and "refresh-secret" not in caplog.text
    cache.clear()  # nothing to remove, nothing raised

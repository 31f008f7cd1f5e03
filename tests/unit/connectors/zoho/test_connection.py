from __future__ import annotations

import pytest

from connectors.zoho.client import OrgConnection, ZohoClient


def conn(**kw: object) -> OrgConnection:
    base: dict[str, object] = dict(
        name="alpha",
        dc="in",
        edition="professional",
        client_id="1000.ALPHA",
        client_secret="s3cr3t-client",
        refresh_token="1000.refresh.secret",
    )
    return OrgConnection(**{**base, **kw})  # type: ignore[arg-type]


def test_secrets_not_in_repr() -> None:
    text = repr(conn())
    assert "s3cr3t-client" not in text and "1000.refresh.secret" not in text
    assert "alpha" in text and "1000.ALPHA" in text


def test_defaults_from_edition_and_overrides() -> None:
    assert (conn().concurrency, conn().credit_budget) == (15, 50_000)
    assert conn(max_concurrency=3, daily_credit_budget=900).concurrency == 3
    assert conn(max_concurrency=40).concurrency == 15  # never beyond the app's slots
    assert conn().endpoints.api_url == "https://www.zohoapis.in"


def test_client_sizes_limits_from_connection() -> None:
    client = ZohoClient(conn(max_concurrency=4, daily_credit_budget=1000, credit_reserve=0.25))
    assert client.limiter.limit == 4
    assert (client.ledger.budget, client.ledger.reserve) == (1000, 250)


def test_client_is_not_connected_before_start() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        _ = ZohoClient(conn()).tokens


def test_bad_reserve() -> None:
    with pytest.raises(ValueError):
        conn(credit_reserve=1.5)

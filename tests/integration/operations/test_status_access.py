"""The status page and admin API refuse requests without the admin secret beyond loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from connectors.ingress import IngressService
from orgsync_kernel.settings import Settings
from orgsync_operations.status import Access, StatusPage, session_token
from tests.support.status_page import (
    ADMIN_SECRET,
    SECRETS,
    make_settings,
    non_loopback_address,
)

BEARER = {"Authorization": f"Bearer {ADMIN_SECRET}"}
PATHS = (
    ("GET", "/"),
    ("GET", "/trace?org=src&module=Accounts&id=1"),
    ("GET", "/admin/trace?org=src&module=Accounts&id=1"),
    ("GET", "/admin/dlq"),
    ("GET", "/admin/dlq/some-id"),
    ("POST", "/admin/dlq/some-id/retry"),
    ("POST", "/admin/dlq/some-id/purge"),
)


@pytest.fixture
async def exposed(kafka_broker: str, unique_name: str) -> AsyncIterator[str]:
    """An ingress bound to this machine's non-loopback address, with an admin secret."""
    settings = make_settings(
        kafka_broker,
        unique_name,
        "http://127.0.0.1:9",
        listen=f"{non_loopback_address()}:0",
        admin_secret=ADMIN_SECRET,
    )
    registry = CollectorRegistry()
    async with IngressService(
        settings,
        {},
        registry,
        poll=False,
        watch=False,
        extensions=[StatusPage(settings, registry, {})],
    ) as svc:
        yield svc.url


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-secret-0123456789"},
        {"Authorization": f"Basic {ADMIN_SECRET}"},
        {"Cookie": "orgsync_admin=forged"},
    ],
)
async def test_beyond_loopback_every_admin_path_refuses_without_the_secret(
    exposed: str,
    headers: dict[str, str],
) -> None:
    async with aiohttp.ClientSession() as http:
        for method, path in PATHS:
            async with http.request(
                method, exposed + path, headers=headers, allow_redirects=False
            ) as response:
                body = await response.text()
                assert response.status == 401, (method, path, response.status)
                assert "Dead letters" not in body and all(s not in body for s in SECRETS)
        async with http.get(exposed + "/healthz") as response:
            assert response.status == 200  # the webhook side stays as it was


async def test_bearer_and_login_cookie_open_the_page(exposed: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(exposed + "/admin/dlq", headers=BEARER) as response:
            assert response.status == 200 and await response.json() == []
        async with http.post(exposed + "/login", data={"secret": "wrong-one-0123456789"}) as r:
            assert r.status == 401
        async with http.post(
            exposed + "/login", data={"secret": ADMIN_SECRET}, allow_redirects=False
        ) as response:
            assert response.status == 303
            cookie = response.cookies["orgsync_admin"]
            assert (
                cookie.value != ADMIN_SECRET
                and cookie["httponly"]
                and cookie["samesite"] == "Strict"
            )
        jar = {"Cookie": f"orgsync_admin={cookie.value}"}
        async with http.get(exposed + "/", headers=jar) as response:
            page = await response.text()
            assert response.status == 200 and "src-&gt;tgt" in page
            assert all(secret not in page for secret in SECRETS)
        cross_site = {**jar, "Origin": "https://evil.example"}
        async with http.post(exposed + "/admin/dlq/x/purge", headers=cross_site) as response:
            assert response.status == 401


def settings_for(listen: str, admin_secret: str | None) -> Settings:
    return make_settings(
        "127.0.0.1:9092", "p", "http://127.0.0.1:9", listen=listen, admin_secret=admin_secret
    )


def test_policy_loopback_without_secret_is_open_except_through_a_proxy() -> None:
    access = Access.of(settings_for("127.0.0.1:8080", None))
    assert not access.required
    assert access.allows({}, {}, "POST", "127.0.0.1:8080")
    assert not access.allows({"X-Forwarded-For": "203.0.113.9"}, {}, "GET", "h")


def test_policy_a_configured_secret_is_required_even_on_loopback() -> None:
    access = Access.of(settings_for("[::1]:8080", ADMIN_SECRET))
    assert access.required
    assert not access.allows({}, {}, "GET", "h")
    assert access.allows(BEARER, {}, "POST", "h")
    cookie = {"orgsync_admin": session_token(ADMIN_SECRET)}
    assert access.allows({}, cookie, "POST", "h")
    assert access.allows({"Origin": "http://h"}, cookie, "POST", "h")
    assert not access.allows({"Origin": "http://other"}, cookie, "POST", "h")
    assert access.allows({"Origin": "http://other"}, cookie, "GET", "h")


def test_policy_beyond_loopback_requires_a_secret() -> None:
    access = Access.of(settings_for("0.0.0.0:8080", ADMIN_SECRET))
    assert access.required and not access.allows({}, {}, "GET", "h")
    with pytest.raises(ValueError, match="admin_secret is required"):
        settings_for("0.0.0.0:8080", None)

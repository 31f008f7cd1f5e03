from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from connectors.zoho.endpoints import DATA_CENTRES, OrgEndpoints, is_zoho_api_domain
from connectors.zoho.errors import AuthError, UntrustedApiDomain
from orgsync_kernel.settings import DataCentre

DCS = [
    ("us", "https://accounts.zoho.com", "https://www.zohoapis.com"),
    ("eu", "https://accounts.zoho.eu", "https://www.zohoapis.eu"),
    ("in", "https://accounts.zoho.in", "https://www.zohoapis.in"),
    ("au", "https://accounts.zoho.com.au", "https://www.zohoapis.com.au"),
    ("jp", "https://accounts.zoho.jp", "https://www.zohoapis.jp"),
    ("ca", "https://accounts.zohocloud.ca", "https://www.zohoapis.ca"),
    ("cn", "https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"),
    ("sa", "https://accounts.zoho.sa", "https://www.zohoapis.sa"),
    ("uk", "https://accounts.zoho.uk", "https://www.zohoapis.uk"),
]


@pytest.mark.parametrize(("dc", "accounts", "api"), DCS)
def test_dc_table(dc: str, accounts: str, api: str) -> None:
    ep = OrgEndpoints.for_dc(dc.upper())
    assert (ep.dc, ep.accounts_url, ep.api_url) == (dc, accounts, api)
    assert ep.token_url == f"{accounts}/oauth/v2/token"
    assert ep.accept_api_domain(api) == api
    assert ep.accept_api_domain(None) == api


def test_every_dc_is_in_the_table() -> None:
    assert set(DATA_CENTRES) == {dc for dc, _, _ in DCS}


def test_unknown_dc() -> None:
    with pytest.raises(ValueError, match="unknown Zoho data centre 'mars'"):
        OrgEndpoints.for_dc("mars")


def test_overrides_are_used_and_accepted() -> None:
    ep = OrgEndpoints.for_dc("in", "http://127.0.0.1:8700/", "http://127.0.0.1:8700/")
    assert ep.token_url == "http://127.0.0.1:8700/oauth/v2/token"
    assert ep.api_url == "http://127.0.0.1:8700"
    assert ep.accept_api_domain("http://127.0.0.1:8700") == "http://127.0.0.1:8700"
    # A real Zoho host is still a Zoho host.
    assert ep.accept_api_domain("https://www.zohoapis.in") == "https://www.zohoapis.in"


@pytest.mark.parametrize(
    "domain",
    [
        "https://sandbox.zohoapis.eu",
        "https://developer.zohoapis.com",
        "https://WWW.ZohoApis.com/",
    ],
)
def test_known_environments(domain: str) -> None:
    assert OrgEndpoints.for_dc("us").accept_api_domain(domain)


@pytest.mark.parametrize(
    "domain",
    [
        "https://evil.example.com",
        "http://www.zohoapis.com",  # no TLS
        "https://www.zohoapis.com.evil.io",
        "https://zohoapis.com@evil.io",
        "https://www.zohoapis.com:8443",
        "https://www.zohoapis.com/elsewhere",
        "http://127.0.0.1:9999",  # not the override
        "not a url",
    ],
)
def test_unknown_api_domain_is_refused(domain: str) -> None:
    ep = OrgEndpoints.for_dc("us", api_url="http://127.0.0.1:8700")
    with pytest.raises(UntrustedApiDomain) as info:
        ep.accept_api_domain(domain)
    assert isinstance(info.value, AuthError)
    assert "api_url" in str(info.value)
    assert not is_zoho_api_domain(domain)


def test_settings_take_the_dcs_from_this_one_table() -> None:
    adapter = TypeAdapter(DataCentre)
    assert [adapter.validate_python(dc) for dc in DATA_CENTRES] == list(DATA_CENTRES)
    assert "uk" in DATA_CENTRES
    with pytest.raises(ValidationError, match="Input should be 'us', .* or 'uk'"):
        adapter.validate_python("mars")

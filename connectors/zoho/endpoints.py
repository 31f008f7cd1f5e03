"""Zoho data centres: which accounts server and API host an org talks to.

An org is configured by ``dc``, looked up in ``DATA_CENTRES`` (orgsync_kernel/datacentres.py,
the one table, which the settings validate ``dc`` against); ``accounts_url``/``api_url``
override the table (for the emulator or a proxy).  ``api_domain`` from a token response is
followed only when it is a known Zoho API host or equals the configured override — a token is
never sent to any other host.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from orgsync_kernel.datacentres import DATA_CENTRES

from .errors import UntrustedApiDomain

# Production, sandbox and developer environments share the DC's accounts server.
_ENVIRONMENT_PREFIXES = ("www.", "sandbox.", "developer.")


def _zoho_api_hosts() -> frozenset[str]:
    tlds = {urlsplit(dc.api_url).hostname.removeprefix("www.") for dc in DATA_CENTRES.values()}  # type: ignore[union-attr]
    return frozenset(prefix + tld for tld in tlds for prefix in _ENVIRONMENT_PREFIXES)


KNOWN_API_HOSTS = _zoho_api_hosts()


def normalize_url(url: str) -> str:
    """Scheme and host lower-cased, no trailing slash, no query: comparable base URLs."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"not an absolute URL: {url!r}")
    path = parts.path.rstrip("/")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}"


def is_zoho_api_domain(url: str) -> bool:
    parts = urlsplit(url)
    return (
        parts.scheme == "https"
        and parts.hostname in KNOWN_API_HOSTS
        and parts.port in (None, 443)
        and parts.path in ("", "/")
    )


@dataclass(frozen=True)
class OrgEndpoints:
    dc: str
    accounts_url: str
    api_url: str
    api_url_override: str | None = None

    @classmethod
    def for_dc(
        cls, dc: str, accounts_url: str | None = None, api_url: str | None = None
    ) -> OrgEndpoints:
        key = dc.strip().lower()
        if key not in DATA_CENTRES:
            known = ", ".join(DATA_CENTRES)
            raise ValueError(f"unknown Zoho data centre {dc!r}; expected one of {known}")
        table = DATA_CENTRES[key]
        override = normalize_url(api_url) if api_url else None
        return cls(
            dc=key,
            accounts_url=normalize_url(accounts_url or table.accounts_url),
            api_url=override or table.api_url,
            api_url_override=override,
        )

    @property
    def token_url(self) -> str:
        return f"{self.accounts_url}/oauth/v2/token"

    def accept_api_domain(self, api_domain: str | None) -> str:
        """The API base URL to use for ``api_domain`` from a token response, or raise."""
        if not api_domain:
            return self.api_url
        try:
            candidate = normalize_url(api_domain)
        except ValueError:
            candidate = api_domain
        if candidate == self.api_url_override or is_zoho_api_domain(candidate):
            return candidate
        raise UntrustedApiDomain(
            f"the token response names api_domain {api_domain!r}, which is neither a Zoho "
            f"API host nor the configured api_url ({self.api_url_override or 'none'})"
        )

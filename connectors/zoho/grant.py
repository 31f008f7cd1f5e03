"""Exchange a Self Client grant token for a refresh token (``orgsync auth exchange``).

The refresh token goes into a secrets file (mode 0600), never to the terminal or logs.
The file is a JSON object (JSON is YAML) keyed by org name; other orgs' entries are kept::

    {"alpha": {"refresh_token": "1000.…"}, "beta": {"refresh_token": "1000.…"}}

An expired or already used grant raises ``InvalidCode``, whose message says that grant
tokens live only minutes and how to make a new one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from .auth import TokenEndpoint, write_private_file
from .endpoints import OrgEndpoints

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GrantResult:
    """Where the refresh token went; deliberately without the token."""

    org: str
    secrets_path: Path
    api_domain: str


async def exchange_grant(
    *,
    org: str,
    dc: str,
    client_id: str,
    client_secret: str,
    code: str,
    secrets_path: Path,
    accounts_url: str | None = None,
    api_url: str | None = None,
    session: aiohttp.ClientSession | None = None,
    http_timeout: float = 30.0,
) -> GrantResult:
    """Exchange ``code`` and store the refresh token under ``org`` in ``secrets_path``.

    Raises ``InvalidCode`` (grant expired/used), ``InvalidClient``/``InvalidClientSecret``
    (fix the configuration), ``GrantThrottled``/``TransportError`` (try again) — all
    ``ZohoError`` with a message fit for the terminal.
    """
    endpoints = OrgEndpoints.for_dc(dc, accounts_url, api_url)
    own = session is None
    http = session or aiohttp.ClientSession()
    try:
        endpoint = TokenEndpoint(
            http, endpoints, client_id, client_secret, org=org, timeout=http_timeout
        )
        grant = await endpoint.exchange_code(code.strip())
    finally:
        if own:
            await http.close()
    assert grant.refresh_token is not None  # exchange_code guarantees it
    store_refresh_token(secrets_path, org, grant.refresh_token)
    log.info("zoho refresh token stored org=%s path=%s", org, secrets_path)
    return GrantResult(org=org, secrets_path=secrets_path, api_domain=grant.api_domain)


def store_refresh_token(path: Path, org: str, refresh_token: str) -> None:
    """Merge ``{org: {"refresh_token": …}}`` into the secrets file, mode 0600."""
    secrets = _read_secrets(path)
    found = secrets.get(org)
    entry: dict[str, Any] = found if isinstance(found, dict) else {}
    secrets[org] = {**entry, "refresh_token": refresh_token}
    write_private_file(path, orjson.dumps(secrets, option=orjson.OPT_INDENT_2))


def _read_secrets(path: Path) -> dict[str, Any]:
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except orjson.JSONDecodeError:
        raise ValueError(f"{path} is not a JSON secrets file; refusing to overwrite it") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a JSON object; refusing to overwrite it")
    return data

"""Exchange a Self Client grant token for a refresh token (``orgsync auth exchange``).

The refresh token goes into a secrets file (mode 0600), never to the terminal or logs,
under the variable name the config's ``refresh_token: "${NAME}"`` refers to (the format
``orgsync_kernel.settings.read_secrets_file`` reads; other entries are kept).

An expired or already used grant raises ``InvalidCode``, whose message says that grant
tokens live only minutes and how to make a new one.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson
import yaml

from .auth import TokenEndpoint, write_private_file
from .endpoints import OrgEndpoints

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GrantResult:
    """Where the refresh token went; deliberately without the token."""

    org: str
    secrets_path: Path
    secret_name: str
    api_domain: str


async def exchange_grant(
    *,
    org: str,
    dc: str,
    client_id: str,
    client_secret: str,
    code: str,
    secrets_path: Path,
    secret_name: str | None = None,
    accounts_url: str | None = None,
    api_url: str | None = None,
    session: aiohttp.ClientSession | None = None,
    http_timeout: float = 30.0,
) -> GrantResult:
    """Exchange ``code``; store the refresh token as ``secret_name`` in ``secrets_path``.

    ``secret_name`` defaults to ``default_secret_name(org)``.

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
    name = secret_name or default_secret_name(org)
    store_refresh_token(secrets_path, name, grant.refresh_token)
    log.info("zoho refresh token stored org=%s name=%s path=%s", org, name, secrets_path)
    return GrantResult(org, secrets_path, name, grant.api_domain)


def default_secret_name(org: str) -> str:
    """``alpha-eu`` → ``ALPHA_EU_REFRESH_TOKEN`` (what ``${…}`` in the config should name)."""
    return re.sub(r"[^A-Za-z0-9]+", "_", org).strip("_").upper() + "_REFRESH_TOKEN"


def store_refresh_token(path: Path, name: str, refresh_token: str) -> None:
    """Set ``name`` in the secrets file (mode 0600), keeping every other entry.

    The file is what ``orgsync_kernel.settings`` reads: ``KEY=VALUE`` lines (kept in that style)
    or a YAML/JSON mapping of NAME to string (rewritten as JSON).
    """
    text = _read_text(path)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if lines and all(_ENV_LINE.match(ln) for ln in lines):
        write_private_file(path, _set_env_line(text, name, refresh_token).encode())
        return
    data = yaml.safe_load(text) if lines else {}
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a NAME: value secrets file; refusing to overwrite it")
    data[name] = refresh_token
    write_private_file(path, orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")


_ENV_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def _set_env_line(text: str, name: str, value: str) -> str:
    kept = [
        ln
        for ln in text.splitlines()
        if (m := _ENV_LINE.match(ln.strip())) is None or m.group(1) != name
    ]
    return "\n".join([*kept, f"{name}={value}"]) + "\n"

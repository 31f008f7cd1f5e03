"""`orgsync auth exchange`: a Self Client grant token becomes a refresh token in the secrets file.

The refresh token is stored under the variable the org's `refresh_token: "${NAME}"` names, in
the secrets file given by `--secrets-file` or the config's `secrets_file`; the command prints
where it went, never the token. The configuration is loaded as for any command, except that the
refresh-token variable of this one org may be missing (creating it is the point), and so may the
secrets file itself (the first exchange creates it, mode 0600).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orgsync.commands import DONE, PROBLEM, USAGE, add_log_level

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_PENDING = "pending-orgsync-auth-exchange"  # stands in for the token being created; never used


def register(commands: Any) -> None:
    auth = commands.add_parser(
        "auth",
        help="OAuth set-up of the orgs (Zoho Self Client)",
        description="OAuth set-up of the orgs. See docs/zoho-setup.md for the Self Client.",
    )
    actions = auth.add_subparsers(dest="auth_command", metavar="ACTION", required=True)
    exchange = actions.add_parser(
        "exchange",
        help="exchange a Self Client grant token for a refresh token",
        description="Exchange a Self Client grant token (API console > Self Client > Generate "
        "Code) for a refresh token and store it in the secrets file (mode 0600) "
        "under the variable the org's refresh_token refers to. Grant tokens live "
        "only minutes: run this right after generating one.",
    )
    exchange.add_argument("--config", required=True, help="the YAML/JSON configuration file")
    exchange.add_argument("--org", required=True, help="the org's name in the configuration")
    exchange.add_argument(
        "--code", required=True, help="the grant token; '-' reads it from standard input"
    )
    exchange.add_argument(
        "--secrets-file",
        default=None,
        help="where to store it (default: the config's secrets_file)",
    )
    add_log_level(exchange, "warning")
    exchange.set_defaults(handler=handle_exchange)


@dataclass(frozen=True)
class _Plan:
    variable: str | None  # the ${NAME} of orgs.<org>.refresh_token, when it is a reference
    secrets_path: Path | None


def _plan(config: Path, org: str, secrets_file: str | None) -> _Plan:
    """What the raw file says; if it cannot be read, `load_settings` reports why."""
    import yaml

    try:
        raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        raw = None
    raw = _mapping(raw)
    reference = _mapping(_mapping(raw.get("orgs")).get(org)).get("refresh_token")
    match = _REFERENCE.fullmatch(reference) if isinstance(reference, str) else None
    configured = raw.get("secrets_file")
    if secrets_file is not None:
        path: Path | None = Path(secrets_file)
    elif isinstance(configured, str):
        path = config.parent / configured
    else:
        path = None
    return _Plan(match.group(1) if match else None, path)


def _mapping(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def handle_exchange(args: argparse.Namespace) -> int:
    config = Path(args.config)
    plan = _plan(config, args.org, args.secrets_file)
    if plan.secrets_path is None:
        print(
            "orgsync auth exchange: no secrets file: pass --secrets-file PATH or set "
            "secrets_file in the configuration",
            file=sys.stderr,
        )
        return USAGE
    code = sys.stdin.readline().strip() if args.code == "-" else args.code.strip()
    if not code:
        print("orgsync auth exchange: the grant token is empty", file=sys.stderr)
        return USAGE
    created = _create_private(plan.secrets_path)
    status = _exchange(args.org, config, plan, code)
    if status != 0 and created:
        with suppress(FileNotFoundError):
            plan.secrets_path.unlink()
    return status


def _create_private(path: Path) -> bool:
    """An empty 0600 file, so that the configuration can name it before its first entry."""
    from connectors.zoho.auth import write_private_file

    if path.exists():
        return False
    write_private_file(path, b"")
    return True


def _exchange(org: str, config: Path, plan: _Plan, code: str) -> int:
    from connectors.zoho import ZohoError, exchange_grant
    from orgsync_kernel.config_file import ConfigError, load_settings

    assert plan.secrets_path is not None
    environ = dict(os.environ)
    if plan.variable is not None:
        environ[plan.variable] = _PENDING
    try:
        settings = load_settings(config, environ, plan.secrets_path)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return USAGE
    if org not in settings.orgs:
        print(
            f"orgsync auth exchange: no org {org!r} in {config} "
            f"(orgs: {', '.join(sorted(settings.orgs))})",
            file=sys.stderr,
        )
        return USAGE
    settings_org = settings.orgs[org]
    try:
        result = asyncio.run(
            exchange_grant(
                org=org,
                dc=settings_org.dc,
                client_id=settings_org.client_id,
                client_secret=settings_org.client_secret.get_secret_value(),
                code=code,
                secrets_path=plan.secrets_path,
                secret_name=plan.variable,
                accounts_url=settings_org.accounts_url,
                api_url=settings_org.api_url,
            )
        )
    except (ZohoError, ValueError, OSError) as error:  # ValueError: an unreadable secrets file
        print(f"orgsync auth exchange: {error}", file=sys.stderr)
        return PROBLEM
    print(
        f"Stored the refresh token of org {org} as {result.secret_name} in "
        f"{result.secrets_path} (mode 0600); API domain {result.api_domain}."
    )
    _advise(config, plan, settings.secrets_file, result.secret_name)
    return DONE


def _advise(config: Path, plan: _Plan, configured: Path | None, name: str) -> None:
    assert plan.secrets_path is not None
    if configured is None or configured.resolve() != plan.secrets_path.resolve():
        print(
            f"Pass --secrets-file {plan.secrets_path} to orgsync run and check, or set "
            f"secrets_file in {config}."
        )
    if name in os.environ:
        print(
            f"Note: {name} is also set in the environment, which wins over the secrets "
            f"file; unset it."
        )
    print(f"Next: orgsync check --config {config}")

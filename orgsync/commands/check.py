"""`orgsync check --config FILE`: is this configuration ready to run?

Checks, in order: the configuration file; Kafka (describe the cluster, compare the topics); per
org the credentials (one token refresh) and every scope the configuration needs, proven by a
read or listed as not verifiable (check_scopes.py); per route what becomes of money
(check_money.py); per route and module that the module exists in source and target, that the
configured fields exist (naming a likely rename), that `match_field` exists in the target and is
something Zoho upserts on, that the `link_existing` keys are searchable target fields, and that
the default owner is a target user (check_module.py).
Prints a table (or JSON); exit 0 when nothing failed (warnings allowed), 1 when a check failed,
2 when the configuration is invalid (its problems are the rows, nothing else is checked). Details
come from configuration names and Zoho's error codes and messages; never a secret.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from orgsync.commands import DONE, PROBLEM, USAGE, add_config_arguments, add_format
from orgsync.commands.check_module import FAIL, OK, SKIP, WARN, Fields, Row, check_module

if TYPE_CHECKING:
    import aiohttp

    from connectors.zoho import ZohoClient
    from orgsync_kernel.settings import Settings
    from pipeline.mapping.money import MoneyUnknown, OrgMoney
HTTP_TIMEOUT_S = 15.0


def register(commands: Any) -> None:
    check = commands.add_parser(
        "check",
        help="check the configuration, the Zoho orgs and Kafka before running",
        description="Validate the configuration; for each org refresh a token and prove the "
        "scopes the configuration needs by reads (writes: not verifiable); for each route "
        "show what becomes of money and check modules, fields, the match field (exists, "
        "unique in the target) and the default owner; check Kafka and its topics. "
        "Exit 0 when nothing failed, 1 when a check failed, 2 when "
        "the configuration is invalid.",
    )
    add_config_arguments(check, log_level="critical")
    add_format(check)
    check.add_argument(
        "--kafka-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how long to wait for Kafka (default: 5)",
    )
    check.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from orgsync_kernel.config_file import ConfigError, load_settings

    try:
        settings = load_settings(args.config, os.environ, args.secrets_file)
    except ConfigError as error:
        rows = [_config_row(error.path, problem) for problem in error.problems]
        status = USAGE
    else:
        rows = asyncio.run(run_checks(settings, args.config, args.kafka_timeout))
        status = PROBLEM if any(row.result == FAIL for row in rows) else DONE
    print(render_json(rows) if args.format == "json" else render_table(rows))
    return status


def _config_row(file: str, problem: str) -> Row:
    """`orgs.x.dc: message` -> a row for that path; a problem with the file itself -> the file."""
    path, sep, message = problem.partition(": ")
    if sep and " " not in path:
        return Row("config", path, FAIL, message)
    return Row("config", file, FAIL, problem)


# --- output --------------------------------------------------------------------------------------


def render_table(rows: Sequence[Row]) -> str:
    header = Row("CHECK", "ORG/ROUTE", "RESULT", "DETAIL")
    widths = [
        max(len(getattr(r, f)) for r in (header, *rows)) for f in ("check", "subject", "result")
    ]
    lines = [
        f"{r.check:<{widths[0]}}  {r.subject:<{widths[1]}}  {r.result:<{widths[2]}}  "
        f"{r.detail}".rstrip()
        for r in (header, *rows)
    ]
    counts = {kind: sum(r.result == kind for r in rows) for kind in (OK, WARN, FAIL, SKIP)}
    lines.append(
        f"\n{len(rows)} checks: {counts[OK]} ok, {counts[WARN]} warnings, "
        f"{counts[FAIL]} failed, {counts[SKIP]} skipped"
    )
    return "\n".join(lines)


def render_json(rows: Sequence[Row]) -> str:
    import orjson

    body = {
        "ok": not any(r.result == FAIL for r in rows),
        "checks": [dataclasses.asdict(r) for r in rows],
    }
    return orjson.dumps(body, option=orjson.OPT_INDENT_2).decode()


# --- the checks ----------------------------------------------------------------------------------


async def run_checks(settings: Settings, config: str, kafka_timeout: float) -> list[Row]:
    import aiohttp

    rows = [
        Row("config", str(config), OK, f"{len(settings.orgs)} orgs, {len(settings.sync)} routes")
    ]
    from orgsync.commands.check_kafka import check_kafka
    from orgsync.commands.check_money import check_currency

    kafka = asyncio.create_task(check_kafka(settings, kafka_timeout))
    async with aiohttp.ClientSession() as http:
        orgs = Orgs(settings, http)
        try:
            await orgs.join_budget()
            rows += await orgs.check_credentials()
            org_rows, module_rows = await asyncio.gather(
                asyncio.gather(*(orgs.check_scopes(name) for name in settings.orgs)),
                asyncio.gather(
                    *(
                        check_module(orgs, route, module)
                        for route in settings.sync
                        for module in route.modules
                    ),
                    *(
                        check_currency(orgs, route, settings.exchange_rates)
                        for route in settings.sync
                    ),
                ),
            )
        finally:
            await orgs.stop()
    rows += await kafka
    return rows + [r for group in (*org_rows, *module_rows) for r in group]


class Orgs:
    """A started client per org, which orgs authenticated, and metadata fetched once."""

    def __init__(self, settings: Settings, http: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.clients = {name: _client(name, settings, http) for name in settings.orgs}
        self.unusable: dict[str, str] = {}
        self._memo: dict[tuple[str, ...], asyncio.Future[Any]] = {}
        self._share: Any = None

    async def join_budget(self) -> None:
        """Spend within the deployment's shared credits and take a command's share of each
        org's concurrency slots, as every command that calls Zoho does (without Kafka, alone)."""
        from orgsync.orgs import credit_share, share_credits

        self._share = credit_share(self.settings, "check")
        await share_credits(self._share, self.clients)

    async def check_credentials(self) -> list[Row]:
        return list(await asyncio.gather(*(self._credentials(n) for n in self.clients)))

    async def _credentials(self, name: str) -> Row:
        from connectors.zoho import ZohoError

        client = self.clients[name]
        await client.start()
        try:
            await client.tokens.get()
        except ZohoError as error:
            self.unusable[name] = "its credentials failed"
            return Row("credentials", name, FAIL, _credentials_problem(name, error))
        return Row(
            "credentials",
            name,
            OK,
            f"token refreshed at {client.endpoints.token_url} (dc {client.endpoints.dc})",
        )

    async def stop(self) -> None:
        for client in self.clients.values():
            await client.stop()
        if self._share is not None:
            from connectors.kafka import KafkaError, KafkaUnavailable

            with contextlib.suppress(KafkaError, KafkaUnavailable, OSError):  # best effort
                await self._share.stop()

    def _once(self, key: tuple[str, ...], fetch: Callable[[], Awaitable[Any]]) -> Awaitable[Any]:
        if key not in self._memo:
            self._memo[key] = asyncio.ensure_future(fetch())
        return asyncio.shield(self._memo[key])

    async def fields(self, org: str, module: str) -> Fields:
        async def fetch() -> Fields:
            found = await self.clients[org].fields(module)
            return {str(f["api_name"]): f for f in found if "api_name" in f}

        result: Fields = await self._once(("fields", org, module), fetch)
        return result

    async def users(self, org: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._once(("users", org), self.clients[org].users)
        return result

    async def money(self, org: str) -> OrgMoney | MoneyUnknown:
        from pipeline.sync.metadata import read_money

        client = self.clients[org]

        async def fetch() -> OrgMoney | MoneyUnknown:
            return await read_money(org, client.org_currency, client.currencies)

        result: OrgMoney | MoneyUnknown = await self._once(("money", org), fetch)
        return result

    async def check_scopes(self, org: str) -> list[Row]:
        from orgsync.commands.check_scopes import check_scopes

        return await check_scopes(self, org)


def _credentials_problem(org: str, error: Exception) -> str:
    from connectors.zoho import errors

    if not isinstance(error, errors.InvalidCode):
        return str(error)
    # InvalidCode's own hint is about grant tokens; here it is the stored refresh token.
    return (
        f"[{org}] invalid_code: the refresh token was refused (revoked, or made for another "
        f"client or data centre); make a new one with `orgsync auth exchange --org {org}` "
        f"(docs/zoho-setup.md)"
    )


def _client(name: str, settings: Settings, http: aiohttp.ClientSession) -> ZohoClient:
    from connectors.zoho import BackoffPolicy, ZohoClient
    from orgsync.orgs import org_connection

    # No token cache: the check proves that the refresh token itself still works.
    connection = dataclasses.replace(
        org_connection(name, settings.orgs[name]), token_cache_path=None
    )
    return ZohoClient(
        connection,
        session=http,
        timeout=HTTP_TIMEOUT_S,
        backoff=BackoffPolicy(max_attempts=3, base=0.2, cap=2.0),
    )

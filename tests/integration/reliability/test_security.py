"""Scenario 6: strangers are refused, files are private, tokens go only to Zoho, the status
page and admin API need the admin secret beyond loopback. (Secrets in every output: the
make_deployment fixture scans each test's output, see tests/support/secret_scan.py.)"""

from __future__ import annotations

import re
import socket
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bench.deployment import (
    ACCOUNTS_ROUTE,
    ADMIN_SECRET,
    SECRET,
    MakeDeployment,
    deploy,
    ingress_ready,
    org_config,
    target_modules,
    until,
)
from tests.support.ingress import serve
from tests.support.reliability import Row, RunningIngress, record_row
from tests.support.secret_scan import SUITE_SCAN
from zoho_emulator import Emulator

ZOHO_TOKEN = re.compile(r"1000\.[0-9a-f]{32}\.[0-9a-f]{32}")
GRANT = "1000.grantcode0123456789abcdef.0123456789abcdef"


@pytest.fixture
def emulator_orgs() -> dict[str, Any]:
    orgs = {
        "src": org_config("src", "in", target_modules()),
        "tgt": org_config("tgt", "us", target_modules()),
    }
    orgs["src"]["clients"][0]["grant_codes"] = [GRANT]
    return orgs


def hook_attempts(channel: str, token: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """name: (path, request keyword arguments) of requests that must get 401."""
    body = {"module": "Accounts", "id": "12345"}
    note = {"module": "Accounts", "ids": ["12345"], "operation": "update", "channel_id": channel}
    return {
        "webhook without secret": ("/hooks/zoho/src", {"json": body}),
        "webhook, wrong secret": (
            "/hooks/zoho/src",
            {"json": body, "headers": {"X-Orgsync-Secret": "x" * len(SECRET)}},
        ),
        "webhook, secret upper-cased": (
            "/hooks/zoho/src",
            {"json": body, "headers": {"X-Orgsync-Secret": SECRET.upper()}},
        ),
        "webhook, secret's prefix": (
            "/hooks/zoho/src",
            {"json": body, "headers": {"X-Orgsync-Secret": SECRET[:-1]}},
        ),
        "webhook, secret + 1 char": (
            "/hooks/zoho/src",
            {"json": body, "headers": {"X-Orgsync-Secret": SECRET + "x"}},
        ),
        "webhook, wrong secret in query": (
            f"/hooks/zoho/src?secret={SECRET[::-1]}",
            {"json": body},
        ),
        "webhook, wrong secret in body": (
            "/hooks/zoho/src",
            {"data": {**body, "secret": "nope-nope-nope-nope"}},
        ),
        "webhook, admin secret": (
            "/hooks/zoho/src",
            {"json": body, "headers": {"X-Orgsync-Secret": ADMIN_SECRET}},
        ),
        "notification without token": ("/notify/src", {"json": note}),
        "notification, wrong token": ("/notify/src", {"json": {**note, "token": "t" * 48}}),
        "notification, token of another channel": (
            "/notify/src",
            {"json": {**note, "channel_id": "1" + channel, "token": token}},
        ),
        "notification, webhook secret as token": (
            "/notify/src",
            {"json": {**note, "token": SECRET}},
        ),
        "notification, right token, other org": ("/notify/tgt", {"json": {**note, "token": token}}),
    }


async def test_wrong_or_missing_secrets_and_tokens_are_refused_and_produce_nothing(
    ingress: RunningIngress,
    session: aiohttp.ClientSession,
) -> None:
    before = await ingress.hints()
    answers: dict[str, int] = {}
    for name, (path, kwargs) in hook_attempts(ingress.channel_id, ingress.token).items():
        async with session.post(ingress.url + path, **kwargs) as response:
            answers[name] = response.status
            SUITE_SCAN.scan(await response.text(), f"answer to {name}")
    produced = await ingress.hints() - before
    async with session.get(f"{ingress.url}/metrics") as response:
        metrics = await response.text()
    leaks = SUITE_SCAN.scan(metrics, "/metrics")
    record_row(
        Row(
            scenario="6a. strangers at the ingress",
            passed=set(answers.values()) == {401} and produced == 0 and not leaks,
            load=f"{len(answers)} requests with a missing/wrong secret or channel token",
            faults=", ".join(sorted({f"{status}" for status in answers.values()})) + " answered",
            expected=0,
            found=produced,
            duplicates=0,
            dlq=0,
            converge_s=None,
        )
    )
    assert {n: s for n, s in answers.items() if s != 401} == {}
    assert produced == 0
    assert not leaks
    assert 'orgsync_ingress_rejected_total{reason="unauthorized"}' in metrics
    async with session.post(
        f"{ingress.url}/notify/src",
        json={
            "module": "Accounts",
            "ids": ["12345"],
            "operation": "update",
            "channel_id": ingress.channel_id,
            "token": ingress.token,
        },
    ) as response:
        assert response.status == 200, "the real token is accepted (the refusals were real)"


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_token_cache_and_secrets_files_are_created_0600(
    ingress: RunningIngress,
) -> None:
    caches = sorted(ingress.deployment.workdir.glob("token-*.json"))
    assert caches, "the ingress wrote no token cache"
    secrets = ingress.deployment.workdir / "secrets.env"
    exchange = await ingress.deployment.cli(
        "auth",
        "exchange",
        "--org",
        "src",
        "--code",
        "-",
        "--secrets-file",
        str(secrets),
        stdin=GRANT.encode() + b"\n",
    )
    assert exchange.returncode == 0, exchange.stdout + exchange.stderr
    [minted] = ZOHO_TOKEN.findall(secrets.read_text())
    SUITE_SCAN.add(minted)
    modes = {path.name: oct(mode_of(path)) for path in [*caches, secrets]}
    record_row(
        Row(
            scenario="6c. private files",
            passed=set(modes.values()) == {"0o600"},
            load="token caches written by `orgsync run`, secrets file by `orgsync auth exchange`",
            faults="umask 022; " + ", ".join(f"{n}: {m}" for n, m in modes.items()),
            expected=len(modes),
            found=sum(m == "0o600" for m in modes.values()),
            duplicates=0,
            dlq=0,
            converge_s=None,
        )
    )
    assert set(modes.values()) == {"0o600"}, modes
    assert minted not in exchange.stdout + exchange.stderr


@pytest.fixture
async def attacker() -> AsyncIterator[list[str]]:
    """A server that records every request it gets (where a stolen token would go)."""
    seen: list[str] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path_qs} {dict(request.headers)}")
        return web.json_response({"data": []})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    runner, url = await serve(app)
    seen.append(url)  # the first entry is its address
    yield seen
    await runner.cleanup()


async def test_a_token_response_naming_an_unknown_api_domain_is_refused(
    emulator_orgs: dict[str, Any],
    attacker: list[str],
    kafka_broker: str,
    unique_name: str,
    tmp_path: Path,
) -> None:
    url = attacker.pop(0)
    async with Emulator({"orgs": emulator_orgs, "public_url": url}) as emu:
        SUITE_SCAN.watch(emu)
        deployment = deploy(emu, kafka_broker, unique_name, tmp_path, [ACCOUNTS_ROUTE])
        check = await deployment.cli("check")
        orgsync = deployment.process("all")
        orgsync.start()
        try:
            await until(
                lambda: "api_domain" in orgsync.log_path.read_text(errors="replace"),
                60,
                "the refusal in the log",
                [orgsync],
            )
        finally:
            problems = deployment.stop_all()
    output = check.stdout + check.stderr
    leaks = SUITE_SCAN.scan_logs(tmp_path)
    record_row(
        Row(
            scenario="6d. unknown api_domain",
            passed=not attacker and check.returncode != 0,
            load="token responses name http://127.0.0.1:<attacker> as api_domain",
            faults=f"orgsync check exit {check.returncode}; {len(attacker)} requests reached "
            "the attacker",
            expected=0,
            found=len(attacker),
            duplicates=0,
            dlq=0,
            converge_s=None,
        )
    )
    assert attacker == [], "a token was sent to the unknown api_domain"
    assert check.returncode != 0 and "api_domain" in output, output
    assert not leaks and not problems, leaks + problems


def outward_address() -> str:
    """An address of this machine that is not loopback (127.0.0.1 if it has none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET: no packet is sent
            address: str = probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"
    return address


ADMIN_REQUESTS = (
    ("GET", "/"),
    ("GET", "/trace?org=src&module=Accounts&id=1"),
    ("GET", "/admin/trace?org=src&module=Accounts&id=1"),
    ("GET", "/admin/dlq"),
    ("GET", "/admin/dlq/0-0-0"),
    ("POST", "/admin/dlq/0-0-0/retry"),
    ("POST", "/admin/dlq/0-0-0/purge"),
)


async def test_status_page_and_admin_api_need_the_admin_secret_beyond_loopback(
    emu: Emulator,
    make_deployment: MakeDeployment,
    session: aiohttp.ClientSession,
) -> None:
    deployment = make_deployment([ACCOUNTS_ROUTE], host="0.0.0.0")
    orgsync = deployment.process("ingress")
    orgsync.start()
    base = deployment.ingress_url.replace("127.0.0.1", outward_address())
    await until(lambda: ingress_ready(session, base), 60, "the ingress", [orgsync])
    refused: dict[str, int] = {}
    for method, path in ADMIN_REQUESTS:
        for auth in (
            None,
            "Bearer wrong-admin-secret-0123456789",
            f"Bearer {SECRET}",
            f"Basic {ADMIN_SECRET}",
        ):
            headers = {"Authorization": auth} if auth else {}
            async with session.request(method, base + path, headers=headers) as response:
                refused[f"{method} {path} {(auth or 'none').split()[0]}"] = response.status
                SUITE_SCAN.scan(await response.text(), f"{method} {path}")
    bearer = {"Authorization": f"Bearer {ADMIN_SECRET}"}
    async with session.get(base + "/", headers=bearer) as response:
        page_status, page = response.status, await response.text()
    leaks = SUITE_SCAN.scan(page, "the status page")
    wrong = {k: v for k, v in refused.items() if v != 401}
    record_row(
        Row(
            scenario="6e. status page + admin API beyond loopback",
            passed=not wrong and page_status == 200 and not leaks,
            load=f"{len(refused)} requests without the admin secret at {base}",
            faults=f"status page with the secret: {page_status}; refusals: "
            + ", ".join(sorted({str(v) for v in refused.values()})),
            expected=len(refused),
            found=len(refused) - len(wrong),
            duplicates=0,
            dlq=0,
            converge_s=None,
        )
    )
    assert wrong == {}, wrong
    assert page_status == 200 and "<html" in page.lower()
    assert not leaks

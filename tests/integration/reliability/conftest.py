"""Fixtures of the reliability suite: the emulator (its tokens recorded), orgsync deployments
whose whole output is scanned for secrets when the test ends."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bench.deployment import (
    ACCOUNTS_ROUTE,
    ADMIN_SECRET,
    Deployment,
    MakeDeployment,
    deploy,
    org_config,
    target_modules,
)
from tests.support.reliability import Row, RunningIngress, record_row, start_ingress
from tests.support.secret_scan import SUITE_SCAN
from zoho_emulator import Emulator

KEPT_LOGS = Path(tempfile.gettempdir()) / "orgsync-reliability"
TIER = {"api_name": "Tier", "data_type": "text"}


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Remember each phase's report on the item, so fixtures can tell that the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session", autouse=True)
def suite_secret_scan() -> Iterator[None]:
    """After the suite: a row saying how much output was scanned and what was found."""
    yield
    if SUITE_SCAN.scanned_items:
        record_row(
            Row(
                scenario="6b. secrets in all output",
                passed=not SUITE_SCAN.leaks,
                load=f"{SUITE_SCAN.scanned_items} outputs, {SUITE_SCAN.scanned_bytes:,} bytes",
                faults=f"{len(SUITE_SCAN.secrets)} secrets and tokens searched",
                expected=0,
                found=len(SUITE_SCAN.leaks),
                duplicates=0,
                dlq=0,
                converge_s=None,
            )
        )


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


@pytest.fixture
def emulator_orgs() -> dict[str, Any]:
    return {
        "src": org_config("src", "in", target_modules(Accounts=TIER)),
        "tgt": org_config("tgt", "us", target_modules(Accounts=TIER)),
    }


@pytest.fixture
def emulator_extra() -> dict[str, Any]:
    """Top-level emulator config besides the orgs (a module may override it)."""
    return {}


@pytest.fixture
async def emu(
    emulator_orgs: dict[str, Any], emulator_extra: dict[str, Any]
) -> AsyncIterator[Emulator]:
    async with Emulator({"orgs": emulator_orgs, **emulator_extra}) as emulator:
        SUITE_SCAN.watch(emulator)
        SUITE_SCAN.add(ADMIN_SECRET)
        yield emulator
        SUITE_SCAN.harvest(emulator)


@pytest.fixture
def make_deployment(
    emu: Emulator,
    kafka_broker: str,
    unique_name: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[MakeDeployment]:
    made: list[Deployment] = []

    def make(sync: list[dict[str, Any]], broker: str | None = None, **kw: Any) -> Deployment:
        workdir = tmp_path / f"deployment{len(made)}"
        workdir.mkdir()
        deployment = deploy(emu, broker or kafka_broker, unique_name, workdir, sync, **kw)
        made.append(deployment)
        return deployment

    yield make
    problems = [p for d in made for p in d.stop_all()]
    SUITE_SCAN.harvest(emu)
    for deployment in made:
        problems += SUITE_SCAN.scan_logs(deployment.workdir)
    call = getattr(request.node, "report_call", None)
    if problems or (call is not None and call.failed):
        kept = KEPT_LOGS / unique_name
        shutil.copytree(tmp_path, kept, ignore=shutil.ignore_patterns("*-data", "kafka"))
        print(f"logs kept in {kept}")
        problems += [f"logs kept in {kept}"] if problems else []
    assert not problems, "\n".join(problems)


@pytest.fixture
async def ingress(
    emu: Emulator,
    make_deployment: MakeDeployment,
    kafka_broker: str,
    session: aiohttp.ClientSession,
) -> RunningIngress:
    """`orgsync run --role ingress` (Accounts of src), its channel subscribed."""
    return await start_ingress(emu, make_deployment([ACCOUNTS_ROUTE]), kafka_broker, session)

"""Scenario 6f: orgsync syncs through a SASL_SSL broker with SCRAM credentials, and `orgsync
check` names a refused password without printing it."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from bench.deployment import (
    ACCOUNTS_ROUTE,
    MakeDeployment,
    count,
    insert_accounts,
    mirror,
    patient_client,
    until,
)
from tests.support.reliability import QUICK_SINK, Row, record_row, start_receiving
from tests.support.secure_kafka import SecureBroker
from zoho_emulator import Emulator

PASSWORD_VARIABLE = "ORGSYNC_KAFKA_PASSWORD"


def secured(broker: SecureBroker, prefix: str) -> dict[str, object]:
    return {
        "broker": f"kafka://{broker.bootstrap}",
        "topic_prefix": prefix,
        "partitions": 4,
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": broker.mechanism,
        "sasl_username": broker.username,
        "sasl_password": f"${{{PASSWORD_VARIABLE}}}",
        "ssl_cafile": str(broker.cafile),
    }


def outputs(folder: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in folder.rglob("*.log"))


async def test_sync_through_sasl_ssl_and_a_refused_password(
    sasl_ssl_broker: SecureBroker,
    emu: Emulator,
    make_deployment: MakeDeployment,
    session: aiohttp.ClientSession,
    unique_name: str,
) -> None:
    deployment = make_deployment(
        [ACCOUNTS_ROUTE],
        broker=sasl_ssl_broker.bootstrap,
        kafka=secured(sasl_ssl_broker, unique_name),
        sink=QUICK_SINK,
    )
    deployment.env[PASSWORD_VARIABLE] = sasl_ssl_broker.password
    orgsync = deployment.process("all")
    await start_receiving(orgsync, deployment, emu, session)
    src = await patient_client(emu, "src", session)
    await insert_accounts(src, range(200))
    await until(lambda: count(emu, "tgt", "Accounts") >= 200, 60, "200 Accounts", [orgsync])
    synced = mirror(emu)
    checked = await deployment.cli("check")

    deployment.env[PASSWORD_VARIABLE] = "not-" + sasl_ssl_broker.password
    refused = await deployment.cli("check", "--kafka-timeout", "10")
    [kafka_row] = [ln for ln in refused.stdout.splitlines() if ln.startswith("kafka ")]
    leaked = sasl_ssl_broker.password in outputs(deployment.workdir) + sasl_ssl_broker.output
    record_row(
        Row(
            scenario="6f. SASL_SSL broker",
            passed=synced.exact and checked.returncode == 0 and refused.returncode == 1,
            load="200 Accounts through a SASL_SSL broker (SCRAM-SHA-512, TLS from a test CA)",
            faults=f"a wrong password: `orgsync check` exit {refused.returncode}, "
            f"password in any output: {'yes' if leaked else 'no'}",
            expected=synced.expected,
            found=synced.found,
            duplicates=synced.duplicates,
            dlq=0,
            converge_s=None,
        )
    )
    assert synced.exact, (synced.missing[:5], synced.duplicates)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert " FAIL " in kafka_row and "authentication failed" in kafka_row, kafka_row
    assert f"as {sasl_ssl_broker.username!r}" in kafka_row
    assert not leaked

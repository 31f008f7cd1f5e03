"""What the benchmark sets up: the two orgs, their OAuth clients, and orgsync's configuration.

Every system has its own OAuth client so the emulator's per-client stats tell their calls and
token refreshes apart; the workload generator and the observer that reads the target at the
end have theirs too, and their usage is subtracted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from zoho_emulator.limits import daily_allowance

SOURCE, TARGET = "regional_in", "global_us"
MATCH_FIELD = "Origin_Record_Id"
SYNCED_FIELDS = ("First_Name", "Last_Name", "Email", "Company", "Description")
SECRET = "bench-secret-0123456789abcdef"
PAGE_TOKEN_LIMIT = 100_000  # Zoho's


@dataclass(frozen=True)
class Client:
    org: str
    client_id: str

    @property
    def secret(self) -> str:
        return SECRET

    @property
    def refresh_token(self) -> str:
        return f"1000.{self.client_id.removeprefix('1000.').lower()}.{SECRET}"


WORKLOAD = Client(SOURCE, "1000.BENCHWORKLOAD")
OBSERVER = Client(TARGET, "1000.BENCHOBSERVER")
ORGSYNC_SOURCE = Client(SOURCE, "1000.ORGSYNCIN")
ORGSYNC_TARGET = Client(TARGET, "1000.ORGSYNCUS")
SEED_TARGET = Client(TARGET, "1000.SEEDSCRIPT")
PER_RECORD_TARGET = Client(TARGET, "1000.PERRECORD")
CLIENTS = (WORKLOAD, OBSERVER, ORGSYNC_SOURCE, ORGSYNC_TARGET, SEED_TARGET, PER_RECORD_TARGET)


@dataclass(frozen=True)
class OrgShape:
    latency_ms: int = 100
    jitter_ms: int = 20
    edition: str = "enterprise"
    # Zoho's daily credits grow with the licences (enterprise: 50,000 + 1,000 each): a burst of
    # 300,000 creates and their updates spends 60,000 on the writes alone, more than a
    # one-licence org gets, so large bursts need an org of the size that makes them.
    user_licences: int | None = None

    def daily_credits(self) -> int | None:
        if self.user_licences is None:
            return None
        return daily_allowance(self.edition, self.user_licences)


def emulator_config(shape: OrgShape) -> dict[str, Any]:
    """Source `regional_in` (IN DC) and target `global_us` (US DC, unique Origin_Record_Id).

    The emulator adds a uniform 0..jitter to its latency; L ± J is latency L-J, jitter 2J.
    """
    origin = {"api_name": MATCH_FIELD, "data_type": "text", "unique": True, "length": 30}
    modules = {SOURCE: {}, TARGET: {"Leads": {"fields": [origin]}}}
    dcs = {SOURCE: "in", TARGET: "us"}
    orgs = {
        name: {
            "dc": dcs[name],
            "edition": shape.edition,
            "latency_ms": max(0, shape.latency_ms - shape.jitter_ms),
            "latency_jitter_ms": 2 * shape.jitter_ms,
            "modules": modules[name],
            **({"user_licences": shape.user_licences} if shape.user_licences else {}),
            "clients": [
                {
                    "client_id": c.client_id,
                    "client_secret": c.secret,
                    "refresh_tokens": [c.refresh_token],
                }
                for c in CLIENTS
                if c.org == name
            ],
        }
        for name in (SOURCE, TARGET)
    }
    # Zoho's own cap on what one page_token listing reaches, spelled out: a burst past it is
    # what the poller's windows are for (issue 26), so a run must not pass with a larger one.
    return {"orgs": orgs, "behaviour": {"page_token_limit": PAGE_TOKEN_LIMIT}}


def orgsync_config(
    emulator_url: str, broker: str, prefix: str, ingress_port: int, shape: OrgShape
) -> dict[str, Any]:
    """A one-way Leads route, matched on the target's external-id field."""

    def org(client: Client, dc: str) -> dict[str, Any]:
        var = client.org.upper()
        return {
            "dc": dc,
            "edition": shape.edition,
            **({"daily_credit_budget": shape.daily_credits()} if shape.user_licences else {}),
            "client_id": client.client_id,
            "client_secret": f"${{BENCH_{var}_SECRET}}",
            "refresh_token": f"${{BENCH_{var}_REFRESH}}",
            "api_url": emulator_url,
            "accounts_url": emulator_url,
        }

    listen = f"127.0.0.1:{ingress_port}"
    return {
        "kafka": {"broker": f"kafka://{broker}", "topic_prefix": prefix, "partitions": 4},
        "ingress": {
            "listen": listen,
            "public_url": f"http://{listen}",
            "webhook_secret": "${BENCH_WEBHOOK_SECRET}",
        },
        "orgs": {SOURCE: org(ORGSYNC_SOURCE, "in"), TARGET: org(ORGSYNC_TARGET, "us")},
        "sync": [
            {
                "source": SOURCE,
                "target": TARGET,
                "trigger": [],
                "modules": {"Leads": {"match_field": MATCH_FIELD, "fields": list(SYNCED_FIELDS)}},
            }
        ],
    }


def orgsync_env() -> dict[str, str]:
    """The ${VARIABLES} of `orgsync_config` (secrets never go into the file)."""
    env = {"BENCH_WEBHOOK_SECRET": SECRET}
    for client in (ORGSYNC_SOURCE, ORGSYNC_TARGET):
        var = client.org.upper()
        env[f"BENCH_{var}_SECRET"] = client.secret
        env[f"BENCH_{var}_REFRESH"] = client.refresh_token
    return env


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path

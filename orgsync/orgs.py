"""Build the Zoho client's view of one org from the validated settings.

`org_connection(name, org_settings)` is the single place where `OrgSettings` (pydantic, secrets
as `SecretStr`) becomes a `connectors.zoho.OrgConnection` (plain strings kept out of `repr`);
`share_credits` makes a process's clients count what the deployment's other processes spend
and share the org's concurrency slots with them (connectors/kafka/credit_share.py);
`deployment_clients` is how every command that calls Zoho gets its clients, so joined.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

from connectors.kafka import KafkaError
from connectors.kafka.cluster import KafkaCluster, KafkaUnavailable
from connectors.kafka.credit_share import CreditShare
from connectors.zoho import OrgConnection, ZohoClient
from connectors.zoho.limits import COMMAND_WEIGHT, ReserveWait, hms
from orgsync_kernel.settings import OrgSettings, Settings, parse_listen

log = logging.getLogger(__name__)
SHARE_START_SECONDS = 10.0


def state_dir() -> Path:
    """Where orgsync keeps per-machine state by default: `$XDG_STATE_HOME/orgsync`."""
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "orgsync"


def refusals_dir(settings: Settings) -> Path | None:
    """Where the ingress keeps the hints it answered 503 (None: in memory). The default is per
    topic prefix and listen port, so two ingresses on one machine never share it."""
    chosen = settings.ingress.refusals_dir
    if chosen is False:
        return None
    port = parse_listen(settings.ingress.listen)[1]
    return chosen or state_dir() / "refusals" / f"{settings.kafka.topic_prefix}-{port}"


def default_token_cache(name: str, org: OrgSettings) -> Path:
    """One file per org and credentials: a restart (or a crash loop) reuses the access token
    instead of spending one of Zoho's 10 refreshes per 10 minutes. The name is a digest, so it
    reveals nothing, and two configs for different orgs or accounts hosts never share a file."""
    identity = "|".join(
        (name, org.dc, org.accounts_url or "", org.client_id, org.refresh_token.get_secret_value())
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:24]
    return state_dir() / "tokens" / f"{name}-{digest}.json"


def token_cache_path(name: str, org: OrgSettings) -> Path | None:
    if org.token_cache is False:
        return None
    return org.token_cache or default_token_cache(name, org)


def org_connection(name: str, org: OrgSettings) -> OrgConnection:
    return OrgConnection(
        name=name,
        dc=org.dc,
        edition=org.edition,
        client_id=org.client_id,
        client_secret=org.client_secret.get_secret_value(),
        refresh_token=org.refresh_token.get_secret_value(),
        accounts_url=org.accounts_url,
        api_url=org.api_url,
        token_cache_path=token_cache_path(name, org),
        max_concurrency=org.max_concurrency,
        daily_credit_budget=org.daily_credit_budget,
        credit_reserve=org.credit_reserve,
    )


async def share_credits(
    share: CreditShare | None,
    clients: Mapping[str, ZohoClient],
    weight: float | None = COMMAND_WEIGHT,
) -> None:
    """Attach the clients' ledgers and limiters to the deployment's shared count; without
    Kafka each process counts alone (logged), which only makes its budget looser. `weight`:
    the process's claim on each org's concurrency slots (None: a worker, whose claim follows
    its partitions)."""
    for client in clients.values():
        if weight is not None:
            await client.limiter.join(weight)
        if not any(isinstance(o, ReserveLog) for o in client.ledger.observers):
            client.ledger.observers.append(ReserveLog())
    if share is None:
        return
    # Attached before the start, whose first publish tells the others of this process.
    shares = {name: share.attach(name, c.limiter, c.ledger) for name, c in clients.items()}
    try:
        async with asyncio.timeout(SHARE_START_SECONDS):
            await share.start()
    except (TimeoutError, KafkaError, KafkaUnavailable, OSError) as error:
        log.warning("API credits not shared with other processes: %s", type(error).__name__)
        share.attached.clear()
        return
    for name, client in clients.items():
        client.ledger.share = shares[name]


def credit_share(settings: Settings, role: str = "process") -> CreditShare:
    kafka = settings.kafka
    return CreditShare(KafkaCluster.of(kafka), settings.topics.credits, role=role)


@contextlib.asynccontextmanager
async def deployment_clients(
    settings: Settings, orgs: Iterable[str], role: str, **options: Any
) -> AsyncIterator[dict[str, ZohoClient]]:
    """Started clients of these orgs for a command (`role`: what it is, shown to the other
    processes): they spend within the deployment's shared budget and take a command's share
    of each org's concurrency slots (`options`: ZohoClient's keyword arguments)."""
    clients = {
        name: ZohoClient(org_connection(name, settings.orgs[name]), **options)
        for name in sorted(set(orgs))
    }
    share = credit_share(settings, role)
    await share_credits(share, clients)
    try:
        async with contextlib.AsyncExitStack() as stack:
            for client in clients.values():
                await stack.enter_async_context(client)
            yield clients
    finally:
        with contextlib.suppress(KafkaError, KafkaUnavailable, OSError):  # best effort
            await share.stop()


class ReserveLog:
    """Says on the log (stderr for a command) when a caller waits at the credit reserve."""

    def held(self, wait: ReserveWait) -> None:
        log.warning(
            "held at the credit reserve org=%s budget=%d reserve=%d spent=%d: low-priority "
            "calls (backfill, plan) wait; resumes in %s at the earliest",
            wait.org,
            wait.budget,
            wait.reserve,
            wait.spent,
            hms(wait.seconds),
        )

    def slept(self, seconds: float) -> None:
        pass

"""Build the Zoho client's view of one org from the validated settings.

`org_connection(name, org_settings)` is the single place where `OrgSettings` (pydantic, secrets
as `SecretStr`) becomes a `connectors.zoho.OrgConnection` (plain strings kept out of `repr`);
`share_credits` makes a process's clients count what the deployment's other processes spend.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from connectors.kafka import KafkaError
from connectors.kafka.cluster import KafkaCluster, KafkaUnavailable
from connectors.kafka.credit_share import CreditShare
from connectors.zoho import OrgConnection, ZohoClient
from orgsync_kernel.settings import OrgSettings, Settings

log = logging.getLogger(__name__)
SHARE_START_SECONDS = 10.0


def state_dir() -> Path:
    """Where orgsync keeps per-machine state by default: `$XDG_STATE_HOME/orgsync`."""
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "orgsync"


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


async def share_credits(share: CreditShare | None, clients: Mapping[str, ZohoClient]) -> None:
    """Attach the clients' ledgers to the deployment's shared count; without Kafka each
    process counts alone (logged), which only makes its budget looser."""
    if share is None:
        return
    try:
        async with asyncio.timeout(SHARE_START_SECONDS):
            await share.start()
    except (TimeoutError, KafkaError, KafkaUnavailable, OSError) as error:
        log.warning("API credits not shared with other processes: %s", type(error).__name__)
        return
    for name, client in clients.items():
        client.ledger.share = share.for_org(name)


def credit_share(settings: Settings) -> CreditShare:
    kafka = settings.kafka
    return CreditShare(KafkaCluster.of(kafka), settings.topics.credits)

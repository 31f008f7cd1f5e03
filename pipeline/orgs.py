"""Build the Zoho client's view of one org from the validated settings.

`org_connection(name, org_settings)` is the single place where `OrgSettings` (pydantic, secrets
as `SecretStr`) becomes a `connectors.zoho.OrgConnection` (plain strings kept out of `repr`).
"""

from __future__ import annotations

from connectors.zoho import OrgConnection
from pipeline.settings import OrgSettings


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
        token_cache_path=org.token_cache,
        max_concurrency=org.max_concurrency,
        daily_credit_budget=org.daily_credit_budget,
        credit_reserve=org.credit_reserve,
    )

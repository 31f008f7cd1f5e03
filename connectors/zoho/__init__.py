"""Async Zoho CRM client: OAuth across data centres, records, notifications, API limits."""

from __future__ import annotations

from orgsync_kernel.datacentres import DATA_CENTRES

from .attachments import Download
from .auth import AccessToken, TokenManager
from .client import OrgConnection, ZohoClient
from .currencies import CURRENCIES_SCOPE, ORG_SCOPE, Currency, OrgCurrency
from .endpoints import OrgEndpoints
from .errors import (
    AuthError,
    PermanentError,
    RetryableError,
    ZohoError,
    for_code,
)
from .grant import GrantResult, exchange_grant
from .limits import SINGLE_ATTEMPT, BackoffPolicy, Priority
from .metrics import ZohoMetrics
from .notifications import WatchChannel
from .outcomes import WriteOutcome
from .records import DeletedRecord

__all__ = [
    "CURRENCIES_SCOPE",
    "DATA_CENTRES",
    "ORG_SCOPE",
    "SINGLE_ATTEMPT",
    "AccessToken",
    "AuthError",
    "BackoffPolicy",
    "Currency",
    "DeletedRecord",
    "Download",
    "GrantResult",
    "OrgConnection",
    "OrgCurrency",
    "OrgEndpoints",
    "PermanentError",
    "Priority",
    "RetryableError",
    "TokenManager",
    "WatchChannel",
    "WriteOutcome",
    "ZohoClient",
    "ZohoError",
    "ZohoMetrics",
    "exchange_grant",
    "for_code",
]

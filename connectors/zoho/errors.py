"""Errors raised by the Zoho client; each class carries the caller's decision.

::

    ZohoError                         root; .code .zoho_message .details .status
    ├── AuthError                     needs a person: credentials, grant, scope, host
    │   ├── InvalidCode               invalid_code (grant used/expired, refresh token revoked)
    │   ├── InvalidClient             invalid_client
    │   ├── InvalidClientSecret       invalid_client_secret
    │   ├── InvalidRedirectUri        invalid_redirect_uri
    │   ├── AuthenticationFailure     AUTHENTICATION_FAILURE
    │   ├── OAuthScopeMismatch        OAUTH_SCOPE_MISMATCH
    │   ├── NoPermission              NO_PERMISSION
    │   └── UntrustedApiDomain        api_domain is not a Zoho API host nor the override
    ├── RetryableError                try again later; .retry_after (seconds or None)
    │   ├── InvalidToken              INVALID_TOKEN (refresh, then retry once)
    │   │   └── EvictedToken          INVALID_OAUTHTOKEN (the same)
    │   ├── TooManyRequests           TOO_MANY_REQUESTS (HTTP 429)
    │   ├── RefreshThrottled          "Access Denied" / local refresh-rate guard
    │   ├── GrantThrottled            access_denied (too many grant tokens)
    │   ├── InternalError             INTERNAL_ERROR
    │   ├── ServerError               any other 5xx
    │   ├── TransportError            timeout, connection reset
    │   │   └── TruncatedBody         a 2xx whose JSON is empty or cut short (a Zoho quirk)
    │   └── CreditBudgetExhausted     our own daily credit ledger is empty
    └── PermanentError                the request or the data is wrong; do not retry
        ├── InvalidData, MandatoryNotFound, DuplicateData, InvalidModule,
        ├── RequiredParamMissing, LimitExceeded, PatternNotMatched,
        ├── AuthorizationFailed, RecordLocked, NotApproved, AlreadyModified,
        ├── InvalidUrlPattern, InvalidRequestMethod, FeatureNotSupported,
        ├── NotSupported, NotSubscribed, DiscretePaginationLimitExceeded,
        ├── PaginationLimitExceeded, ExpiredValue, TokenBoundDataMismatch,
        ├── DownloadNotAllowed        DOWNLOAD_NOT_ALLOWED (a link attachment has no file)
        ├── FileTooLarge              FILE_SIZE_MORE_THAN_ALLOWED_SIZE (HTTP 413)
        │   └── BodySizeReached       BODY_SIZE_REACHED
        ├── InvalidQuery              INVALID_QUERY (COQL/search; names the column refused)
        ├── CurrenciesNotEnabled      the org has no multi-currency (currencies() → [])
        └── UnexpectedResponse        a body we could not understand

Callers branch on the disposition class (or ``retryable``), never on message text.
``for_code`` is built from the subclasses; ``error_for`` adds the HTTP-status fallback
for codes we do not know.  Messages carry Zoho's code, message and details — never a
token or a secret (nothing that holds one is ever passed in).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class ZohoError(Exception):
    code: ClassVar[str] = ""
    retryable: ClassVar[bool] = False
    hint: ClassVar[str] = ""

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
        status: int | None = None,
        org: str | None = None,
    ) -> None:
        self.zoho_code = code or self.code
        self.zoho_message = message
        self.details: Mapping[str, Any] = dict(details or {})
        self.status = status
        self.org = org
        super().__init__(self._render())

    def _render(self) -> str:
        parts = [f"[{self.org}]" if self.org else "", self.zoho_code or type(self).__name__]
        if self.status is not None:
            parts.append(f"(HTTP {self.status})")
        head = " ".join(p for p in parts if p)
        text = f"{head}: {self.zoho_message}" if self.zoho_message else head
        if self.details:
            text += f" details={dict(self.details)}"
        return f"{text}. {self.hint}" if self.hint else text


class AuthError(ZohoError):
    """The credentials or configuration must be fixed by a person."""


class RetryableError(ZohoError):
    retryable = True

    def __init__(self, message: str = "", *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class PermanentError(ZohoError):
    """The request or its data is wrong; retrying the same thing fails the same way."""


# --- auth -------------------------------------------------------------------------------


class InvalidCode(AuthError):
    code = "invalid_code"
    hint = (
        "The grant token was already used or has expired, or the refresh token was revoked. "
        "Grant tokens live only minutes (3 by default, at most what you chose in the API "
        "console; the setup guide suggests 10): open https://api-console.zoho.com (use your "
        "data centre's console), Self Client > Generate Code with the scopes you need, and "
        "run `orgsync auth exchange` again right away"
    )


class InvalidClient(AuthError):
    code = "invalid_client"
    hint = (
        "The client_id is unknown to this data centre's accounts server: check the org's "
        "`dc` and the client_id of the Self Client in the API console"
    )


class InvalidClientSecret(AuthError):
    code = "invalid_client_secret"
    hint = "The client_secret does not match the client_id: copy it again from the API console"


class InvalidRedirectUri(AuthError):
    code = "invalid_redirect_uri"
    hint = "The redirect_uri does not match the one registered for this client"


class AuthenticationFailure(AuthError):
    code = "AUTHENTICATION_FAILURE"


class OAuthScopeMismatch(AuthError):
    code = "OAUTH_SCOPE_MISMATCH"
    hint = "The token lacks a scope this call needs: generate a new grant with the right scopes"


class NoPermission(AuthError):
    code = "NO_PERMISSION"
    hint = "The Zoho user behind the token lacks a permission in its profile"


class UntrustedApiDomain(AuthError):
    code = "UNTRUSTED_API_DOMAIN"
    hint = (
        "Refusing to send the access token there: set `api_url` for this org if you use "
        "an emulator or a proxy, otherwise check the org's `dc`"
    )


# --- retryable --------------------------------------------------------------------------


class InvalidToken(RetryableError):
    code = "INVALID_TOKEN"


class EvictedToken(InvalidToken):
    """The access token was pushed out by newer ones (Zoho keeps 15 per refresh token)."""

    code = "INVALID_OAUTHTOKEN"


class TooManyRequests(RetryableError):
    code = "TOO_MANY_REQUESTS"


class RefreshThrottled(RetryableError):
    code = "Access Denied"
    hint = "Zoho allows 10 access tokens per refresh token per 10 minutes"


class GrantThrottled(RetryableError):
    code = "access_denied"
    hint = "Zoho allows 10 grant tokens per client per 10 minutes"


class InternalError(RetryableError):
    code = "INTERNAL_ERROR"


class ServerError(RetryableError):
    code = "SERVER_ERROR"


class TransportError(RetryableError):
    code = "TRANSPORT_ERROR"


class TruncatedBody(TransportError):
    """A 2xx answer whose JSON body is empty or cut short: seen in production on single-record
    GETs and the Notification API. The work may have been done, so it is retried like a
    dropped connection (idempotent calls here, writes by their caller)."""

    code = "TRUNCATED_BODY"


class CreditBudgetExhausted(RetryableError):
    code = "CREDIT_BUDGET_EXHAUSTED"
    hint = "The org's daily API credit budget is spent; credits return 24 h after each call"


# --- permanent --------------------------------------------------------------------------


class InvalidData(PermanentError):
    code = "INVALID_DATA"


class MandatoryNotFound(PermanentError):
    code = "MANDATORY_NOT_FOUND"


class DuplicateData(PermanentError):
    code = "DUPLICATE_DATA"


class InvalidModule(PermanentError):
    code = "INVALID_MODULE"


class RequiredParamMissing(PermanentError):
    code = "REQUIRED_PARAM_MISSING"


class LimitExceeded(PermanentError):
    code = "LIMIT_EXCEEDED"


class InvalidQuery(PermanentError):
    """COQL/search refused a query; ``details.column_name`` names a column Zoho does not know
    (or one hidden from the API user: field permissions or the layout)."""

    code = "INVALID_QUERY"


class PatternNotMatched(PermanentError):
    code = "PATTERN_NOT_MATCHED"


class AuthorizationFailed(PermanentError):
    code = "AUTHORIZATION_FAILED"


class RecordLocked(PermanentError):
    code = "RECORD_LOCKED"


class NotApproved(PermanentError):
    code = "NOT_APPROVED"


class AlreadyModified(PermanentError):
    code = "ALREADY_MODIFIED"


class InvalidUrlPattern(PermanentError):
    code = "INVALID_URL_PATTERN"


class InvalidRequestMethod(PermanentError):
    code = "INVALID_REQUEST_METHOD"


class FeatureNotSupported(PermanentError):
    code = "FEATURE_NOT_SUPPORTED"


class NotSupported(PermanentError):
    code = "NOT_SUPPORTED"


class NotSubscribed(PermanentError):
    code = "NOT_SUBSCRIBED"


class DiscretePaginationLimitExceeded(PermanentError):
    code = "DISCRETE_PAGINATION_LIMIT_EXCEEDED"


class PaginationLimitExceeded(PermanentError):
    code = "PAGINATION_LIMIT_EXCEEDED"


class ExpiredValue(PermanentError):
    code = "EXPIRED_VALUE"


class TokenBoundDataMismatch(PermanentError):
    code = "TOKEN_BOUND_DATA_MISMATCH"


class DownloadNotAllowed(PermanentError):
    code = "DOWNLOAD_NOT_ALLOWED"


class FileTooLarge(PermanentError):
    code = "FILE_SIZE_MORE_THAN_ALLOWED_SIZE"


class BodySizeReached(FileTooLarge):
    code = "BODY_SIZE_REACHED"


class CurrenciesNotEnabled(PermanentError):
    code = "CURRENCIES_NOT_ENABLED"


class UnexpectedResponse(PermanentError):
    code = "UNEXPECTED_RESPONSE"


# --- lookup -----------------------------------------------------------------------------


def _subclasses(cls: type[ZohoError]) -> list[type[ZohoError]]:
    found: list[type[ZohoError]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found


_BY_CODE: dict[str, type[ZohoError]] = {c.code: c for c in _subclasses(ZohoError) if c.code}


def for_code(code: str) -> type[ZohoError] | None:
    """The class for a Zoho code (API ``code`` or token-endpoint ``error``), if we know it."""
    return _BY_CODE.get(code)


def class_for(status: int | None, code: str | None) -> type[ZohoError]:
    """The one status/code → class table; the code wins, the status decides the rest."""
    known = for_code(code) if code else None
    if known is not None:
        return known
    if status == 429:
        return TooManyRequests
    if status is not None and status >= 500:
        return ServerError
    if status == 401:
        return AuthError
    return PermanentError if code else UnexpectedResponse


def error_for(
    status: int | None,
    body: Any,
    *,
    retry_after: float | None = None,
    org: str | None = None,
) -> ZohoError:
    """Build the typed error for a bare Zoho error object (or any unexpected body)."""
    obj = body if isinstance(body, Mapping) else {}
    code = obj.get("code") or obj.get("error")
    message = str(obj.get("message") or obj.get("error_description") or "")
    details = obj.get("details") if isinstance(obj.get("details"), Mapping) else None
    cls = class_for(status, str(code) if code else None)
    kw: dict[str, Any] = {"code": str(code) if code else None, "details": details}
    kw.update(status=status, org=org)
    if issubclass(cls, RetryableError):
        return cls(message, retry_after=retry_after, **kw)
    return cls(message, **kw)

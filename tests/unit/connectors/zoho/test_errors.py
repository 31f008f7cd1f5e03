from __future__ import annotations

import pytest

from connectors.zoho import errors as e

# The one status/code → class table, as the client applies it.
TABLE = [
    (401, "INVALID_TOKEN", e.InvalidToken, e.RetryableError),
    (401, "INVALID_OAUTHTOKEN", e.EvictedToken, e.InvalidToken),
    (429, "TOO_MANY_REQUESTS", e.TooManyRequests, e.RetryableError),
    (429, None, e.TooManyRequests, e.RetryableError),
    (500, "INTERNAL_ERROR", e.InternalError, e.RetryableError),
    (502, None, e.ServerError, e.RetryableError),
    (503, "SOMETHING_NEW", e.ServerError, e.RetryableError),
    (401, "OAUTH_SCOPE_MISMATCH", e.OAuthScopeMismatch, e.AuthError),
    (401, "AUTHENTICATION_FAILURE", e.AuthenticationFailure, e.AuthError),
    (401, "SOMETHING_NEW", e.AuthError, e.AuthError),
    (403, "NO_PERMISSION", e.NoPermission, e.AuthError),
    (200, "invalid_code", e.InvalidCode, e.AuthError),
    (200, "invalid_client", e.InvalidClient, e.AuthError),
    (200, "invalid_client_secret", e.InvalidClientSecret, e.AuthError),
    (200, "Access Denied", e.RefreshThrottled, e.RetryableError),
    (200, "access_denied", e.GrantThrottled, e.RetryableError),
    (400, "INVALID_DATA", e.InvalidData, e.PermanentError),
    (400, "MANDATORY_NOT_FOUND", e.MandatoryNotFound, e.PermanentError),
    (400, "DUPLICATE_DATA", e.DuplicateData, e.PermanentError),
    (400, "INVALID_MODULE", e.InvalidModule, e.PermanentError),
    (400, "REQUIRED_PARAM_MISSING", e.RequiredParamMissing, e.PermanentError),
    (400, "LIMIT_EXCEEDED", e.LimitExceeded, e.PermanentError),
    (404, "INVALID_URL_PATTERN", e.InvalidUrlPattern, e.PermanentError),
    (412, "ALREADY_MODIFIED", e.AlreadyModified, e.PermanentError),
    (400, "NOT_SUBSCRIBED", e.NotSubscribed, e.PermanentError),
    (403, "CURRENCIES_NOT_ENABLED", e.CurrenciesNotEnabled, e.PermanentError),
    (
        400,
        "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
        e.DiscretePaginationLimitExceeded,
        e.PermanentError,
    ),
    (400, "DOWNLOAD_NOT_ALLOWED", e.DownloadNotAllowed, e.PermanentError),
    (413, "FILE_SIZE_MORE_THAN_ALLOWED_SIZE", e.FileTooLarge, e.PermanentError),
    (413, "BODY_SIZE_REACHED", e.BodySizeReached, e.FileTooLarge),
    (400, "SOMETHING_NEW", e.PermanentError, e.PermanentError),
    (400, None, e.UnexpectedResponse, e.PermanentError),
]


@pytest.mark.parametrize(("status", "code", "cls", "disposition"), TABLE)
def test_status_and_code_map_to_one_class(status, code, cls, disposition) -> None:
    assert e.class_for(status, code) is cls
    assert issubclass(cls, disposition)
    assert cls.retryable is issubclass(cls, e.RetryableError)


def test_for_code_is_built_from_every_subclass_with_a_code() -> None:
    assert e.for_code("INVALID_TOKEN") is e.InvalidToken
    assert e.for_code("NOPE") is None
    coded = [c for c in e._subclasses(e.ZohoError) if c.code]
    assert len({c.code for c in coded}) == len(coded), "two classes share a code"
    assert all(e.for_code(c.code) is c for c in coded)


def test_message_carries_zoho_code_message_and_details() -> None:
    body = {
        "code": "MANDATORY_NOT_FOUND",
        "details": {"api_name": "Last_Name"},
        "message": "required field not found",
        "status": "error",
    }
    err = e.error_for(400, body, org="alpha")
    assert isinstance(err, e.MandatoryNotFound)
    text = str(err)
    assert "MANDATORY_NOT_FOUND" in text and "required field not found" in text
    assert "Last_Name" in text and "[alpha]" in text and "HTTP 400" in text
    assert err.details == {"api_name": "Last_Name"}


def test_token_endpoint_error_with_http_200() -> None:
    err = e.error_for(200, {"error": "invalid_code"})
    assert isinstance(err, e.InvalidCode)
    assert "3 by default" in str(err) and "Generate Code" in str(err)


def test_throttle_body_and_retry_after() -> None:
    body = {
        "error_description": "You have made too many requests continuously.",
        "error": "Access Denied",
        "status": "failure",
    }
    err = e.error_for(200, body, retry_after=7.0)
    assert isinstance(err, e.RefreshThrottled)
    assert err.retry_after == 7.0
    assert "too many requests" in str(err)


def test_non_json_body_is_unexpected_or_server_error() -> None:
    assert isinstance(e.error_for(502, None), e.ServerError)
    assert isinstance(e.error_for(418, "teapot"), e.UnexpectedResponse)

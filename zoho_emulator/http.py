"""Response helpers: Zoho's JSON content type, bare error objects, empty 204/304."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

JSON_TYPE = "application/json;charset=UTF-8"
# The parsed body of a write, read once (by the middleware to price it, or by the handler).
JSON_BODY: web.RequestKey[Any] = web.RequestKey("zoho_emulator.json_body", object)


class ApiError(Exception):
    """A request-level error: answered with a bare error object (no "data" wrapper)."""

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}

    def response(self) -> web.Response:
        return json_response(error_body(self.code, self.message, self.details), self.status)


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "details": details or {}, "message": message, "status": "error"}


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    response = web.Response(body=orjson.dumps(payload), status=status, headers=headers)
    response.headers["Content-Type"] = JSON_TYPE
    return response


def empty(status: int) -> web.Response:
    return web.Response(status=status)


def invalid_module() -> ApiError:
    return ApiError(
        400,
        "INVALID_MODULE",
        "the module name given seems to be invalid",
        {"resource_path_index": 0},
    )


def related_id_invalid() -> ApiError:
    """The parent record in ``/{module}/{id}/{related list}`` does not exist (reference §17)."""
    return ApiError(
        400, "INVALID_DATA", "the related id given seems to be invalid", {"resource_path_index": 1}
    )


def related_list_invalid() -> ApiError:
    """No such related list on the module (message: [oas] v8.0 related_records.json)."""
    return ApiError(
        400,
        "INVALID_DATA",
        "The relation name given seems to be invalid",
        {"resource_path_index": 2},
    )


def param_missing(param: str) -> ApiError:
    return ApiError(
        400,
        "REQUIRED_PARAM_MISSING",
        "One of the expected parameter is missing",
        {"param": param, "param_name": param},
    )


def expected_param_missing(*params: str) -> ApiError:
    """None of several alternative parameters was given (search: criteria/email/phone/word)."""
    return ApiError(
        400, "EXPECTED_PARAM_MISSING", "mandatory param missing", {"param_names": list(params)}
    )


def invalid_param(param: str, message: str = "invalid data", **extra: Any) -> ApiError:
    return ApiError(400, "INVALID_DATA", message, {"param": param, "param_name": param, **extra})


def too_many_requests() -> ApiError:
    return ApiError(
        429,
        "TOO_MANY_REQUESTS",
        "You have made too many requests. Please try again after some time.",
        {},
    )


def invalid_token() -> ApiError:
    return ApiError(401, "INVALID_TOKEN", "invalid oauth token", {})


async def read_json(request: web.Request) -> Any:
    """The request body parsed once (the middleware may already have done it)."""
    if JSON_BODY not in request:
        raw = await request.read()
        try:
            request[JSON_BODY] = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            request[JSON_BODY] = _BAD_JSON
    body = request[JSON_BODY]
    if body is _BAD_JSON:
        raise ApiError(400, "INVALID_DATA", "body", {"expected_data_type": "jsonobject"})
    return body


_BAD_JSON = object()


def peek_json(request: web.Request) -> Any:
    """The parsed body if the middleware read it and it parsed, else None."""
    body = request.get(JSON_BODY)
    return None if body is _BAD_JSON else body

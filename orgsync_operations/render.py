"""The status page's responses: Jinja2 templates (autoescaped, no script) and JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2
import orjson
from aiohttp import web

from orgsync_operations.charts import number, when

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("orgsync_operations", "templates"),
    autoescape=True,  # every value is text unless a template says otherwise (none does)
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES.filters["when"] = when
TEMPLATES.filters["number"] = number
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "X-Frame-Options": "DENY",
}


def html_response(template: str, status: int, **context: Any) -> web.Response:
    text = TEMPLATES.get_template(template).render(**context)
    return web.Response(text=text, status=status, content_type="text/html", headers=HEADERS)


def json_response(
    body: object, status: int, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
    )

"""The HTML of the status page: tables, times and the page frame (no script, nothing secret)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from html import escape
from urllib.parse import quote

import orjson
from aiohttp import web

from orgsync_operations.dlq import Entry
from orgsync_operations.offsets import TopicStat

DLQ_ROWS = 20


def topics_table(topics: Mapping[str, TopicStat]) -> str:
    rows = [
        ("class='topic'", [name, lag_text(stat), when(stat.newest) if stat.newest else "never"])
        for name, stat in topics.items()
    ]
    return "<h2>Topics</h2>" + table("topics", ["Topic", "Lag", "Newest message"], rows)


def dlq_table(entries: list[Entry]) -> str:
    rows = []
    for entry in entries[:DLQ_ROWS]:
        s = entry.summary()
        button = (
            f"<form method='post' action='/admin/dlq/{quote(entry.id)}/retry'>"
            "<button class='retry' type='submit'>Retry</button></form>"
        )
        rows.append(
            (
                f"class='dlq-entry' data-id='{escape(entry.id, quote=True)}'",
                [
                    s["id"],
                    s["route"],
                    s["stage"],
                    s["key"],
                    s["code"],
                    s["message"],
                    when(s["failed_at"]),
                    str(s["attempts"]),
                    button,
                ],
            )
        )
    head = ["Id", "Route", "Stage", "Key", "Code", "Message", "Failed at", "Attempts", ""]
    title = f"<h2>Dead letters ({len(entries)} open, newest {min(len(entries), DLQ_ROWS)})</h2>"
    return title + table("dlq", head, rows, raw_last=True)


def table(
    table_id: str, head: list[str], rows: list[tuple[str, list[str]]], *, raw_last: bool = False
) -> str:
    def cells(values: list[str]) -> str:
        return "".join(
            f"<td>{v if raw_last and i == len(values) - 1 else escape(str(v))}</td>"
            for i, v in enumerate(values)
        )

    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(f"<tr {attrs}>{cells(values)}</tr>" for attrs, values in rows)
    return f"<table id='{table_id}'><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def lag_text(stat: TopicStat | None) -> str:
    return "—" if stat is None or stat.lag is None else str(stat.lag)


def when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse;"
    "margin-bottom:2em}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}"
    ".note{background:#ffd;padding:.5em}"
)


def html_response(body: str, status: int) -> web.Response:
    text = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>orgsync status</title>"
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    )
    return web.Response(
        text=text,
        status=status,
        content_type="text/html",
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; "
            "style-src 'unsafe-inline'; form-action 'self'",
            "X-Frame-Options": "DENY",
        },
    )


def json_response(
    body: object, status: int, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
    )

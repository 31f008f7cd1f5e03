"""Structured log lines (text and JSON) and the secret redactor of orgsync_operations/logs.py."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import orjson
import pytest

from orgsync_kernel.settings import Settings
from orgsync_operations.logs import (
    REDACTED,
    SecretRedactor,
    configure,
    record_fields,
    secret_values,
    split_message,
)

SECRET = "client-secret-0123456789abcdef"
TOKEN = "1000." + "ab" * 16 + "." + "cd" * 16


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    yield stream
    root.handlers[:], root.level = saved


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


@pytest.mark.parametrize(
    ("message", "event", "pairs"),
    [
        ("ingress started", "ingress started", {}),
        (
            "sink retry target=tgt records=3 error=TOO_MANY_REQUESTS wait=1.00s",
            "sink retry",
            {"target": "tgt", "records": "3", "error": "TOO_MANY_REQUESTS", "wait": "1.00s"},
        ),
        (
            "dead letter route=a->b code=INVALID_DATA message=the field is too long",
            "dead letter",
            {"route": "a->b", "code": "INVALID_DATA", "message": "the field is too long"},
        ),
        ("x=1", "", {"x": "1"}),
    ],
)
def test_split_message_takes_the_event_and_its_pairs(
    message: str, event: str, pairs: dict[str, str]
) -> None:
    assert split_message(message) == (event, pairs)


def test_a_topic_key_names_org_module_and_record() -> None:
    assert record_fields({"key": "src/Leads/4200001"}) == {
        "org": "src",
        "module": "Leads",
        "record_id": "4200001",
    }
    assert record_fields({"key": "src/Leads/1", "org": "given"}) == {
        "module": "Leads",
        "record_id": "1",
    }
    assert record_fields({"key": "not-a-key"}) == {}


def test_json_lines_carry_fixed_and_event_fields(output: io.StringIO) -> None:
    configure("info", "json", stream=output)
    log = logging.getLogger("pipeline.sync.sink")
    log.warning(
        "dead letter route=%s key=%s code=%s",
        "src->tgt",
        "src/Leads/42",
        "INVALID_DATA",
        extra={"attempts": 3},
    )
    log.debug("not shown at info")
    [line] = lines(output)
    event = orjson.loads(line)
    assert event["level"] == "warning" and event["logger"] == "pipeline.sync.sink"
    assert event["event"] == "dead letter" and event["route"] == "src->tgt"
    assert (event["org"], event["module"], event["record_id"]) == ("src", "Leads", "42")
    assert event["attempts"] == 3 and event["ts"].endswith("Z")


def test_text_lines_are_key_value_with_quoted_spaces(output: io.StringIO) -> None:
    configure("warning", "text", stream=output)
    logging.getLogger("pipeline.worker.agents").warning(
        "fetch retry org=%s module=%s error=%s", "src", "Leads", "a b"
    )
    [line] = lines(output)
    assert (
        ' level=warning logger=pipeline.worker.agents event="fetch retry" org=src module=Leads '
        'error="a b"' in line
    )
    assert line.startswith("ts=")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_never_reach_the_output(output: io.StringIO, fmt: str) -> None:
    configure("debug", fmt, secrets=[SECRET, "short"], stream=output)
    log = logging.getLogger("connectors.zoho.auth")
    log.info("refresh failed secret=%s token=%s", SECRET, TOKEN)
    log.info("extra field", extra={"body": f"client_secret={SECRET}"})
    try:
        raise RuntimeError(f"refused {SECRET}")
    except RuntimeError:
        log.exception("with traceback")
    log.info("short values are not redacted: short")
    text = output.getvalue()
    assert SECRET not in text and TOKEN not in text
    assert text.count(REDACTED) >= 4
    assert "short values are not redacted: short" in text


def test_the_redactor_replaces_the_longest_secret_whole() -> None:
    redactor = SecretRedactor(["abcdef", "abcdef-123456"])
    assert redactor.redact("x abcdef-123456 y abcdef") == f"x {REDACTED} y {REDACTED}"


def test_secret_values_lists_every_configured_secret() -> None:
    org = {
        "dc": "in",
        "edition": "enterprise",
        "client_id": "1000.X",
        "client_secret": "org-client-secret",
        "refresh_token": TOKEN,
    }
    settings = Settings.model_validate(
        {
            "ingress": {
                "webhook_secret": "hook-secret-0123456789",
                "admin_secret": "admin-secret-0123456789",
            },
            "orgs": {"a": org, "b": {**org, "client_secret": "other-client-secret"}},
            "sync": [
                {"source": "a", "target": "b", "modules": {"Leads": {"match_field": "Email"}}}
            ],
        }
    )
    assert set(secret_values(settings)) == {
        "hook-secret-0123456789",
        "admin-secret-0123456789",
        "org-client-secret",
        "other-client-secret",
        TOKEN,
    }


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="text, json"):
        configure("info", "xml")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_traceback_stays_on_its_event_line(output: io.StringIO, fmt: str) -> None:
    configure("info", fmt, stream=output)
    try:
        raise KeyError("missing")
    except KeyError:
        logging.getLogger("x").exception("failed key=%s", "a/Leads/1")
    [line] = lines(output)
    assert "KeyError" in line and "traceback" in line


def test_library_messages_are_kept_whole(output: io.StringIO) -> None:
    configure("info", "json", stream=output)
    message = "Setting newly assigned partitions {TopicPartition(topic='a', partition=0)}"
    logging.getLogger("aiokafka.consumer").info(message)
    [line] = lines(output)
    event = orjson.loads(line)
    assert event["event"] == message and "partition" not in event

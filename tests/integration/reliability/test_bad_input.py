"""Scenario 5: bad input at the running `orgsync run --role ingress` and at the config loader.

Extends tests/integration/connectors/ingress/test_fuzz.py (random requests at the in-process app
never get a 5xx, reusing its strategies) with what only the real process shows: the hints topic
holds exactly what 2xx answers acknowledged, raw HTTP garbage never hurts it, and every bad
configuration stops `orgsync run` with exit 2 and its problems by path, never a traceback.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.deployment import SECRET
from orgsync_kernel.config_file import ConfigError, load_settings
from tests.integration.connectors.ingress import (
    test_fuzz as ingress_fuzz,  # the module: its tests are not collected twice
)
from tests.support.reliability import (
    REPO,
    Row,
    RunningIngress,
    record_row,
)
from tests.support.secret_scan import SUITE_SCAN

FUZZ_EXAMPLES = 250


def note(ingress: RunningIngress) -> st.SearchStrategy[dict[str, Any]]:
    """Notification bodies around the real channel and token of the running ingress."""
    return st.fixed_dictionaries(
        {},
        optional={
            "module": st.sampled_from(["Accounts", "Leads", "accounts", ""]),
            "ids": st.lists(
                st.from_regex(r"[0-9]{1,19}", fullmatch=True) | ingress_fuzz.JSONISH, max_size=4
            ),
            "operation": st.sampled_from(["insert", "update", "delete", "merge"]),
            "channel_id": st.just(ingress.channel_id) | ingress_fuzz.JSONISH,
            "token": st.just(ingress.token) | st.just(ingress.token.upper()) | ingress_fuzz.TEXT,
        },
    )


async def test_fuzzing_the_running_ingress_produces_exactly_what_it_acknowledged(
    ingress: RunningIngress,
) -> None:
    loop = asyncio.get_running_loop()
    answers: list[tuple[int, int]] = []  # (status, hints acknowledged)
    paths = st.sampled_from(
        [
            "/hooks/zoho/src",
            "/hooks/zoho/tgt",
            "/hooks/zoho/..%2f",
            "/notify/src",
            "/notify/tgt",
            "/notify/nobody",
            f"/hooks/zoho/src?secret={SECRET}&module=Accounts&id=12",
        ]
    )
    bodies = (
        ingress_fuzz.BODIES
        | note(ingress).map(orjson.dumps)
        | st.fixed_dictionaries(
            {"module": st.just("Accounts"), "id": st.from_regex(r"[0-9]{1,19}", fullmatch=True)}
        ).map(orjson.dumps)
    )

    # A connection per request: the ingress may refuse before it reads a body, then close.
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))

    async def send(path: str, body: bytes, headers: dict[str, str]) -> tuple[int, int]:
        async with session.post(
            ingress.url + path, data=body, headers=headers, skip_auto_headers=["Content-Type"]
        ) as response:
            text = await response.read()
        acknowledged = orjson.loads(text).get("hints", 0) if response.status == 200 else 0
        return response.status, acknowledged

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(path=paths, body=bodies, headers=ingress_fuzz.HEADERS)
    def fuzz(path: str, body: bytes, headers: dict[str, str]) -> None:
        answer = asyncio.run_coroutine_threadsafe(send(path, body, headers), loop).result(15)
        answers.append(answer)
        assert answer[0] < 500, (path, body, headers, answer)

    try:
        await asyncio.to_thread(fuzz)
    finally:
        await session.close()
    statuses = {status for status, _ in answers}
    accepted = sum(n for _, n in answers)
    assert {200, 400, 401, 404}.issubset(statuses), statuses
    assert ingress.process.alive()
    produced = await ingress.hints()
    refused = sum(1 for status, _ in answers if status != 200)
    record_row(
        Row(
            scenario="5a. fuzzed requests at the ingress",
            passed=produced == accepted,
            load=f"{len(answers)} hypothesis requests (both endpoints, real channel token)",
            faults=f"{refused} refused ({', '.join(map(str, sorted(statuses - {200})))}), none 5xx",
            expected=accepted,
            found=produced,
            duplicates=max(0, produced - accepted),
            dlq=0,
            converge_s=None,
        )
    )
    assert produced == accepted, "the hints topic holds exactly what 2xx answers acknowledged"


BIG = 2 << 20


def chunked(size: int) -> bytes:
    chunk = b"x" * 65536
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(size // len(chunk)))
    return body + b"0\r\n\r\n"


def request(head: str, body: bytes = b"") -> bytes:
    return head.replace("\n", "\r\n").encode() + b"\r\n" + body


HOOK = "POST /hooks/zoho/src HTTP/1.1\nHost: x\nX-Orgsync-Secret: " + SECRET + "\n"
GARBAGE: dict[str, bytes] = {
    "binary noise": bytes(range(256)) * 4,
    "no request line": b"\r\n\r\n",
    "bad method": request("P%ST /hooks/zoho/src HTTP/1.1\nHost: x\n"),
    "HTTP/0.9": b"GET /healthz\r\n\r\n",
    "unknown version": request("POST /hooks/zoho/src HTTP/7.1\nHost: x\n"),
    "header without colon": request(HOOK + "broken header\n"),
    "100 kB header": request(HOOK + "X-Big: " + "a" * 100_000 + "\n"),
    "null in path": request("POST /hooks/zoho/s\x00rc HTTP/1.1\nHost: x\n"),
    "negative length": request(HOOK + "Content-Length: -5\n", b'{"module":"Accounts"}'),
    "length and chunked": request(
        HOOK + "Content-Length: 5\nTransfer-Encoding: chunked\n", b"3\r\nabc\r\n0\r\n\r\n"
    ),
    "bad chunk size": request(HOOK + "Transfer-Encoding: chunked\n", b"zz\r\nabc\r\n0\r\n\r\n"),
    "truncated body": request(
        HOOK + "Content-Type: application/json\nContent-Length: 400\n",
        b'{"module":"Accounts","id":"1',
    ),
    "2 MiB chunked, no length": request(
        HOOK + "Content-Type: application/json\nTransfer-Encoding: chunked\n", chunked(BIG)
    ),
    "2 MiB announced": request(HOOK + f"Content-Length: {BIG}\n", b"{}"),
}
STATUS = re.compile(rb"^HTTP/1\.[01] (\d{3})")


async def raw_exchange(url: str, payload: bytes) -> int | None:
    """Send `payload` on a fresh connection while reading the answer (a server may answer
    and close before the whole body is sent); the status answered, or None if it closed (or
    still waits for the rest of a truncated body)."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))

    async def send() -> None:
        try:
            writer.write(payload)
            await writer.drain()  # no half-close: aiohttp takes it for a client gone away
        except ConnectionError:
            pass

    sending = asyncio.create_task(send())
    try:
        first = await asyncio.wait_for(reader.readline(), 3)  # a truncated body waits
    except (ConnectionError, TimeoutError):
        return None
    finally:
        sending.cancel()
        writer.close()
    match = STATUS.match(first)
    return int(match.group(1)) if match else None


async def test_raw_http_garbage_gets_4xx_or_a_closed_connection_and_produces_nothing(
    ingress: RunningIngress,
    session: aiohttp.ClientSession,
) -> None:
    before = await ingress.hints()
    answers = {name: await raw_exchange(ingress.url, payload) for name, payload in GARBAGE.items()}
    bad = {name: status for name, status in answers.items() if status is not None and status >= 500}
    assert not bad, bad
    assert answers["2 MiB chunked, no length"] == 413
    assert answers["2 MiB announced"] == 413
    assert ingress.process.alive()
    assert await ingress.hints() == before, "garbage produced hints"
    async with session.post(
        f"{ingress.url}/hooks/zoho/src",
        headers={"X-Orgsync-Secret": SECRET},
        json={"module": "Accounts", "id": "42"},
    ) as response:
        assert response.status == 200, "the ingress still works after the garbage"
    assert await ingress.hints() == before + 1
    record_row(
        Row(
            scenario="5b. raw HTTP garbage at the ingress",
            passed=True,
            load=f"{len(GARBAGE)} malformed requests on raw sockets",
            faults=", ".join(f"{name}: {status or 'closed'}" for name, status in answers.items()),
            expected=0,
            found=0,
            duplicates=0,
            dlq=0,
            converge_s=None,
        )
    )


# --- the config loader ---------------------------------------------------------------------

EXAMPLE = REPO / "examples" / "config.example.yaml"
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
ENV = {
    name: f"value-of-{name.lower()}-0123456789" for name in VARIABLE.findall(EXAMPLE.read_text())
}
REQUIRED: tuple[tuple[Any, ...], ...] = (
    ("ingress",),
    ("ingress", "webhook_secret"),
    ("orgs",),
    ("sync",),
    ("orgs", "regional_in", "dc"),
    ("orgs", "regional_in", "edition"),
    ("orgs", "global_us", "client_id"),
    ("orgs", "global_us", "client_secret"),
    ("orgs", "global_us", "refresh_token"),
    ("sync", 0, "source"),
    ("sync", 0, "target"),
    ("sync", 0, "modules"),
    ("sync", 0, "modules", "Leads", "match_field"),
    ("sync", 1, "modules", "Leads", "match_field"),
)


def dotted(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def without(data: dict[str, Any], locs: list[tuple[Any, ...]]) -> dict[str, Any]:
    edited = copy.deepcopy(data)
    for loc in sorted(locs, key=len, reverse=True):
        node: Any = edited
        for part in loc[:-1]:
            node = node[part]
        del node[loc[-1]]
    return edited


def independent(locs: list[tuple[Any, ...]]) -> bool:
    """No removed key inside another removed key (that one would hide it)."""
    return not any(a != b and a[: len(b)] == b for a in locs for b in locs)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    removed=st.lists(st.sampled_from(REQUIRED), min_size=1, max_size=4, unique=True).filter(
        independent
    )
)
def test_every_missing_required_key_is_reported_by_its_path(
    tmp_path_factory: pytest.TempPathFactory,
    removed: list[tuple[Any, ...]],
) -> None:
    data = without(yaml.safe_load(EXAMPLE.read_text()), removed)
    path = tmp_path_factory.mktemp("config") / "orgsync.yaml"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as caught:
        load_settings(path, ENV)
    for loc in removed:
        assert f"{dotted(loc)}: required" in caught.value.problems, (loc, caught.value.problems)
    SUITE_SCAN.add(*ENV.values())
    assert not SUITE_SCAN.scan(str(caught.value), "ConfigError text")


BAD_CONFIGS: dict[str, tuple[str, str]] = {  # name: (edit of the example, expected problem)
    "unknown dc": ("dc: in,", "orgs.regional_in.dc:"),
    "literal secret": (
        'client_secret: "${IN_CLIENT_SECRET}"',
        "orgs.regional_in.client_secret: must be a ${VARIABLE} reference",
    ),
    "short webhook secret": ("${ORGSYNC_WEBHOOK_SECRET}", "ingress.webhook_secret: must be at"),
    "unknown org in a route": ("source: global_us", "sync[1].source: unknown org"),
    "public listen, no admin secret": ('listen: "127.0.0.1:8080"', "admin_secret is required"),
    "not YAML": ("sync:", "not valid YAML/JSON"),
    "typo in a key": ("match_field: Email ", "sync[0].modules.Leads.match_fild: unknown key"),
}
EDITS = {
    "unknown dc": "dc: mars,",
    "literal secret": 'client_secret: "s3cr3t-literal-value-xyz"',
    "short webhook secret": "${SHORT_SECRET}",
    "unknown org in a route": "source: nowhere",
    "public listen, no admin secret": 'listen: "0.0.0.0:8080"',
    "not YAML": "sync: [",
    "typo in a key": "match_fild: Email ",
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
async def test_orgsync_run_refuses_a_bad_config_with_its_problem_and_exit_2(
    tmp_path: Path,
    case: str,
) -> None:
    original, expected = BAD_CONFIGS[case]
    text = EXAMPLE.read_text()
    assert original in text
    config = tmp_path / "orgsync.yaml"
    config.write_text(text.replace(original, EDITS[case], 1))
    env = {**ENV, "SHORT_SECRET": "tiny-secret", "PATH": "/usr/bin:/bin"}
    run = await asyncio.create_subprocess_exec(
        str(REPO / ".venv" / "bin" / "python"),
        "-m",
        "orgsync.cli",
        "run",
        "--config",
        str(config),
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(run.communicate(), 60)
    output = (out + err).decode()
    assert run.returncode == 2, output
    assert output.startswith(f"{config}: "), output
    assert expected in output, output
    assert "Traceback" not in output
    SUITE_SCAN.add("tiny-secret", "s3cr3t-literal-value-xyz", *ENV.values())
    assert not SUITE_SCAN.scan(output, f"orgsync run with a bad config ({case})")

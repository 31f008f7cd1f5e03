"""Random bodies and headers at both endpoints never get a 5xx."""

from __future__ import annotations

import asyncio

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.ingress import CHANNEL_ID, CHANNEL_TOKEN, SECRET, Ingress, TopicReader

GOOD_HOOK = {"module": "Leads", "id": "123"}
GOOD_NOTE = {
    "module": "Leads",
    "ids": ["1", "2"],
    "operation": "update",
    "channel_id": CHANNEL_ID,
    "token": CHANNEL_TOKEN,
}
HEADER = {"X-Orgsync-Secret": SECRET}


async def test_the_good_requests_of_the_cases_are_accepted(
    ingress: Ingress, hints: TopicReader
) -> None:
    """The refusals above come from the one broken part, not from the rest of the request."""
    assert (await ingress.post("/hooks/zoho/alpha", json=GOOD_HOOK, headers=HEADER))[0] == 200
    assert (await ingress.post("/notify/alpha", json=GOOD_NOTE))[0] == 200
    assert await hints.count() == 3


INTS = st.integers(-(2**63), 2**63 - 1)  # what orjson can write
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)  # JSON has no surrogates
JSONISH = st.recursive(
    st.none() | st.booleans() | INTS | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=10,
)
NEAR_VALID = st.fixed_dictionaries(
    {},
    optional={
        "module": st.sampled_from(["Leads", "Deals", "", "leads"]) | TEXT,
        "id": st.from_regex(r"[0-9]{1,22}", fullmatch=True) | JSONISH,
        "ids": st.lists(st.from_regex(r"-?[0-9a]{0,21}", fullmatch=True) | JSONISH, max_size=5)
        | TEXT,
        "operation": st.sampled_from(["insert", "update", "delete", "edit", "x"]) | JSONISH,
        "channel_id": st.just(CHANNEL_ID) | JSONISH,
        "token": st.sampled_from([CHANNEL_TOKEN, "", "\u00e9t\u00e9"]) | JSONISH,
        "secret": st.just(SECRET) | TEXT,
        "server_time": INTS | JSONISH,
    },
)
BODIES = (
    st.binary(max_size=300)
    | NEAR_VALID.map(orjson.dumps)
    | JSONISH.map(orjson.dumps)
    | st.dictionaries(TEXT, TEXT, max_size=5).map(
        lambda d: "&".join(f"{k}={v}" for k, v in d.items()).encode()
    )
)
HEADER_VALUES = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "Content-Type": st.sampled_from(
            [
                "application/json",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=xyz",
                "multipart/form-data",
                "text/plain",
                "application/json; charset=latin-1",
            ]
        )
        | HEADER_VALUES,
        "X-Orgsync-Secret": st.just(SECRET) | HEADER_VALUES,
        "Content-Encoding": st.sampled_from(["gzip", "deflate", "br", "identity"]),
    },
)
PATHS = st.sampled_from(
    [
        "/hooks/zoho/alpha",
        "/hooks/zoho/beta",
        "/hooks/zoho/%00",
        "/notify/alpha",
        "/notify/nobody",
        f"/hooks/zoho/alpha?secret={SECRET}",
        "/hooks/zoho/alpha?secret=%ff%fe&id=1&module=Leads",
    ]
)


async def test_random_requests_never_get_a_5xx(ingress: Ingress) -> None:
    loop = asyncio.get_running_loop()
    statuses: list[int] = []

    async def send(path: str, body: bytes, headers: dict[str, str]) -> int:
        async with ingress.session.post(
            ingress.url + path, data=body, headers=headers, skip_auto_headers=["Content-Type"]
        ) as r:
            await r.read()
            return r.status

    @settings(
        max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(path=PATHS, body=BODIES, headers=HEADERS)
    def fuzz(path: str, body: bytes, headers: dict[str, str]) -> None:
        status = asyncio.run_coroutine_threadsafe(send(path, body, headers), loop).result(10)
        statuses.append(status)
        assert status < 500, (path, body, headers, status)

    await asyncio.to_thread(fuzz)
    assert len(statuses) >= 300 and {400, 401}.issubset(statuses)

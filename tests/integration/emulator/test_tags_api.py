"""Tags API (reference §15): create/list tags per module, add/remove on one or many records,
the Tag field on GET, documented limits and errors, credits of add_tags."""

from __future__ import annotations

import aiohttp
import pytest

from tests.support.emulator import Client, login, make_config
from zoho_emulator import Emulator


async def test_create_list_and_errors(alpha: Client) -> None:
    status, body, _ = await alpha.call(
        "POST",
        "/crm/v8/settings/tags",
        params={"module": "Leads"},
        json={"tags": [{"name": "VIP", "color_code": "#F48435"}]},
    )
    assert status == 201, body
    entry = body["tags"][0]
    assert (entry["code"], entry["message"]) == ("SUCCESS", "tags created successfully")
    vip = entry["details"]["id"]
    status, body, _ = await alpha.call("GET", "/crm/v8/settings/tags", params={"module": "Leads"})
    assert status == 200
    assert [(t["id"], t["name"], t["color_code"]) for t in body["tags"]] == [
        (vip, "VIP", "#F48435")
    ]
    # alpha is an enterprise org: 100 tags per module, 10 per record (Zoho help)
    assert body["info"] == {"count": 1, "allowed_count": 100, "record_limit": 10}

    status, body, _ = await alpha.call(
        "POST",
        "/crm/v8/settings/tags",
        params={"module": "Leads"},
        json={
            "tags": [{"name": "vip"}, {"name": "x" * 26}, {"name": "Ok", "color_code": "#000000"}]
        },
    )
    assert status == 400
    assert [e["code"] for e in body["tags"]] == ["DUPLICATE_DATA", "INVALID_DATA", "INVALID_DATA"]
    assert body["tags"][0]["details"] == {"api_name": "name", "id": vip}
    status, body, _ = await alpha.call("GET", "/crm/v8/settings/tags")
    assert (status, body["code"], body["details"]["param"]) == (
        400,
        "REQUIRED_PARAM_MISSING",
        "module",
    )


async def test_add_remove_and_tag_field(alpha: Client) -> None:
    a, b = await alpha.insert("Leads", {"Last_Name": "A"}, {"Last_Name": "B"})
    status, body, _ = await alpha.call("GET", f"/crm/v8/Leads/{a}")
    assert body["data"][0]["Tag"] == []
    before = body["data"][0]["Modified_Time"]
    alpha.emu.state.advance(5)

    status, body, _ = await alpha.call(
        "POST", "/crm/v8/Leads/actions/add_tags", json={"tags": [{"name": "Hot"}], "ids": [a, b]}
    )
    assert status == 200, body
    assert (body["success_count"], body["locked_count"]) == ("2", "0")
    entry = body["data"][0]
    assert entry["message"] == "tags updated successfully"
    hot = entry["details"]["tags"][0]["id"]
    assert entry["details"] == {"id": a, "tags": [{"name": "Hot", "id": hot, "color_code": None}]}

    status, body, _ = await alpha.call(
        "POST", f"/crm/v8/Leads/{a}/actions/add_tags", json={"tags": [{"name": "Cold"}]}
    )
    assert [t["name"] for t in body["data"][0]["details"]["tags"]] == ["Hot", "Cold"]
    _, body, _ = await alpha.call("GET", f"/crm/v8/Leads/{a}")
    assert [t["name"] for t in body["data"][0]["Tag"]] == ["Hot", "Cold"]
    assert body["data"][0]["Modified_Time"] == before  # default: tagging does not bump it
    _, body, _ = await alpha.call("GET", "/crm/v8/Leads", params={"fields": "Last_Name,Tag"})
    assert {r["id"]: len(r["Tag"]) for r in body["data"]} == {a: 2, b: 1}

    status, body, _ = await alpha.call(
        "POST", "/crm/v8/Leads/actions/remove_tags", json={"tags": [{"id": hot}], "ids": [a, b]}
    )
    assert status == 200, body
    assert body["data"][0]["message"] == "tags updated successfully"  # v7 remove-tags sample
    _, body, _ = await alpha.call("GET", f"/crm/v8/Leads/{b}")
    assert body["data"][0]["Tag"] == []


async def test_tagging_limits(alpha: Client) -> None:
    (a,) = await alpha.insert("Leads", {"Last_Name": "A"})
    ids = [str(10**17 + i) for i in range(501)]
    status, body, _ = await alpha.call(
        "POST", "/crm/v8/Leads/actions/add_tags", json={"tags": [{"name": "T"}], "ids": ids}
    )
    assert (status, body["code"]) == (400, "LIMIT_EXCEEDED")
    status, body, _ = await alpha.call(
        "POST", "/crm/v8/Leads/actions/add_tags", json={"tags": [{"name": "T"}], "ids": [a, "1"]}
    )
    assert status == 207 and body["data"][1]["code"] == "INVALID_DATA"
    status, body, _ = await alpha.call(
        "POST", f"/crm/v8/Leads/{a}/actions/add_tags", json={"tags": [{"id": "42"}]}
    )
    assert (status, body["code"]) == (400, "INVALID_DATA")


async def test_v2_tag_names_query_form(alpha: Client) -> None:
    (a,) = await alpha.insert("Leads", {"Last_Name": "A"})
    status, body, _ = await alpha.call(
        "POST", f"/crm/v2/Leads/actions/add_tags?ids={a}&tag_names=One,Two"
    )
    assert status == 200, body
    assert [t["name"] for t in body["data"][0]["details"]["tags"]] == ["One", "Two"]


@pytest.mark.parametrize("name", ["a<b", "a>b", "a,b", "hot \U0001f525"])
async def test_a_tag_name_with_angle_brackets_a_comma_or_an_emoji_is_invalid(
    alpha: Client, name: str
) -> None:
    status, body, _ = await alpha.call(
        "POST", "/crm/v8/settings/tags", params={"module": "Leads"}, json={"tags": [{"name": name}]}
    )
    assert (status, body["tags"][0]["code"]) == (400, "INVALID_DATA")
    assert body["tags"][0]["details"]["api_name"] == "name"


@pytest.mark.parametrize(
    ("edition", "per_record", "per_module"),
    [("standard", 5, 20), ("professional", 10, 60), ("enterprise", 10, 100), ("ultimate", 10, 200)],
)
async def test_tag_limits_follow_the_edition(
    session: aiohttp.ClientSession, edition: str, per_record: int, per_module: int
) -> None:
    async with Emulator(make_config(alpha={"edition": edition})) as emu:
        alpha = await login(session, emu)
        tags = [{"name": f"t{n}"} for n in range(per_module)]
        status, _, _ = await alpha.call(
            "POST", "/crm/v8/settings/tags", params={"module": "Leads"}, json={"tags": tags}
        )
        assert status == 201
        status, body, _ = await alpha.call(
            "POST", "/crm/v8/settings/tags", params={"module": "Leads"},
            json={"tags": [{"name": "one too many"}]},
        )  # fmt: skip
        assert (status, body["tags"][0]["code"]) == (400, "LIMIT_EXCEEDED")
        (lead,) = await alpha.insert("Leads", {"Last_Name": "A"})
        path = f"/crm/v8/Leads/{lead}/actions/add_tags"
        status, _, _ = await alpha.call("POST", path, json={"tags": tags[:per_record]})
        assert status == 200
        status, body, _ = await alpha.call("POST", path, json={"tags": [tags[per_record]]})
        assert (status, body["data"][0]["code"]) == (400, "LIMIT_EXCEEDED")

"""Conformance with a client nobody here wrote: the official Zoho CRM Python SDK (zohocrmsdk8-0).

The SDK is pointed at the emulator through its own extension point, a custom
``DataCenter.Environment(url, accounts_url, file_upload_url)``; the emulator's token answer
carries ``api_domain`` = its own URL, which the SDK adopts (``update_api_domain`` default) and,
not being a real Zoho domain, keeps the custom environment. The SDK is synchronous: each
scenario runs in a worker thread while the emulator serves from the test's event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from zohocrmsdk.src.com.zoho.api.authenticator import OAuthToken
from zohocrmsdk.src.com.zoho.api.authenticator.store import FileStore
from zohocrmsdk.src.com.zoho.crm.api import Initializer, ParameterMap
from zohocrmsdk.src.com.zoho.crm.api.dc import DataCenter
from zohocrmsdk.src.com.zoho.crm.api.fields import FieldsOperations, GetFieldsParam
from zohocrmsdk.src.com.zoho.crm.api.fields import ResponseWrapper as FieldsWrapper
from zohocrmsdk.src.com.zoho.crm.api.record import (
    ActionWrapper,
    BodyWrapper,
    DeleteRecordsParam,
    Field,
    Record,
    RecordOperations,
    ResponseWrapper,
    SuccessResponse,
)
from zohocrmsdk.src.com.zoho.crm.api.sdk_config import SDKConfig

from zoho_emulator import Emulator, load_config

ADMIN = "admin@alpha.example"
REFRESH = "1000." + "c3" * 16 + "." + "d4" * 16
CLIENT = {"client_id": "1000.SDKCLIENT", "client_secret": "sdk-secret", "refresh_tokens": [REFRESH]}
CONFIG = {
    "orgs": {
        "alpha": {
            "dc": "us",
            "users": [{"email": ADMIN, "name": "Alpha Admin"}],
            "clients": [CLIENT],
        }
    }
}


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(load_config(CONFIG), host="127.0.0.1", port=0) as emulator:
        yield emulator


def _init_sdk(base: str, workdir: Path) -> OAuthToken:
    env = DataCenter.Environment(base, base + "/oauth/v2/token", base)
    token = OAuthToken(
        client_id=CLIENT["client_id"], client_secret=CLIENT["client_secret"], refresh_token=REFRESH
    )
    Initializer.initialize(
        environment=env,
        token=token,
        store=FileStore(str(workdir / "tokens.csv")),
        sdk_config=SDKConfig(auto_refresh_fields=False, pick_list_validation=False),
        resource_path=str(workdir),
    )
    return token


def _lead(last_name: str, email: str) -> Record:
    record = Record()
    record.add_field_value(Field.Leads.last_name(), last_name)
    record.add_field_value(Field.Leads.company(), "Acme")
    record.add_field_value(Field.Leads.email(), email)
    return record


def _body(*records: Record, **extra: Any) -> BodyWrapper:
    body = BodyWrapper()
    body.set_data(list(records))
    body.set_trigger([])
    if "duplicate_check_fields" in extra:
        body.set_duplicate_check_fields(extra["duplicate_check_fields"])
    return body


def _outcomes(response: Any, status: int) -> list[SuccessResponse]:
    assert response is not None, "the SDK could not parse the answer (it logs and returns None)"
    assert response.get_status_code() == status
    wrapper = response.get_object()
    assert isinstance(wrapper, ActionWrapper)
    outcomes = wrapper.get_data()
    assert all(isinstance(o, SuccessResponse) for o in outcomes), [vars(o) for o in outcomes]
    assert all(o.get_status().get_value() == "success" for o in outcomes)
    assert all(o.get_code().get_value() == "SUCCESS" for o in outcomes)
    return outcomes


def _record_scenario(base: str, workdir: Path, zgid: str) -> None:
    token = _init_sdk(base, workdir)
    ops = RecordOperations("Leads")

    created = _outcomes(
        ops.create_records(_body(_lead("Ada", "ada@x.example"), _lead("Bob", "bob@x.example"))), 201
    )
    ada, bob = (o.get_details()["id"] for o in created)  # details stay JSON: id strings
    assert ada.isdigit() and len(ada) == 19
    ada_id, bob_id = int(ada), int(bob)
    assert created[0].get_message().get_value() == "record added"
    # the refresh-token login happened through the emulator's token endpoint
    assert token.get_access_token().startswith("1000.") and token.get_api_domain() == base
    # the SDK's user lookup: users[0].email of /users?type=CurrentUser, then org[0].zgid of /org
    assert token.get_user_signature().get_name() == f"{ADMIN}:{zgid}"

    got = ops.get_record(ada_id)
    assert got.get_status_code() == 200 and isinstance(got.get_object(), ResponseWrapper)
    (record,) = got.get_object().get_data()
    assert record.get_id() == ada_id and record.get_key_value("Last_Name") == "Ada"
    assert isinstance(record.get_created_time(), dt.datetime)
    assert record.get_created_by().get_email() == ADMIN

    change = Record()
    change.set_id(ada_id)
    change.add_field_value(Field.Leads.phone(), "555-0100")
    (updated,) = _outcomes(ops.update_records(_body(change)), 200)
    assert updated.get_details()["id"] == ada
    assert updated.get_message().get_value() == "record updated"
    assert ops.get_record(ada_id).get_object().get_data()[0].get_key_value("Phone") == "555-0100"

    upserted = _outcomes(
        ops.upsert_records(
            _body(
                _lead("Bobby", "bob@x.example"),
                _lead("Cy", "cy@x.example"),
                duplicate_check_fields=["Email"],
            )
        ),
        200,
    )
    assert [o.get_action().get_value() for o in upserted] == ["update", "insert"]
    assert upserted[0].get_details()["id"] == bob
    assert upserted[0].get_duplicate_field() == "Email"

    params = ParameterMap()
    params.add(DeleteRecordsParam.ids, f"{ada_id},{bob_id}")
    deleted = _outcomes(ops.delete_records(params), 200)
    assert {o.get_details()["id"] for o in deleted} == {ada, bob}
    assert ops.get_record(ada_id).get_status_code() in (204, 400)


def _fields_scenario(base: str, workdir: Path) -> None:
    _init_sdk(base, workdir)
    params = ParameterMap()
    params.add(GetFieldsParam.module, "Leads")
    response = FieldsOperations().get_fields(params)
    assert response is not None and response.get_status_code() == 200
    wrapper = response.get_object()
    assert isinstance(wrapper, FieldsWrapper)
    fields = {f.get_api_name(): f for f in wrapper.get_fields()}
    assert fields["Last_Name"].get_system_mandatory() is True
    assert fields["Email"].get_data_type() == "email"
    assert fields["Created_Time"].get_data_type() == "datetime"
    assert fields["Created_Time"].get_read_only() is True
    assert fields["Owner"].get_data_type() == "ownerlookup"


async def test_sdk_login_insert_get_update_upsert_delete(emu: Emulator, tmp_path: Path) -> None:
    zgid = emu.state.orgs["alpha"].zgid
    await asyncio.to_thread(_record_scenario, emu.url, tmp_path, zgid)


async def test_sdk_fields_metadata(emu: Emulator, tmp_path: Path) -> None:
    await asyncio.to_thread(_fields_scenario, emu.url, tmp_path)

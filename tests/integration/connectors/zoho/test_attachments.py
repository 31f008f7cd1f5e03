"""Attachments of a record through the client, against the emulator: files move in chunks."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from connectors.zoho import PermanentError, ZohoClient
from connectors.zoho.attachments import Download
from connectors.zoho.errors import DownloadNotAllowed, FileTooLarge
from tests.support.zoho_client import Emu, MakeClient, emulator_config, lead
from zoho_emulator import Emulator

LIMIT = 512 * 1024  # the emulator's attachment_max_bytes here
CHUNK = 16 * 1024
CONTENT = os.urandom(300 * 1024)


@pytest.fixture
async def emu(session: aiohttp.ClientSession) -> AsyncIterator[Emu]:
    config = {**emulator_config(), "behaviour": {"attachment_max_bytes": LIMIT}}
    async with Emulator(config) as emulator:
        yield Emu(emulator, session)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
async def client(make_client: MakeClient, registry: CollectorRegistry) -> ZohoClient:
    return await make_client(registry=registry)


@pytest.fixture
async def parent(client: ZohoClient) -> str:
    [made] = await client.insert("Leads", [lead(1)], trigger=[])
    return str(made.id)


async def _digest(download: Download) -> dict[str, Any]:
    sha, sizes = hashlib.sha256(), []
    async for chunk in download.chunks(CHUNK):
        sha.update(chunk)
        sizes.append(len(chunk))
    info = (download.file_name, download.size, download.content_type)
    return {"sha256": sha.hexdigest(), "sizes": sizes, "info": info}


def _sources(tmp_path: Path) -> dict[str, Callable[[], Any]]:
    def path() -> Path:
        (tmp_path / "q.bin").write_bytes(CONTENT)
        return tmp_path / "q.bin"

    def file_after_a_header() -> io.BytesIO:
        body = io.BytesIO(b"HEADER" + CONTENT)
        body.seek(6)  # the file is sent from where it stands
        return body

    def chunk_factory() -> Callable[[], AsyncIterator[bytes]]:
        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(CONTENT), CHUNK):
                yield CONTENT[start : start + CHUNK]

        return chunks

    return {"path": path, "file": file_after_a_header, "chunks": chunk_factory}


@pytest.mark.parametrize("kind", ["path", "file", "chunks"])
async def test_a_file_goes_up_and_comes_back_in_chunks(
    client: ZohoClient, registry: CollectorRegistry, parent: str, tmp_path: Path, kind: str
) -> None:
    source = _sources(tmp_path)[kind]()
    outcome = await client.upload_attachment("Leads", parent, "quote.pdf", source)
    assert outcome.ok and outcome.id

    [listed] = await client.attachments("Leads", parent)
    assert (listed["id"], listed["File_Name"]) == (outcome.id, "quote.pdf")
    assert (listed["Size"], listed["$type"]) == (str(len(CONTENT)), "File")

    got = await client.download_attachment("Leads", parent, outcome.id, _digest)
    assert got["sha256"] == hashlib.sha256(CONTENT).hexdigest()
    assert len(got["sizes"]) >= len(CONTENT) // CHUNK and max(got["sizes"]) <= CHUNK
    assert got["info"] == ("quote.pdf", len(CONTENT), "application/pdf")
    labels = {"org": client.name, "kind": "attachments"}
    assert registry.get_sample_value("orgsync_zoho_credits_total", labels) == 3


async def test_an_upload_refused_for_its_token_is_sent_again_from_the_start(
    emu: Emu, client: ZohoClient, parent: str, tmp_path: Path
) -> None:
    await emu.faults(revoke_tokens=True)
    before = client._transport.attempts
    outcome = await client.upload_attachment("Leads", parent, "q.bin", _sources(tmp_path)["file"]())
    assert outcome.ok and outcome.id
    assert client._transport.attempts - before == 2
    got = await client.download_attachment("Leads", parent, outcome.id, _digest)
    assert got["sha256"] == hashlib.sha256(CONTENT).hexdigest()


async def test_a_download_cut_off_midway_is_read_again_from_the_first_byte(
    client: ZohoClient, parent: str
) -> None:
    outcome = await client.upload_attachment("Leads", parent, "q.bin", io.BytesIO(CONTENT))
    consumed = 0

    async def cut_off_once(download: Download) -> dict[str, Any]:
        nonlocal consumed
        consumed += 1
        if consumed == 1:
            async for _ in download.chunks(CHUNK):
                raise aiohttp.ClientPayloadError("connection lost mid-body")
        return await _digest(download)

    got = await client.download_attachment("Leads", parent, str(outcome.id), cut_off_once)
    assert consumed == 2 and got["sha256"] == hashlib.sha256(CONTENT).hexdigest()


async def test_a_link_is_attached_and_cannot_be_downloaded(client: ZohoClient, parent: str) -> None:
    url = "https://example.com/spec"
    outcome = await client.upload_link("Leads", parent, url, title="Spec")
    assert outcome.ok and outcome.id
    [listed] = await client.attachments("Leads", parent)
    assert (listed["File_Name"], listed["$type"], listed["$link_url"]) == ("Spec", "Link URL", url)

    with pytest.raises(DownloadNotAllowed) as info:
        await client.download_attachment("Leads", parent, outcome.id, _digest)
    assert isinstance(info.value, PermanentError) and info.value.status == 400


async def test_a_file_over_the_limit_is_a_permanent_error_sent_once(
    emu: Emu, client: ZohoClient, parent: str
) -> None:
    with pytest.raises(FileTooLarge) as info:
        await client.upload_attachment("Leads", parent, "big.bin", io.BytesIO(bytes(LIMIT + 1)))
    error = info.value
    assert not error.retryable and error.status == 413
    assert error.zoho_code == "FILE_SIZE_MORE_THAN_ALLOWED_SIZE" and "size" in error.zoho_message
    assert await emu.calls(f"POST /crm/v8/Leads/{parent}/Attachments") == 1
    assert await client.attachments("Leads", parent) == []


async def test_attachments_are_deleted_by_id(client: ZohoClient, parent: str) -> None:
    kept = await client.upload_link("Leads", parent, "https://example.com/a")
    gone = await client.upload_attachment("Leads", parent, "a.txt", io.BytesIO(b"a"))
    outcomes = await client.delete_attachments("Leads", parent, [str(gone.id), "999"])
    assert [(o.ok, o.code) for o in outcomes] == [(True, "SUCCESS"), (False, "INVALID_DATA")]
    assert [a["id"] for a in await client.attachments("Leads", parent)] == [kept.id]

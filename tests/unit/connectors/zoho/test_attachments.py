from __future__ import annotations

import io
from pathlib import Path
from unittest.mock import Mock

import pytest

from connectors.zoho.attachments import Download, _rewinding, download_of
from connectors.zoho.transport import BodyStream


def _download(headers: dict[str, str]) -> Download:
    return download_of(BodyStream(headers, Mock()))


def test_a_download_tells_name_size_and_type_from_its_headers() -> None:
    got = _download(
        {
            "Content-Type": "application/pdf;charset=UTF-8",
            "Content-Length": "53224",
            "Content-Disposition": (
                "attachment;filename=\"a b.pdf\";filename*=UTF-8''a%20b%C3%A9.pdf"
            ),
        }
    )
    assert (got.file_name, got.size, got.content_type) == ("a bé.pdf", 53224, "application/pdf")


def test_a_download_without_those_headers_tells_nothing() -> None:
    got = _download({"Transfer-Encoding": "chunked"})
    assert (got.file_name, got.size, got.content_type) == (None, None, None)
    assert _download({"Content-Length": "10", "Content-Encoding": "gzip"}).size is None


def test_a_file_source_is_sent_from_where_it_stood_on_every_attempt() -> None:
    body = io.BytesIO(b"skip:payload")
    body.seek(5)
    with _rewinding(body) as value:
        first = value().read()
        assert value().read() == first == b"payload"


def test_a_path_source_is_opened_for_the_upload_and_closed_after(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"data")
    with _rewinding(tmp_path / "f") as value:
        opened = value()
        assert opened.read() == b"data" and value().read() == b"data"
    assert opened.closed


def test_an_unseekable_file_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(ValueError, match="seekable"), _rewinding(io.RawIOBase()):
        pass

"""Attachments of a record (reference §14): list, download, upload (file or link), delete.

Mixed into ``ZohoClient``.  A file is never held whole: a download hands its body to the
caller's ``consume`` chunk by chunk, an upload sends the file as a multipart ``file`` part
that aiohttp reads chunk by chunk.  An upload is not idempotent (a timeout may have stored
it), so only throttles and token refreshes are retried, and each attempt sends the source
from its start.  A link attachment cannot be downloaded (``DownloadNotAllowed``); a file over
Zoho's limit fails with ``FileTooLarge`` (HTTP 413): both are permanent.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TypeVar

import aiohttp
from aiohttp.multipart import content_disposition_filename, parse_content_disposition

from .limits import Priority
from .outcomes import WriteOutcome, parse_write_response
from .records import Record
from .related import delete_related, list_related
from .transport import CHUNK_SIZE, BodyStream, Call, ZohoTransport

ATTACHMENT_FIELDS = ("File_Name", "Size", "$type", "$link_url", "$file_id", "Modified_Time")
KIND = "attachments"
T = TypeVar("T")

# A path, a seekable binary file (read from where it stands), or a factory of chunks that
# starts over on each call.
Source = str | os.PathLike[str] | IO[bytes] | Callable[[], AsyncIterable[bytes]]
PartValue = IO[bytes] | AsyncIterable[bytes]


@dataclass(frozen=True)
class Download:
    """One attachment while it arrives: name, size and type if the answer tells them."""

    file_name: str | None
    size: int | None
    content_type: str | None
    _body: BodyStream = field(repr=False)

    def chunks(self, size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        return self._body.chunks(size)


def download_of(body: BodyStream) -> Download:
    headers = {k.lower(): v for k, v in body.headers.items()}
    _, params = parse_content_disposition(headers.get("content-disposition"))
    # A compressed body's length is not the file's size (aiohttp inflates it on the way).
    length = "" if "content-encoding" in headers else headers.get("content-length", "")
    content_type = headers.get("content-type", "").split(";")[0].strip()
    return Download(
        content_disposition_filename(params, "filename"),
        int(length) if length.isdigit() else None,
        content_type or None,
        body,
    )


class AttachmentsAPI:
    _transport: ZohoTransport

    async def attachments(
        self,
        module: str,
        record_id: str,
        fields: Sequence[str] = ATTACHMENT_FIELDS,
        *,
        priority: Priority = Priority.LIVE,
    ) -> list[Record]:
        """Every attachment of one record (``Size`` is a string of bytes, ``$type`` is
        ``File`` or ``Link URL``), a page of 200 at a time."""
        path = _path(module, record_id)
        return await list_related(self._transport, path, fields, KIND, priority)

    async def download_attachment(
        self,
        module: str,
        record_id: str,
        attachment_id: str,
        consume: Callable[[Download], Awaitable[T]],
        *,
        priority: Priority = Priority.LIVE,
    ) -> T:
        """``consume``'s result; it reads the file with ``Download.chunks`` as it arrives.

        A retried attempt calls ``consume`` again from the first byte: it must start afresh.
        """
        call = Call("GET", _path(module, record_id, attachment_id), KIND, priority=priority)
        return await self._transport.stream(call, lambda body: consume(download_of(body)))

    async def upload_attachment(
        self,
        module: str,
        record_id: str,
        file_name: str,
        source: Source,
        *,
        content_type: str | None = None,
        priority: Priority = Priority.LIVE,
    ) -> WriteOutcome:
        """Attach a file; the outcome carries the new attachment's id."""
        kind = content_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        with _rewinding(source) as value:

            def form() -> aiohttp.FormData:
                data = aiohttp.FormData()
                data.add_field("file", value(), filename=file_name, content_type=kind)
                return data

            return await self._upload(module, record_id, form, priority)

    async def upload_link(
        self,
        module: str,
        record_id: str,
        url: str,
        title: str | None = None,
        *,
        priority: Priority = Priority.LIVE,
    ) -> WriteOutcome:
        """Attach a link (Zoho takes the page's title when none is given)."""
        fields = {"attachmentUrl": url, **({"title": title} if title else {})}

        def form() -> aiohttp.FormData:
            return aiohttp.FormData(fields, default_to_multipart=True)

        return await self._upload(module, record_id, form, priority)

    async def delete_attachments(
        self, module: str, record_id: str, ids: Sequence[str]
    ) -> list[WriteOutcome]:
        """Attachments of one record deleted by id, 100 per call."""
        return await delete_related(self._transport, _path(module, record_id), ids, KIND)

    async def _upload(
        self,
        module: str,
        record_id: str,
        form: Callable[[], aiohttp.FormData],
        priority: Priority,
    ) -> WriteOutcome:
        path = _path(module, record_id)
        call = Call("POST", path, KIND, form=form, priority=priority, idempotent=False)
        response = await self._transport.call(call)
        return parse_write_response(response.body, 1, "insert")[0]


def _path(module: str, record_id: str, attachment_id: str | None = None) -> str:
    one = f"/{attachment_id}" if attachment_id else ""
    return f"/{module}/{record_id}/Attachments{one}"


@contextmanager
def _rewinding(source: Source) -> Iterator[Callable[[], PartValue]]:
    """A factory of the ``file`` part's value, from the source's start on each call."""
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as opened:
            yield _rewound(opened)
    elif callable(source):
        yield source
    else:
        yield _rewound(source)


def _rewound(file: IO[bytes]) -> Callable[[], IO[bytes]]:
    if not file.seekable():
        raise ValueError("an upload source file must be seekable; pass a chunk factory instead")
    start = file.tell()

    def rewind() -> IO[bytes]:
        file.seek(start)
        return file

    return rewind

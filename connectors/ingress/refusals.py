"""Hints the ingress could not hand to Kafka in time (it answered 503).

Zoho is not known to send a callback again (its retry policy is undocumented, reference §5;
notifications answered 503 never came back, issue 26), so what the ingress refuses must be
found by the poller. A change moves its record's ``Modified_Time`` and the poller's listing
finds it anyway; a related action (a note, an attachment, a tag) moves nothing the listing
sees. So the server keeps each refused request's hints here, and the poller of the same
process produces them at its next poll of that org and module, and at each of its cursor
saves during a long one: within one interval. Held up to ``limit`` hints; past it the hints
are dropped (counted) and the next poll of that org and module lists from before the
earliest refusal it lost, so that at least every change is listed again.

With a ``RefusalJournal`` (``orgsync run`` keeps one under the state directory) what is held
survives a restart of the ingress: each refusal is appended to a file of its org and module
as it happens, and the file is rewritten from memory once the poller's produce of what it
took was acknowledged (`settle`). A restart between the two produces some hints twice
(harmless: dedup downstream), never none. A refusal whose hints were not held is kept in the
file until a poll that listed from before it completed (`settle(confirmed=True)`).
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import orjson

from ..kafka import Message

log = logging.getLogger(__name__)
LIMIT = 100_000  # hints held at most (a few MB)
Key = tuple[str, str]  # (org, module)


class RefusalJournal:
    """One JSON-lines file per org and module: ``{"org", "module", "at", "hints"}`` lines
    (each refused request's ``[key, value]`` pairs) and ``{"org", "module", "lost"}`` lines."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, key: Key) -> Path:
        digest = hashlib.sha256("|".join(key).encode()).hexdigest()[:16]
        return self.directory / f"{digest}.jsonl"

    def append(self, key: Key, messages: list[Message], at: float) -> None:
        self._write(self._path(key), [_hints_line(key, messages, at)], "ab")

    def append_lost(self, key: Key, at: float) -> None:
        self._write(self._path(key), [_lost_line(key, at)], "ab")

    def rewrite(self, key: Key, messages: list[Message], lost: float | None) -> None:
        """The file of ``key`` becomes exactly this (removed when it would be empty)."""
        path = self._path(key)
        if not messages and lost is None:
            path.unlink(missing_ok=True)
            return
        lines = [_hints_line(key, messages, 0.0)] if messages else []
        lines += [_lost_line(key, lost)] if lost is not None else []
        spare = path.with_suffix(".tmp")
        self._write(spare, lines, "wb")
        os.replace(spare, path)

    def compact(self, held: dict[Key, list[Message]], lost: dict[Key, float]) -> None:
        """The files become exactly this (at a start: no line cut short is appended to)."""
        for path in self.directory.glob("*.jsonl"):
            path.unlink()
        for key in held.keys() | lost.keys():
            self.rewrite(key, held.get(key, []), lost.get(key))

    def _write(self, path: Path, lines: list[bytes], mode: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with path.open(mode) as out:
            out.write(b"".join(lines))

    def load(self) -> tuple[dict[Key, list[Message]], dict[Key, float]]:
        """Everything the files hold; a line cut short by a crash is skipped."""
        held: dict[Key, list[Message]] = {}
        lost: dict[Key, float] = {}
        for path in sorted(self.directory.glob("*.jsonl")):
            for raw in path.read_bytes().splitlines():
                line = _parse(raw)
                if line is None:
                    continue
                key = (str(line["org"]), str(line["module"]))
                if "lost" in line:
                    lost[key] = min(float(line["lost"]), lost.get(key, float(line["lost"])))
                else:
                    pairs = line.get("hints") or []
                    held.setdefault(key, []).extend((k.encode(), v.encode()) for k, v in pairs)
        return held, lost


def _hints_line(key: Key, messages: list[Message], at: float) -> bytes:
    pairs = [[k.decode(), v.decode() if v is not None else ""] for k, v in messages]
    return orjson.dumps({"org": key[0], "module": key[1], "at": at, "hints": pairs}) + b"\n"


def _lost_line(key: Key, at: float) -> bytes:
    return orjson.dumps({"org": key[0], "module": key[1], "lost": at}) + b"\n"


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        line = orjson.loads(raw)
    except orjson.JSONDecodeError:
        log.warning("ingress: a refused-hints line cut short is skipped")
        return None
    return line if isinstance(line, dict) and "org" in line and "module" in line else None


class Refusals:
    def __init__(self, limit: int = LIMIT, journal: RefusalJournal | None = None) -> None:
        self.limit = limit
        self.dropped = 0
        self.journal = journal
        self._held: dict[Key, list[Message]] = {}
        self._lost: dict[Key, float] = {}
        self._listing: dict[Key, float] = {}  # lost marks a running poll lists from
        self._count = 0
        if journal is not None:
            self._reload(journal)

    def _reload(self, journal: RefusalJournal) -> None:
        held, self._lost = journal.load()
        for key, messages in held.items():
            kept = messages[: max(0, self.limit - self._count)]
            self._held[key] = kept
            self._count += len(kept)
        journal.compact(self._held, self._lost)
        if self._count or self._lost:
            log.info("ingress: %d refused hints kept from before the restart", self._count)

    def add(self, org: str, module: str, messages: list[Message], at: float) -> None:
        """Hold a refused request's hints (``at``: when it was refused, epoch seconds)."""
        room = max(0, self.limit - self._count)
        if room:
            self._held.setdefault((org, module), []).extend(messages[:room])
            self._count += min(room, len(messages))
            if self.journal is not None:
                self.journal.append((org, module), messages[:room], at)
        if len(messages) > room:
            self.dropped += len(messages) - room
            self.mark_lost(org, module, at)
            log.warning("ingress: %d refused hints not held (limit %d)", self.dropped, self.limit)

    def take(self, org: str, module: str) -> list[Message]:
        messages = self._held.pop((org, module), [])
        self._count -= len(messages)
        return messages

    def give_back(self, org: str, module: str, messages: list[Message]) -> None:
        """What a poll took and could not produce, for the next one."""
        if messages:
            self._held.setdefault((org, module), [])[:0] = messages
            self._count += len(messages)

    def settle(self, org: str, module: str, *, confirmed: bool = False) -> None:
        """What was taken is acknowledged by Kafka: the journal keeps only what is held now
        (``confirmed``: and a poll that listed from before the lost refusals completed)."""
        key = (org, module)
        if confirmed:
            self._listing.pop(key, None)
        if self.journal is not None:
            floors = [at for at in (self._lost.get(key), self._listing.get(key)) if at is not None]
            self.journal.rewrite(key, self._held.get(key, []), min(floors, default=None))

    def mark_lost(self, org: str, module: str, at: float) -> None:
        key = (org, module)
        if self.journal is not None and (key not in self._lost or at < self._lost[key]):
            self.journal.append_lost(key, at)
        self._lost[key] = min(at, self._lost.get(key, at))

    def lost_since(self, org: str, module: str) -> float | None:
        """The earliest refusal whose hints were not held, once (None: nothing lost)."""
        at = self._lost.pop((org, module), None)
        if at is not None:
            key = (org, module)
            self._listing[key] = min(at, self._listing.get(key, at))
        return at

    def __len__(self) -> int:
        return self._count

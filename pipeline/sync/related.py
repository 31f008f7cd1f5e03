"""Syncing a record's notes, attachments and tags once the record is linked in the target.

`RelatedSync.sync(work)` reads the record's items in both orgs, plans (related_plans.py),
writes, and stores the maps (both directions, so that the other route of a two-way pair sees
what orgsync wrote as already synced: an echo writes nothing). It returns None while the record
has no link yet, raises `Unlinked` while records of a related list have none, and else returns
the dead letters of items Zoho refused, each naming the item. Attachment
files are streamed through a temporary file while their sha256 is computed, never held whole.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

import orjson

from connectors.zoho import Download, PermanentError, ZohoClient
from orgsync_kernel.events import DeadLetter, RelatedWork, dead_letter, link_key, record_key
from orgsync_kernel.settings import ModuleRoute, Route
from pipeline.sync.related_plans import (
    LINK,
    AttachmentsPlan,
    plan_attachments,
    plan_list,
    plan_notes,
    plan_tags,
    related_key,
    tag_names,
)
from pipeline.sync.write_outcomes import Failure, failure

log = logging.getLogger(__name__)


LIST_FIELDS = ("Modified_Time",)


class Unlinked(Exception):
    """Related records not in the target yet (`keys`: org/module/id): the work waits like a
    held child, and they are hinted so that they are synced."""

    def __init__(self, keys: list[str]) -> None:
        super().__init__(", ".join(keys))
        self.keys = keys


async def _list_module(client: ZohoClient, module: str, name: str) -> str:
    """The module of the records in related list `name` (``/settings/related_lists``)."""
    for entry in await client.related_lists(module):
        if entry.get("api_name") == name:
            return str((entry.get("module") or {}).get("api_name") or name)
    return name


class RelatedSync:
    def __init__(
        self,
        routes: Mapping[str, Route],
        clients: Mapping[str, ZohoClient],
        links: MutableMapping[str, str],
    ) -> None:
        self.routes = routes
        self.clients = clients
        self.links = links

    async def sync(self, work: RelatedWork) -> list[DeadLetter] | None:
        route = self.routes[work.route]
        target_id = self.links.get(link_key(work.org, work.module, work.id, route.target))
        if target_id is None:
            return None
        job = _Job(self, work, route, target_id)
        dead: list[DeadLetter] = []
        for kind in work.kinds:
            dead += await getattr(job, kind)()
        return dead


class _Job:
    """One record's related items along one route."""

    def __init__(self, owner: RelatedSync, work: RelatedWork, route: Route, target_id: str) -> None:
        self.work, self.route, self.links = work, route, owner.links
        self.mapping: ModuleRoute = route.modules[work.module]
        self.source = owner.clients[route.source]
        self.target = owner.clients[route.target]
        self.target_module = route.target_module(work.module)
        self.target_id = target_id

    # --- the maps ----------------------------------------------------------------------

    def _key(self, kind: str) -> str:
        work = self.work
        return related_key(work.org, work.module, work.id, self.route.target, kind)

    def _load(self, kind: str) -> Any:
        raw = self.links.get(self._key(kind))
        return orjson.loads(raw) if raw else {}

    def _store(self, kind: str, forward: Any, backward: Any) -> None:
        self.links[self._key(kind)] = _dump(forward)
        route = self.route
        back = related_key(route.target, self.target_module, self.target_id, route.source, kind)
        self.links[back] = _dump(backward)

    def _dead(self, kind: str, item: Mapping[str, Any], refused: Failure) -> DeadLetter:
        details = {"kind": kind, "item": dict(item), **refused.details}
        log.warning(
            "related item refused key=%s kind=%s code=%s", self.work.key, kind, refused.code
        )
        return dead_letter(
            self.route.name,
            "related",
            self.work.key,
            self.work.asdict(),
            refused.code,
            refused.message,
            details,
        )

    # --- notes -------------------------------------------------------------------------

    async def notes(self) -> list[DeadLetter]:
        source = await self.source.notes(self.work.module, self.work.id)
        target = await self.target.notes(self.target_module, self.target_id)
        plan = plan_notes(source, target, self._load("notes"), self.mapping.delete)
        dead: list[DeadLetter] = []
        if plan.create:
            outcomes = await self.target.add_notes(
                self.target_module, self.target_id, [c for _, c in plan.create]
            )
            for (sid, content), outcome in zip(plan.create, outcomes, strict=True):
                if outcome.ok:
                    plan.mapped[sid] = str(outcome.id)
                else:
                    dead.append(self._dead("notes", {"id": sid, **content}, failure(outcome)))
        if plan.update:
            await self.target.update_notes(self.target_module, self.target_id, plan.update)
        if plan.delete:
            await self.target.delete_notes(self.target_module, self.target_id, plan.delete)
        self._store("notes", plan.mapped, {t: s for s, t in plan.mapped.items()})
        return dead

    # --- attachments -------------------------------------------------------------------

    async def attachments(self) -> list[DeadLetter]:
        source = await self.source.attachments(self.work.module, self.work.id)
        target = await self.target.attachments(self.target_module, self.target_id)
        plan = plan_attachments(source, target, self._load("attachments"), self.mapping.delete)
        dead: list[DeadLetter] = []
        for attachment in plan.copy:
            try:
                await self._copy(attachment, plan)
            except PermanentError as error:
                dead.append(self._dead("attachments", attachment, failure(error)))
        if plan.delete:
            await self.target.delete_attachments(self.target_module, self.target_id, plan.delete)
        backward = {t: [s, digest] for s, (t, digest) in plan.mapped.items()}
        self._store("attachments", plan.mapped, backward)
        return dead

    async def _copy(self, attachment: Mapping[str, Any], plan: AttachmentsPlan) -> None:
        sid, name = str(attachment["id"]), str(attachment.get("File_Name") or "attachment")
        if attachment.get("$type") == LINK:
            url = str(attachment.get("$link_url") or "")
            outcome = await self.target.upload_link(self.target_module, self.target_id, url, name)
            plan.mapped[sid] = [str(outcome.id), ""]
            return
        with tempfile.TemporaryDirectory(prefix="orgsync-attachment-") as spool:
            path = Path(spool) / "file"

            async def keep(download: Download) -> str:
                digest = hashlib.sha256()
                with path.open("wb") as file:
                    async for chunk in download.chunks():
                        digest.update(chunk)
                        file.write(chunk)
                return digest.hexdigest()

            sha256 = await self.source.download_attachment(
                self.work.module, self.work.id, sid, keep
            )
            held = plan.holding(sha256)
            if held is None:
                outcome = await self.target.upload_attachment(
                    self.target_module, self.target_id, name, path
                )
                held = str(outcome.id)
            plan.mapped[sid] = [held, sha256]

    # --- related lists (a Price Book's Products) ------------------------------------------

    async def related_lists(self) -> list[DeadLetter]:
        """Raises `Unlinked` while a related record is not in the target yet."""
        for name in self.mapping.related_lists:
            module = await _list_module(self.source, self.work.module, name)
            rows = await self.source.related_records(
                self.work.module, self.work.id, name, LIST_FIELDS
            )
            translated = self._translated(module, rows)
            target = await self.target.related_records(
                self.target_module, self.target_id, name, LIST_FIELDS
            )
            kind = f"list:{name}"
            plan = plan_list(
                translated, target, self._load(kind).get("ids", []), self.mapping.delete
            )
            if plan.link:
                await self.target.link_related(self.target_module, self.target_id, name, plan.link)
            if plan.delink:
                await self.target.delink_related(
                    self.target_module, self.target_id, name, plan.delink
                )
            self._store(kind, {"ids": plan.synced}, {"ids": plan.synced})
        return []

    def _translated(self, module: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        source, target = self.route.source, self.route.target
        ids = [self.links.get(link_key(source, module, str(r["id"]), target)) for r in rows]
        missing = [
            record_key(source, module, str(r["id"]))
            for r, i in zip(rows, ids, strict=True)
            if i is None
        ]
        if missing:
            raise Unlinked(missing)
        return [{**row, "id": i} for row, i in zip(rows, ids, strict=True)]

    # --- tags ----------------------------------------------------------------------------

    async def tags(self) -> list[DeadLetter]:
        [source] = await self.source.get_by_ids(self.work.module, [self.work.id], ["Tag"]) or [{}]
        [target] = await self.target.get_by_ids(self.target_module, [self.target_id], ["Tag"]) or [
            {}
        ]
        plan = plan_tags(tag_names(source), tag_names(target), self._load("tags").get("names", []))
        if plan.add:
            await self.target.add_tags(self.target_module, [self.target_id], plan.add)
        if plan.remove:
            await self.target.remove_tags(self.target_module, [self.target_id], plan.remove)
        self._store("tags", {"names": plan.synced}, {"names": plan.synced})
        return []


def _dump(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()

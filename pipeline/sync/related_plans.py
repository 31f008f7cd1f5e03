"""What to do to a target record's notes, attachments and tags to mirror the source's (pure).

Each kind keeps a map in the links table (`related_key`), in both directions like record
links: source note id → target note id; source attachment id → [target id, sha256 of the
file]; for tags, the names orgsync put on the record. A plan compares the two records' current
items through that map. An unmapped target item equal to a source item (a note of the same
title and content, an attachment of the same name, size and kind) is adopted instead of
copied again: what a write interrupted before its map was stored left behind, so a replay
never creates or uploads twice. Items of the target that no source item accounts for are left
alone; items orgsync copied whose source is gone are removed when the route deletes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

NOTE_CONTENT = ("Note_Title", "Note_Content")
LINK = "Link URL"  # an attachment's `$type` when it is a link, not a file


def related_key(org: str, module: str, record_id: str, other_org: str, kind: str) -> str:
    """Links-table key of the `kind` map of record `org/module/id` as seen from `other_org`."""
    return f"{other_org}|{org}/{module}#{kind}/{record_id}"


def note_content(note: Mapping[str, Any]) -> dict[str, Any]:
    return {name: note.get(name) or None for name in NOTE_CONTENT}


@dataclass
class NotesPlan:
    mapped: dict[str, str]  # the map once planned (the notes to create are added as created)
    create: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # source id, content
    update: list[dict[str, Any]] = field(default_factory=list)  # {"id": target id, content}
    delete: list[str] = field(default_factory=list)  # target note ids


def plan_notes(
    source: Iterable[Mapping[str, Any]],
    target: Iterable[Mapping[str, Any]],
    known: Mapping[str, str],
    delete: bool,
) -> NotesPlan:
    by_id = {str(n["id"]): n for n in target}
    plan = NotesPlan({s: t for s, t in known.items() if t in by_id})
    free = [n for n in by_id.values() if str(n["id"]) not in plan.mapped.values()]
    present = set()
    for note in source:
        sid, content = str(note["id"]), note_content(note)
        present.add(sid)
        tid = plan.mapped.get(sid)
        if tid is not None:
            if note_content(by_id[tid]) != content:
                plan.update.append({"id": tid, **content})
            continue
        twin = next((n for n in free if note_content(n) == content), None)
        if twin is not None:
            free.remove(twin)
            plan.mapped[sid] = str(twin["id"])
        else:
            plan.create.append((sid, content))
    for sid in [s for s in plan.mapped if s not in present]:
        tid = plan.mapped.pop(sid)
        if delete:
            plan.delete.append(tid)
    return plan


def attachment_identity(attachment: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        attachment.get("File_Name"),
        str(attachment.get("Size") or ""),
        attachment.get("$type") or "File",
        attachment.get("$link_url"),
    )


@dataclass
class AttachmentsPlan:
    mapped: dict[str, list[str]]  # source id -> [target id, sha256 or ""]
    copy: list[Mapping[str, Any]] = field(default_factory=list)  # source attachments
    delete: list[str] = field(default_factory=list)  # target attachment ids

    def holding(self, sha256: str) -> str | None:
        """The target attachment that already holds a file of this content, if any."""
        return next((t for t, digest in self.mapped.values() if digest == sha256), None)


def plan_attachments(
    source: Iterable[Mapping[str, Any]],
    target: Iterable[Mapping[str, Any]],
    known: Mapping[str, list[str]],
    delete: bool,
) -> AttachmentsPlan:
    ids = {str(a["id"]): a for a in target}
    plan = AttachmentsPlan({s: list(v) for s, v in known.items() if v and v[0] in ids})
    taken = {v[0] for v in plan.mapped.values()}
    free = [a for a in ids.values() if str(a["id"]) not in taken]
    present = set()
    for attachment in source:
        sid = str(attachment["id"])
        present.add(sid)
        if sid in plan.mapped:
            continue  # a file never changes in place: a new version is a new attachment
        twin = next(
            (a for a in free if attachment_identity(a) == attachment_identity(attachment)), None
        )
        if twin is not None:
            free.remove(twin)
            plan.mapped[sid] = [str(twin["id"]), ""]
        else:
            plan.copy.append(attachment)
    for sid in [s for s in plan.mapped if s not in present]:
        tid = plan.mapped.pop(sid)[0]
        if delete:
            plan.delete.append(tid)
    return plan


@dataclass(frozen=True)
class TagsPlan:
    add: list[str]
    remove: list[str]
    synced: list[str]  # the names orgsync now answers for


def tag_names(record: Mapping[str, Any] | None) -> list[str]:
    tags = (record or {}).get("Tag") or ()
    return sorted({str(t["name"]) for t in tags if isinstance(t, Mapping) and t.get("name")})


def plan_tags(source: list[str], target: list[str], synced: Iterable[str]) -> TagsPlan:
    """Tags go by name: the source's names are added; a name orgsync added before and the
    source no longer has is removed; the target's own tags stay."""
    had = set(target)
    gone = sorted((set(synced) - set(source)) & had)
    return TagsPlan([n for n in source if n not in had], gone, sorted(source))


LINK_EXTRAS = ("list_price",)  # what a relation carries besides the ids (reference §17)


@dataclass(frozen=True)
class ListPlan:
    link: list[dict[str, Any]]  # {"id": target related id, **extras}
    delink: list[str]
    synced: list[str]  # the target ids orgsync answers for


def plan_list(
    source: Iterable[Mapping[str, Any]],
    target: Iterable[Mapping[str, Any]],
    synced: Iterable[str],
    delete: bool,
) -> ListPlan:
    """`source`: the source's related rows with their ids already translated to the target's.
    Links what the target lacks or holds with other extras; with `delete`, delinks what
    orgsync linked before and the source no longer has."""
    held = {str(row["id"]): _extras(row) for row in target}
    wanted = {str(row["id"]): _extras(row) for row in source}
    link = [{"id": i, **extras} for i, extras in wanted.items() if held.get(i) != extras]
    gone = sorted((set(synced) - set(wanted)) & set(held)) if delete else []
    return ListPlan(link, gone, sorted(wanted))


def _extras(row: Mapping[str, Any]) -> dict[str, Any]:
    return {key: row[key] for key in LINK_EXTRAS if row.get(key) is not None}

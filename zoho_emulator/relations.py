"""Related lists (reference §17): which lists a module has, and the org's many-to-many links.

Two kinds of list are served by ``related_records.py``:

* **links** — many-to-many relations kept in ``Relations`` (Products ↔ Price_Books with a
  ``list_price``, Products ↔ Leads/Accounts/Contacts/Deals); one relation shows in the lists of
  both records and may be linked or delinked from either side;
* **lookups** — read-only views of the records whose lookup points at the parent (Accounts →
  Contacts, Deals…), derived from the org's field metadata.

``Notes`` and ``Attachments`` are listed in the metadata; their own routes serve them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .schema import ModuleDef

# (module, module) → extra keys a link of the two requires (reference §17 table)
LINKS: dict[frozenset[str], tuple[str, ...]] = {
    frozenset(("Products", "Price_Books")): ("list_price",),
    **{frozenset(("Products", other)): () for other in ("Leads", "Accounts", "Contacts", "Deals")},
}

Key = tuple[str, str]  # (module, record id)


@dataclass(frozen=True)
class RelatedList:
    api_name: str  # the path segment, /{module}/{id}/{api_name}
    module: str  # the module whose records it lists
    kind: str  # "link" | "lookup" | "Notes" | "Attachments"
    lookup_field: str | None = None  # a lookup view: the field of ``module`` pointing here
    required: tuple[str, ...] = ()  # a link: the keys each linked item must carry
    custom: bool = False


def related_lists(modules: Mapping[str, ModuleDef], module: str) -> dict[str, RelatedList]:
    """The related lists of ``module`` in an org with these modules, by api_name."""
    found: dict[str, RelatedList] = {}
    for pair, required in LINKS.items():
        if module in pair and pair <= modules.keys():
            (other,) = pair - {module}
            found[other] = RelatedList(other, other, "link", required=required)
    for other, definition in modules.items():
        if other in (module, "Notes") or other in found:
            continue
        for fd in definition.fields.values():
            if fd.data_type == "lookup" and fd.lookup_module == module:
                found[other] = RelatedList(other, other, "lookup", fd.api_name, custom=fd.custom)
                break
    if "Notes" in modules and module != "Notes":
        found["Notes"] = RelatedList("Notes", "Notes", "Notes")
    found["Attachments"] = RelatedList("Attachments", "Attachments", "Attachments")
    return found


class Relations:
    """One org's links between records: each side sees the other with the same extras."""

    def __init__(self) -> None:
        self._links: dict[Key, dict[Key, dict[str, Any]]] = {}
        self._list_ids: dict[tuple[str, str], str] = {}

    def link(self, a: Key, b: Key, extras: Mapping[str, Any]) -> None:
        shared = dict(extras)
        self._links.setdefault(a, {})[b] = shared
        self._links.setdefault(b, {})[a] = shared

    def unlink(self, a: Key, b: Key) -> bool:
        found = self._links.get(a, {}).pop(b, None) is not None
        self._links.get(b, {}).pop(a, None)
        return found

    def of(self, a: Key, module: str) -> dict[str, Mapping[str, Any]]:
        """The records of ``module`` linked to ``a``: id → the link's extras."""
        return {rid: extras for (m, rid), extras in self._links.get(a, {}).items() if m == module}

    def drop(self, a: Key) -> None:
        """A deleted record takes its relations with it."""
        for b in self._links.pop(a, {}):
            self._links.get(b, {}).pop(a, None)

    def clear(self) -> None:
        self._links.clear()

    def list_id(self, module: str, api_name: str, new_id: Callable[[], str]) -> str:
        """A related list's id: made once, kept across resets (lists are org set-up)."""
        key = (module, api_name)
        found = self._list_ids.get(key)
        if found is None:
            found = self._list_ids[key] = new_id()
        return found

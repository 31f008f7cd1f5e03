"""Insert, update, upsert, delete of a batch: per-record results, whole status, events."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from . import external, multiselect, related, subforms
from .calls import CALLS, check_new_call
from .currency import CURRENCY, EXCHANGE_RATE, convert
from .record_error import RecordError
from .render import Renderer
from .state import OrgState, WriteEvent
from .store import DeletedEntry, ModuleStore, StoredRecord
from .validation import Validator, invalid_id, mandatory_missing


class Batch:
    """One API write call on one module."""

    def __init__(
        self, org: OrgState, module: str, client_id: str | None, trigger: tuple[str, ...] | None
    ) -> None:
        self.org = org
        self.module = org.modules[module]
        self.store: ModuleStore = org.stores[module]
        self.validator: Validator = org.validator(module)
        self.renderer: Renderer = org.renderer(module)
        self.client_id = client_id
        self.trigger = trigger
        self.now_ms = org.now_ms()
        self.now_s = self.now_ms // 1000
        self.user_id = org.api_user.id
        self.results: list[dict[str, Any]] = []
        self.touched: dict[str, dict[str, StoredRecord]] = {"insert": {}, "update": {}}
        self.deleted: dict[str, StoredRecord] = {}
        self.deleted_copies: list[dict[str, Any]] = []  # rendered before removal (listeners)
        self.if_unmodified_since: int | None = None
        self._has_full_name = "Full_Name" in self.module.fields
        self._subforms = [f for f in self.module.fields.values() if f.data_type == "subform"]
        self._links = multiselect.link_fields(self.module)
        self._currencies = org.currencies if CURRENCY in self.module.fields else None
        self._externals = external.externals(self.module)
        self._external_names = frozenset(fd.api_name for fd in self._externals)
        # the user whose self client writes: who sets a user-based external value
        self.acting_user = org.client_users.get(client_id or "", org.api_user).id

    # -- operations -----------------------------------------------------------------------
    def insert(self, raw: Any, i: int) -> None:
        self._guard(
            i,
            lambda: self._insert(self.validator.changes(raw, i, creating=True), i),
            "record added",
        )

    def update(self, raw: Any, i: int, rid: str | None = None) -> None:
        def run() -> StoredRecord:
            target = rid or (raw.get("id") if isinstance(raw, dict) else None)
            if target is None:
                raise mandatory_missing(i, "id")
            record = self.store.records.get(str(target))
            if record is None:
                raise invalid_id(i)
            self._check_unmodified(record)
            return self._update(record, self.validator.changes(raw, i, creating=False), i)

        self._guard(i, run, "record updated")

    def upsert(self, raw: Any, i: int, check_fields: Sequence[str]) -> None:
        try:
            changes = self.validator.changes(raw, i, creating=False)
            match, field = self._match(changes, check_fields)
            if match is None:
                self.validator.check_mandatory(changes, i, creating=True)
                record = self._insert(changes, i)
                action, message = "insert", "record added"
            else:
                self._check_unmodified(match)
                record = self._update(match, changes, i)
                action, message = "update", "record updated"
        except RecordError as exc:
            self.results.append(exc.entry())
            return
        self.results.append(
            {
                "code": "SUCCESS",
                "duplicate_field": field,
                "action": action,
                "details": self.renderer.write_details(record),
                "message": message,
                "status": "success",
            }
        )

    def delete(self, rid: str, i: int) -> None:
        record = self.store.records.get(rid)
        if record is None:
            gone = rid in self.store.deleted_ids
            message = "record not deleted" if gone else "the id given seems to be invalid"
            self.results.append(RecordError("INVALID_DATA", message, {"id": rid}).entry())
            return
        if self.org.has_write_listeners:
            self.deleted_copies.append(self.renderer.full(record))
        self.store.remove(rid)
        self.org.relations.drop((self.module.api_name, rid))
        self.store.add_deleted(
            DeletedEntry(
                rid, self.renderer.display_name(record), record.created_by, self.user_id, self.now_s
            )
        )
        self.deleted[rid] = record
        self.results.append(
            {
                "code": "SUCCESS",
                "details": {"id": rid},
                "message": "record deleted",
                "status": "success",
            }
        )

    # -- internals --------------------------------------------------------------------------
    def _guard(self, i: int, run: Any, message: str) -> None:
        try:
            record = run()
        except RecordError as exc:
            self.results.append(exc.entry())
            return
        self.results.append(
            {
                "code": "SUCCESS",
                "details": self.renderer.write_details(record),
                "message": message,
                "status": "success",
            }
        )

    def _insert(self, changes: dict[str, Any], i: int) -> StoredRecord:
        values = {k: v for k, v in changes.items() if v is not None}
        if self.module.api_name == CALLS:
            check_new_call(values, i, self.now_s)
        if "Owner" in self.module.fields:
            values.setdefault("Owner", self.user_id)
        if self._currencies is not None:
            self._currencies.settle(values, changes, None, i)
        if self._subforms:
            self._merge_subforms(values, {})
        if self._links:
            multiselect.merge_all(self._links, values, {}, self.org.new_id)
        self._check_unique(values, None, i)
        self._derive(values)
        record = StoredRecord(
            self.org.new_id(), values, self.now_s, self.now_s, self.user_id, self.user_id
        )
        self.store.put(record, None)
        self._remember(record, {})
        self.touched["insert"][record.id] = record
        return record

    def _update(self, record: StoredRecord, changes: dict[str, Any], i: int) -> StoredRecord:
        values = dict(record.values)
        for key, value in changes.items():
            if value is None:
                values.pop(key, None)
            else:
                values[key] = value
        if self._currencies is not None:
            self._currencies.settle(values, changes, record.values, i)
        if self._subforms:
            self._merge_subforms(values, record.values)
        if self._links:
            multiselect.merge_all(self._links, values, record.values, self.org.new_id)
        self._check_unique(values, record.id, i)
        self._derive(values)
        changed = values != record.values
        previous = record.values
        record.values = values
        if changed or self.org.behaviour.noop_update_bumps_modified_time:
            record.modified_s = self.now_s
            record.modified_by = self.user_id
        self.store.put(record, previous)
        self._remember(record, previous)
        if record.id not in self.touched["insert"]:
            self.touched["update"][record.id] = record
        return record

    def _merge_subforms(self, values: dict[str, Any], stored: Mapping[str, Any]) -> None:
        """Applies the rows sent (SubformWrite) to the stored rows; line items → the totals."""
        keep = self.org.behaviour.subform_unlisted_rows == "keep"
        products = self.org.stores.get("Products")
        for fd in self._subforms:
            write = values.get(fd.api_name)
            if isinstance(write, subforms.SubformWrite):
                values[fd.api_name] = subforms.merge(
                    fd,
                    write,
                    stored.get(fd.api_name),
                    keep_unlisted=keep,
                    new_id=self.org.new_id,
                    unit_price=lambda pid: self._unit_price(products, pid, values),
                )
            if "Sub_Total" in self.module.fields:
                subforms.record_totals(values, values.get(fd.api_name) or ())

    def _unit_price(self, products: ModuleStore | None, pid: str, values: Mapping[str, Any]) -> Any:
        """A product's Unit_Price as a line item's default List_Price, in the record's currency."""
        if products is None:
            return None
        product = products.records[pid].values
        price = product.get("Unit_Price")
        if self._currencies is None:
            return price
        return convert(price, product.get(EXCHANGE_RATE), values.get(EXCHANGE_RATE))

    def _derive(self, values: dict[str, Any]) -> None:
        if self._has_full_name:
            first, last = values.get("First_Name"), values.get("Last_Name")
            values["Full_Name"] = f"{first} {last}" if first and last else (first or last or None)

    def _check_unique(self, values: dict[str, Any], own: str | None, i: int) -> None:
        for name in self.module.unique_fields:
            existing = self.store.find(name, values.get(name), exclude=own)
            if existing is not None:
                raise self._duplicate(name, existing, i)
        for fd in self._externals:
            found = self._find(fd.api_name, values.get(fd.api_name), exclude=own)
            if found is not None:
                raise self._duplicate(fd.api_name, found, i)

    def _find(self, name: str, value: Any, exclude: str | None = None) -> str | None:
        if name in self._external_names:
            fd = self.module.fields[name]
            return external.find(self.org, self.store, fd, value, self.acting_user, exclude)
        return self.store.find(name, value, exclude)

    def _remember(self, record: StoredRecord, previous: Mapping[str, Any]) -> None:
        if self._externals:
            org, user = self.org, self.acting_user
            external.remember(org, record.id, self._externals, record.values, previous, user)

    def _duplicate(self, name: str, existing: str, i: int) -> RecordError:
        owner = self.org.users_by_id.get(self.store.records[existing].values.get("Owner", ""))
        owner = owner or self.org.api_user
        details: dict[str, Any] = {
            "api_name": name,
            "json_path": f"$.data[{i}].{name}",
            "duplicate_record": {
                "Owner": {"name": owner.name, "id": owner.id, "zuid": owner.zuid},
                "module": {"api_name": self.module.api_name, "id": self.module.id},
                "id": existing,
            },
            "more_records": False,
        }
        if self.org.behaviour.duplicate_details_with_id:
            details["id"] = existing
        return RecordError("DUPLICATE_DATA", "duplicate data", details)

    def _match(
        self, changes: dict[str, Any], check_fields: Sequence[str]
    ) -> tuple[StoredRecord | None, str | None]:
        for name in check_fields:
            existing = self._find(name, changes.get(name))
            if existing is not None:
                return self.store.records[existing], name
        return None, None

    def _check_unmodified(self, record: StoredRecord) -> None:
        if self.if_unmodified_since is not None and record.modified_s > self.if_unmodified_since:
            raise RecordError(
                "ALREADY_MODIFIED", "record modified after the given time", {"id": record.id}
            )

    # -- outcome ----------------------------------------------------------------------------
    def status(self, all_ok: int) -> int:
        ok = sum(1 for r in self.results if r["status"] == "success")
        if ok == len(self.results):
            return all_ok
        if ok:
            return 207
        if all(r["code"] == "ALREADY_MODIFIED" for r in self.results):
            return 412
        return self.org.behaviour.all_failed_status

    def emit(self) -> None:
        if self.deleted:
            org = self.org
            multiselect.unlink(org.modules, org.stores, self.module.api_name, self.deleted.keys())
        listened = self.org.has_write_listeners
        renderer = self.renderer
        for op, touched in self.touched.items():
            if touched:
                # Copies: a later write replaces values and times on the live record.
                snaps = tuple(map(_snapshot, touched.values())) if listened else ()
                self._emit(op, tuple(touched), snaps, partial(_render_all, renderer, snaps))
        if self.deleted:
            copies = tuple(self.deleted_copies)
            snaps = tuple(self.deleted.values()) if listened else ()
            self._emit("delete", tuple(self.deleted), snaps, lambda: copies)
        if self.module.api_name == "Notes":
            self._notes_changed()

    def _notes_changed(self) -> None:
        """A note written or deleted is a related action on its parent record (related.py)."""
        written = [*self.touched["insert"].values(), *self.touched["update"].values()]
        values = [r.values for r in (*written, *self.deleted.values())]
        for module, ids in related.note_parents(values).items():
            related.touch_parents(self.org, module, ids, "Notes", self.now_s)

    def _emit(
        self,
        op: str,
        ids: tuple[str, ...],
        snaps: tuple[StoredRecord, ...],
        render: Callable[[], tuple[dict[str, Any], ...]],
    ) -> None:
        self.org.emit_write(
            WriteEvent(
                self.org.name,
                self.module.api_name,
                op,
                ids,
                self.now_ms,
                self.client_id,
                self.trigger,
                tuple(r.values for r in snaps),
                render,
            )
        )


def _render_all(
    renderer: Renderer, records: tuple[StoredRecord, ...]
) -> tuple[dict[str, Any], ...]:
    return tuple(map(renderer.full, records))


def _snapshot(record: StoredRecord) -> StoredRecord:
    # values dicts are replaced, never changed in place, so sharing them is safe
    return StoredRecord(
        record.id,
        record.values,
        record.created_s,
        record.modified_s,
        record.created_by,
        record.modified_by,
    )

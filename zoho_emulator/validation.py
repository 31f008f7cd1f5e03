"""Per-record validation of write bodies against the module's field metadata, as Zoho does."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from functools import partial
from typing import Any

from . import polymorphic, subforms
from .config import Behaviour
from .dc import parse_datetime
from .record_error import RecordError
from .schema import SYSTEM_FIELDS, FieldDef, ModuleDef
from .store import ModuleStore

_EMAIL = re.compile(r"^[A-Za-z0-9._%+'\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^[0-9+\-().\s/xX#*]*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class _Invalid(Exception):
    pass


def _path(i: int, name: str) -> dict[str, str]:
    return {"api_name": name, "json_path": f"$.data[{i}].{name}"}


def mandatory_missing(i: int, name: str) -> RecordError:
    return RecordError("MANDATORY_NOT_FOUND", "required field not found", _path(i, name))


def invalid_id(i: int) -> RecordError:
    return RecordError("INVALID_DATA", "the id given seems to be invalid", _path(i, "id"))


def _text(value: Any, fd: FieldDef) -> Any:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Invalid
    return str(value)


def _email(value: Any, fd: FieldDef) -> Any:
    if not isinstance(value, str) or not _EMAIL.match(value):
        raise _Invalid
    return value


def _phone(value: Any, fd: FieldDef) -> Any:
    text = _text(value, fd)
    if not _PHONE.match(text):
        raise _Invalid
    return text


def _integer(value: Any, fd: FieldDef) -> Any:
    if isinstance(value, bool):
        raise _Invalid
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    raise _Invalid


def _number(value: Any, fd: FieldDef) -> Any:
    if isinstance(value, bool):
        raise _Invalid
    if isinstance(value, int | float):
        return value
    try:
        return float(value) if isinstance(value, str) else _raise()
    except ValueError:
        raise _Invalid from None


def _raise() -> Any:
    raise _Invalid


def _boolean(value: Any, fd: FieldDef) -> Any:
    if not isinstance(value, bool):
        raise _Invalid
    return value


def _date(value: Any, fd: FieldDef) -> Any:
    if not isinstance(value, str) or not _DATE.match(value):
        raise _Invalid
    try:
        date.fromisoformat(value)
    except ValueError:
        raise _Invalid from None
    return value


def _datetime(value: Any, fd: FieldDef) -> Any:
    epoch = parse_datetime(value)
    if epoch is None:
        raise _Invalid
    return epoch


def _picklist(value: Any, fd: FieldDef) -> Any:
    if not isinstance(value, str):
        raise _Invalid
    return value


def _multiselect(value: Any, fd: FieldDef) -> Any:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Invalid
    return list(value)


def _ref_id(value: Any, fd: FieldDef) -> Any:
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.isdigit():
        raise _Invalid
    return value


CONVERTERS: dict[str, Callable[[Any, FieldDef], Any]] = {
    "text": _text,
    "textarea": _text,
    "website": _text,
    "email": _email,
    "phone": _phone,
    "integer": _integer,
    "bigint": _integer,
    "double": _number,
    "currency": _number,
    "percent": _number,
    "boolean": _boolean,
    "date": _date,
    "datetime": _datetime,
    "picklist": _picklist,
    "multiselectpicklist": _multiselect,
    "lookup": _ref_id,
    "ownerlookup": _ref_id,
    "userlookup": _ref_id,
}
_EXPECTED = {
    "text": "text",
    "textarea": "textarea",
    "ownerlookup": "jsonobject",
    "userlookup": "jsonobject",
    "lookup": "jsonobject",
    "multiselectpicklist": "jsonarray",
}


_REFERENCES = frozenset({"lookup", "ownerlookup", "userlookup", "picklist"})


_KEYS = frozenset({"id", "se_module"})  # se_module: legacy Notes Parent_Id module (reference §13)
_ROWS = frozenset({"subform", "multiselectlookup"})  # lists of row objects (subforms.parse)
_TEXT_TYPES = frozenset({"text", "textarea", "website", "picklist"})  # a str is stored as is

Convert = Callable[[Any, int], Any]


class Validator:
    """Checks one module's write bodies; references are checked against the org's stores/users."""

    def __init__(
        self,
        module: ModuleDef,
        behaviour: Behaviour,
        stores: Mapping[str, ModuleStore],
        user_ids: Mapping[str, object],
    ) -> None:
        self.module = module
        self.behaviour = behaviour
        self._stores = stores
        self._user_ids = user_ids
        self.fields = module.fields
        self.reject_read_only = behaviour.read_only_fields == "reject"
        self.reject_unknown = behaviour.unknown_fields == "reject"
        self.mandatory = [n for n, f in module.fields.items() if f.system_mandatory]
        # one converter per writable field, built once: validation runs for every record
        self._writable: dict[str, Convert] = {
            name: self._converter(fd)
            for name, fd in module.fields.items()
            if not fd.read_only and name not in SYSTEM_FIELDS
        }
        self._polymorphic = polymorphic.polymorphic_field(module)
        self._is_notes = module.api_name == "Notes"

    def _converter(self, fd: FieldDef) -> Convert:
        if fd.data_type in _ROWS:
            return lambda value, i: subforms.parse(fd, value, i, self.convert_at)
        if fd.data_type in _TEXT_TYPES and not (
            fd.data_type == "picklist" and self.behaviour.picklist_validation
        ):
            length = fd.length

            def text(value: Any, i: int) -> Any:
                if type(value) is str and len(value) <= length:
                    return value
                return self._value(fd, value, i)

            return text
        return partial(self._value, fd)

    def changes(self, raw: Any, i: int, *, creating: bool) -> dict[str, Any]:
        """The stored-form values the record sets; raises RecordError like Zoho's first error."""
        if not isinstance(raw, dict):
            raise RecordError(
                "INVALID_DATA",
                "invalid data",
                {"expected_data_type": "jsonobject", "json_path": f"$.data[{i}]"},
            )
        out: dict[str, Any] = {}
        writable = self._writable
        for name, value in raw.items():
            convert = writable.get(name)
            if convert is None:
                self._not_writable(name, i)
            elif value.__class__ is str:
                out[name] = convert(value, i) if value else None
            elif value is None or value == []:
                out[name] = None
            else:
                out[name] = convert(value, i)
        if self._polymorphic is not None:
            polymorphic.resolve(self._polymorphic, raw, out, i, self._stores)
        self.check_mandatory(out, i, creating)
        if self._is_notes:
            polymorphic.check_note(out, i, creating, self.behaviour.note_content_mandatory)
        return out

    def _not_writable(self, name: str, i: int) -> None:
        """Unknown and read-only fields are ignored, or rejected under the strict switches."""
        if name in self.fields:
            if self.reject_read_only:
                raise RecordError("INVALID_DATA", "the field is read only", _path(i, name))
        elif self.reject_unknown and name not in _KEYS and not name.startswith("$"):
            raise RecordError("INVALID_DATA", "invalid data", _path(i, name))

    def check_mandatory(self, out: dict[str, Any], i: int, creating: bool) -> None:
        for name in self.mandatory:
            if creating and out.get(name) is None:
                raise mandatory_missing(i, name)
            if not creating and name in out and out[name] is None:
                raise mandatory_missing(i, name)

    def _value(self, fd: FieldDef, value: Any, i: int) -> Any:
        return self.convert_at(fd, value, f"$.data[{i}].{fd.api_name}")

    def convert_at(self, fd: FieldDef, value: Any, json_path: str) -> Any:
        """One value in stored form; errors name the field and its JSON path (subform rows too)."""
        where = {"api_name": fd.api_name, "json_path": json_path}
        try:
            stored = CONVERTERS[fd.data_type](value, fd)
        except _Invalid:
            raise RecordError(
                "INVALID_DATA",
                "invalid data",
                {"expected_data_type": _EXPECTED.get(fd.data_type, fd.data_type), **where},
            ) from None
        if isinstance(stored, str) and len(stored) > fd.length:
            raise RecordError(
                "INVALID_DATA", "invalid data", {"maximum_length": fd.length, **where}
            )
        if fd.data_type in _REFERENCES:
            self._check_reference(fd, stored, where)
        return stored

    def _check_reference(self, fd: FieldDef, stored: Any, where: dict[str, str]) -> None:
        dt = fd.data_type
        if dt == "lookup":
            if fd.lookup_modules:
                return  # polymorphic: checked with its $se_module (polymorphic.resolve)
            target = self._stores.get(fd.lookup_module or "")
            if target is None or stored not in target.records:
                raise RecordError("INVALID_DATA", "invalid data", {"id": stored, **where})
        elif dt in ("ownerlookup", "userlookup"):
            if stored not in self._user_ids:
                raise RecordError("INVALID_DATA", "invalid data", {"id": stored, **where})
        elif dt == "picklist" and self.behaviour.picklist_validation:
            if fd.pick_list and stored not in fd.pick_list:
                raise RecordError("INVALID_DATA", "invalid data", where)

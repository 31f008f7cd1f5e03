"""Multi-select lookups (MxN fields): their rows are records of a linking module."""

from __future__ import annotations

from typing import Any

from .schema import FieldDef, ModuleDef


def field_meta(module: ModuleDef, fd: FieldDef, target: ModuleDef) -> dict[str, Any]:
    """``multiselectlookup`` field metadata in the v8 SDK's MultiSelectLookup shape."""
    linking = f"{module.api_name}_X_{target.api_name}"
    row = fd.rows[0]
    back = {"api_name": module.api_name, "field_label": module.singular, "id": fd.id[:-1] + "9"}
    return {
        "linking_details": {
            "module": {
                "plural_label": linking,
                "api_name": linking,
                "id": fd.id[:-1] + "8",
                "visibility": 1,
            },
            "lookup_field": back,
            "connected_lookup_field": {
                "api_name": row.api_name,
                "field_label": target.singular,
                "id": row.id,
            },
        },
        "connected_details": {
            "module": {
                "plural_label": target.api_name,
                "api_name": target.api_name,
                "id": target.id,
            },
            "field": back,
        },
        "record_access": False,
    }

"""Metadata API: modules, fields, layouts, users, org."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .dc import format_datetime
from .external import meta as external_meta
from .http import invalid_module, json_response, param_missing
from .keys import ORG
from .multiselect import field_meta
from .schema import JSON_TYPES, FieldDef, ModuleDef
from .schema_inventory import subform_rows
from .state import OrgState
from .users import User


def _module_json(org: OrgState, m: ModuleDef) -> dict[str, Any]:
    return {
        "api_name": m.api_name,
        "module_name": m.api_name,
        "id": m.id,
        "singular_label": m.singular,
        "plural_label": m.api_name,
        "api_supported": True,
        "generated_type": "custom" if m.custom else "default",
        "creatable": True,
        "editable": True,
        "deletable": True,
        "viewable": True,
        "visible": True,
        "status": "visible",
        "modified_time": None,
        "presence_sub_menu": False,
        "sequence_number": 1,
    }


def field_json(org: OrgState, f: FieldDef, module: ModuleDef | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "api_name": f.api_name,
        "id": f.id,
        "field_label": f.label,
        "display_label": f.label,
        "data_type": f.data_type,
        "json_type": JSON_TYPES.get(f.data_type, "string"),
        "system_mandatory": f.system_mandatory,
        "read_only": f.read_only,
        "field_read_only": f.read_only,
        "custom_field": f.custom,
        "length": f.length,
        "visible": True,
        "created_source": "custom" if f.custom else "default",
        "unique": {"casesensitive": "false"} if f.unique else {},
        "external": external_meta(f),
        "pick_list_values": [
            {
                "display_value": v,
                "actual_value": v,
                "id": f"{f.id[:-3]}{n:03d}",
                "sequence_number": n + 1,
                "type": "used",
            }
            for n, v in enumerate(f.pick_list)
        ],
        "lookup": {},
    }
    if f.lookup_modules:  # polymorphic: the modules it may point to (reference §19)
        out["lookup"] = {
            "display_label": f.label,
            "api_name": f.api_name,
            "module": [{"api_name": m, "id": org.modules[m].id} for m in f.lookup_modules],
            "id": f.id,
        }
    elif module is not None and f.data_type == "multiselectlookup":
        out["multiselectlookup"] = field_meta(module, f, org.modules[f.lookup_module or ""])
    elif f.lookup_module:
        target = org.modules[f.lookup_module]
        out["lookup"] = {
            "display_label": target.singular,
            "api_name": f.api_name,
            "module": {"api_name": target.api_name, "id": target.id},
            "id": f.id,
        }
    if f.data_type == "subform":
        # [oas] Minified_Module (SDK MinifiedModule): api_name and id required, module too
        out["associated_module"] = {
            "api_name": f.api_name,
            "module": f.api_name,
            "id": f.id[:-1] + "7",
        }
    return out


async def list_modules(request: web.Request) -> web.Response:
    org: OrgState = request[ORG]
    return json_response({"modules": [_module_json(org, m) for m in org.modules.values()]})


async def get_module(request: web.Request) -> web.Response:
    org: OrgState = request[ORG]
    module = org.modules.get(request.match_info["module"])
    if module is None:
        raise invalid_module()
    one = _module_json(org, module)
    one["fields"] = [field_json(org, f, module) for f in module.fields.values()]
    return json_response({"modules": [one]})


def _module_param(request: web.Request) -> ModuleDef:
    org: OrgState = request[ORG]
    name = request.query.get("module")
    if not name:
        raise param_missing("module")
    module = org.modules.get(name)
    if module is None:
        raise invalid_module()
    return module


async def list_fields(request: web.Request) -> web.Response:
    org: OrgState = request[ORG]
    subform = subform_rows(org.modules, request.query.get("module", ""))
    if subform is not None:  # a subform module's row fields (v2 subforms page, v8 field meta)
        return json_response({"fields": [field_json(org, f) for f in subform.rows]})
    module = _module_param(request)
    return json_response({"fields": [field_json(org, f, module) for f in module.fields.values()]})


async def list_layouts(request: web.Request) -> web.Response:
    org: OrgState = request[ORG]
    module = _module_param(request)
    section = {
        "api_name": f"{module.singular} Information",
        "display_label": f"{module.singular} Information",
        "sequence_number": 1,
        "fields": [field_json(org, f, module) for f in module.fields.values()],
    }
    return json_response(
        {
            "layouts": [
                {
                    "id": module.id[:-1] + "9",
                    "name": "Standard",
                    "status": "active",
                    "sections": [section],
                }
            ]
        }
    )


def _user_json(org: OrgState, user: User) -> dict[str, Any]:
    first, _, last = user.name.partition(" ")
    return {
        "id": user.id,
        "email": user.email,
        "first_name": first if last else None,
        "last_name": last or first,
        "full_name": user.name,
        "status": "active",
        "confirm": True,
        "zuid": user.zuid,
        "role": {"name": user.role, "id": org.org_id[:-2] + "01"},
        "profile": {"name": "Administrator", "id": org.org_id[:-2] + "02"},
        "time_zone": org.dc.time_zone,
        "locale": "en_US",
        "type__s": "Regular User",
        "created_time": None,
        "Modified_Time": None,
    }


async def list_users(request: web.Request) -> web.Response:
    org: OrgState = request[ORG]
    users = [org.api_user] if request.query.get("type") == "CurrentUser" else org.users
    body = {
        "users": [_user_json(org, u) for u in users],
        "info": {"per_page": 200, "count": len(users), "page": 1, "more_records": False},
    }
    return json_response(body)


async def get_org(request: web.Request) -> web.Response:
    org: OrgState = request[ORG]
    admin = org.api_user
    edition = org.config.edition
    currency, symbol = org.currencies.home_name_symbol()
    return json_response(
        {
            "org": [
                {
                    "id": org.org_id,
                    "zgid": org.zgid,
                    "domain_name": f"org{org.zgid}",
                    "company_name": org.name,
                    "primary_email": admin.email,
                    "time_zone": org.dc.time_zone,
                    "currency": currency,
                    "iso_code": org.currencies.home_code,
                    "currency_symbol": symbol,
                    "country_code": org.dc.code.upper(),
                    "mc_status": org.currencies.enabled,
                    "type": "production",
                    "primary_zuid": admin.zuid,
                    "license_details": {
                        "paid": edition != "free",
                        "paid_type": edition,
                        "users_license_purchased": len(org.users),
                        "paid_expiry": format_datetime(4102444800, org.tz),
                        "trial_type": None,
                        "trial_expiry": None,
                        "portal_users_license_purchased": 0,
                    },
                }
            ]
        }
    )


def metadata_routes(prefix: str) -> list[web.RouteDef]:
    return [
        web.get(prefix + "/settings/modules", list_modules),
        web.get(prefix + "/settings/modules/{module}", get_module),
        web.get(prefix + "/settings/fields", list_fields),
        web.get(prefix + "/settings/layouts", list_layouts),
        web.get(prefix + "/users", list_users),
        web.get(prefix + "/org", get_org),
    ]

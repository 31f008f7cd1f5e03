"""Module and field metadata: Zoho's standard modules plus the org's configured additions."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .config import ConfigError

JSON_TYPES = {
    "text": "string",
    "textarea": "string",
    "email": "string",
    "phone": "string",
    "website": "string",
    "picklist": "string",
    "date": "string",
    "datetime": "string",
    "integer": "integer",
    "bigint": "string",
    "double": "double",
    "currency": "double",
    "percent": "double",
    "boolean": "boolean",
    "multiselectpicklist": "jsonarray",
    "lookup": "jsonobject",
    "ownerlookup": "jsonobject",
    "userlookup": "jsonobject",
    "autonumber": "string",
    "formula": "string",
    "subform": "jsonarray",
    "multiselectlookup": "jsonarray",
}
DUPLICATE_CHECK_TYPES = frozenset({"text", "email", "phone", "integer", "bigint", "website"})
# Fields every module carries; the API never lets a client write the read-only ones.
SYSTEM_FIELDS = frozenset({"id", "Created_By", "Created_Time", "Modified_By", "Modified_Time"})


@dataclass(frozen=True, slots=True)
class FieldDef:
    api_name: str
    data_type: str
    length: int = 255
    system_mandatory: bool = False
    read_only: bool = False
    unique: bool = False
    lookup_module: str | None = None
    pick_list: tuple[str, ...] = ()
    custom: bool = False
    id: str = ""
    field_label: str = ""  # as configured; else derived from the API name
    lookup_modules: tuple[str, ...] = ()  # polymorphic lookups (What_Id, Parent_Id)
    rows: tuple[FieldDef, ...] = ()  # a subform's row fields
    external: str | None = None  # an External ID field: "org" or "user" based (reference §22)

    @property
    def label(self) -> str:
        return self.field_label or self.api_name.replace("__s", "").replace("_", " ")


@dataclass(frozen=True)
class ModuleDef:
    api_name: str
    singular: str
    name_field: str  # the value shown as a lookup's "name"
    dup_field: str  # the system-defined duplicate-check field of upsert
    fields: Mapping[str, FieldDef]
    id: str = ""
    custom: bool = False
    unique_fields: tuple[str, ...] = field(default=())


def _f(api_name: str, data_type: str = "text", **kw: Any) -> FieldDef:
    return FieldDef(api_name, data_type, **kw)


def _pick(api_name: str, *values: str) -> FieldDef:
    return FieldDef(api_name, "picklist", pick_list=values)


_LEAD_SOURCES = (
    "-None-",
    "Advertisement",
    "Cold Call",
    "Employee Referral",
    "External Referral",
    "Online Store",
    "Partner",
    "Public Relations",
    "Sales Email Alias",
    "Seminar Partner",
    "Internal Seminar",
    "Trade Show",
    "Web Download",
    "Web Research",
    "Chat",
)
_INDUSTRIES = (
    "-None-",
    "ASP (Application Service Provider)",
    "Data/Telecom OEM",
    "ERP (Enterprise Resource Planning)",
    "Government/Military",
    "Large Enterprise",
    "ManagementISV",
    "MSP (Management Service Provider)",
    "Network Equipment Enterprise",
    "Non-management ISV",
    "Optical Networking",
    "Service Provider",
    "Small/Medium Enterprise",
    "Storage Equipment",
    "Storage Service Provider",
    "Systems Integrator",
    "Wireless Industry",
)
_ADDRESS = ("Street", "City", "State", "Zip_Code", "Country")


def _common() -> list[FieldDef]:
    return [
        _f("Owner", "ownerlookup"),
        _f("Created_By", "ownerlookup", read_only=True),
        _f("Created_Time", "datetime", read_only=True),
        _f("Modified_By", "ownerlookup", read_only=True),
        _f("Modified_Time", "datetime", read_only=True),
        _f("Description", "textarea", length=32000),
    ]


def _person() -> list[FieldDef]:
    return [
        _pick("Salutation", "-None-", "Mr.", "Mrs.", "Ms.", "Dr.", "Prof."),
        _f("First_Name", length=40),
        _f("Last_Name", length=80, system_mandatory=True),
        _f("Full_Name", length=120, read_only=True),
        _f("Email", "email", length=100),
        _f("Secondary_Email", "email", length=100),
        _f("Phone", "phone", length=30),
        _f("Mobile", "phone", length=30),
        _f("Fax", "phone", length=30),
        _f("Email_Opt_Out", "boolean"),
        _f("Skype_ID", length=50),
        _f("Twitter", length=50),
        _pick("Lead_Source", *_LEAD_SOURCES),
    ]


def _standard() -> dict[str, tuple[str, str, str, list[FieldDef]]]:
    return {
        "Leads": (
            "Lead",
            "Full_Name",
            "Email",
            _common()
            + _person()
            + [
                _f("Company", length=200),
                _f("Designation", length=100),
                _f("Website", "website", length=255),
                _pick(
                    "Lead_Status",
                    "-None-",
                    "Attempted to Contact",
                    "Contact in Future",
                    "Contacted",
                    "Junk Lead",
                    "Lost Lead",
                    "Not Contacted",
                    "Pre-Qualified",
                    "Not Qualified",
                ),
                _pick("Industry", *_INDUSTRIES),
                _f("No_of_Employees", "integer", length=9),
                _f("Annual_Revenue", "currency", length=16),
                _pick(
                    "Rating",
                    "-None-",
                    "Acquired",
                    "Active",
                    "Market Failed",
                    "Project Cancelled",
                    "Shut Down",
                ),
                *(_f(name, length=250 if name == "Street" else 100) for name in _ADDRESS),
            ],
        ),
        "Contacts": (
            "Contact",
            "Full_Name",
            "Email",
            _common()
            + _person()
            + [
                _f("Account_Name", "lookup", lookup_module="Accounts"),
                _f("Reporting_To", "lookup", lookup_module="Contacts"),
                _f("Title", length=100),
                _f("Department", length=100),
                _f("Home_Phone", "phone", length=30),
                _f("Other_Phone", "phone", length=30),
                _f("Assistant", length=100),
                _f("Date_of_Birth", "date"),
                *(_f(f"Mailing_{n}", length=250 if n == "Street" else 100) for n in _ADDRESS),
            ],
        ),
        "Accounts": (
            "Account",
            "Account_Name",
            "Account_Name",
            _common()
            + [
                _f("Account_Name", length=200, system_mandatory=True),
                _f("Account_Number", length=40),
                _f("Account_Site", length=120),
                _f("Parent_Account", "lookup", lookup_module="Accounts"),
                _pick(
                    "Account_Type",
                    "-None-",
                    "Analyst",
                    "Competitor",
                    "Customer",
                    "Distributor",
                    "Integrator",
                    "Investor",
                    "Other",
                    "Partner",
                    "Press",
                    "Prospect",
                    "Reseller",
                    "Supplier",
                    "Vendor",
                ),
                _pick("Industry", *_INDUSTRIES),
                _pick(
                    "Ownership",
                    "-None-",
                    "Other",
                    "Private",
                    "Public",
                    "Subsidiary",
                    "Partnership",
                    "Government",
                    "Privately Held",
                    "Public Company",
                ),
                _pick(
                    "Rating",
                    "-None-",
                    "Acquired",
                    "Active",
                    "Market Failed",
                    "Project Cancelled",
                    "Shut Down",
                ),
                _f("Employees", "integer", length=9),
                _f("Annual_Revenue", "currency", length=16),
                _f("Phone", "phone", length=30),
                _f("Fax", "phone", length=30),
                _f("Website", "website", length=255),
                _f("Ticker_Symbol", length=30),
                _f("SIC_Code", "integer", length=9),
                *(_f(f"Billing_{n}", length=250 if n == "Street" else 100) for n in _ADDRESS),
                *(_f(f"Shipping_{n}", length=250 if n == "Street" else 100) for n in _ADDRESS),
            ],
        ),
        "Deals": (
            "Deal",
            "Deal_Name",
            "Deal_Name",
            _common()
            + [
                _f("Deal_Name", length=120, system_mandatory=True),
                _f("Account_Name", "lookup", lookup_module="Accounts"),
                _f("Contact_Name", "lookup", lookup_module="Contacts"),
                _f("Amount", "currency", length=16),
                _f("Closing_Date", "date"),
                _pick(
                    "Stage",
                    "Qualification",
                    "Needs Analysis",
                    "Value Proposition",
                    "Identify Decision Makers",
                    "Proposal/Price Quote",
                    "Negotiation/Review",
                    "Closed Won",
                    "Closed Lost",
                    "Closed Lost to Competition",
                ),
                _pick("Type", "-None-", "Existing Business", "New Business"),
                _f("Probability", "integer", length=3),
                _f("Expected_Revenue", "currency", length=16, read_only=True),
                _f("Next_Step", length=100),
                _pick("Lead_Source", *_LEAD_SOURCES),
            ],
        ),
    }


_DEALS_MANDATORY = ("Stage",)


def build_modules(
    additions: Mapping[str, Mapping[str, Any]], new_id: Callable[[], str]
) -> dict[str, ModuleDef]:
    """The org's modules: the standard ones with ids, plus configured fields and custom modules."""
    modules: dict[str, ModuleDef] = {}
    for api, (singular, name_field, dup, defs) in _standard().items():
        defs = [
            replace(d, system_mandatory=True)
            if api == "Deals" and d.api_name in _DEALS_MANDATORY
            else d
            for d in defs
        ]
        modules[api] = _module(api, singular, name_field, dup, defs, (), new_id, custom=False)
    for api, spec in additions.items():
        extra = [_custom_field(api, raw) for raw in spec.get("fields") or ()]
        if api in modules:
            base = modules[api]
            modules[api] = _module(
                api,
                base.singular,
                base.name_field,
                base.dup_field,
                list(base.fields.values()),
                extra,
                new_id,
                custom=False,
            )
        else:
            base_defs = _common() + [
                _f("Name", length=120, system_mandatory=True),
                _f("Email", "email", length=100),
            ]
            modules[api] = _module(
                api,
                str(spec.get("singular", api.rstrip("s"))),
                "Name",
                "Name",
                base_defs,
                extra,
                new_id,
                custom=True,
            )
    return modules


def _module(
    api: str,
    singular: str,
    name_field: str,
    dup: str,
    defs: Iterable[FieldDef],
    extra: Iterable[FieldDef],
    new_id: Callable[[], str],
    *,
    custom: bool,
) -> ModuleDef:
    merged: dict[str, FieldDef] = {}
    for d in defs:
        merged[d.api_name] = replace(d, id=d.id or new_id())
    for d in extra:  # an addition may redefine a standard field (e.g. make Email unique)
        base = merged.get(d.api_name)
        merged[d.api_name] = replace(
            d, id=base.id if base else new_id(), custom=base.custom if base else d.custom
        )
    unique = tuple(n for n, d in merged.items() if d.unique)
    return ModuleDef(
        api, singular, name_field, dup, merged, id=new_id(), custom=custom, unique_fields=unique
    )


def _custom_field(module: str, raw: Mapping[str, Any]) -> FieldDef:
    api_name = raw.get("api_name")
    data_type = str(raw.get("data_type", "text"))
    if not api_name or data_type not in JSON_TYPES or data_type == "subform":
        raise ConfigError(f"module {module}: field needs api_name and a known data_type: {raw!r}")
    if raw.get("unique") and data_type not in DUPLICATE_CHECK_TYPES:
        raise ConfigError(f"module {module}: {api_name} of type {data_type} cannot be unique")
    if data_type in ("lookup", "multiselectlookup") and not raw.get("lookup_module"):
        raise ConfigError(f"module {module}: lookup field {api_name} needs lookup_module")
    external = {None: None, False: None, True: "org", "org": "org", "user": "user"}.get(
        raw.get("external"), "bad"
    )
    if external == "bad" or (external and data_type != "text"):
        raise ConfigError(f"module {module}: external must be org or user, on a text field")
    return FieldDef(
        api_name=str(api_name),
        data_type=data_type,
        length=int(raw.get("length", 255)),
        system_mandatory=bool(raw.get("mandatory", raw.get("system_mandatory", False))),
        read_only=bool(raw.get("read_only", data_type == "formula")),  # Zoho computes them
        unique=bool(raw.get("unique", False)),
        lookup_module=raw.get("lookup_module"),
        pick_list=tuple(str(v) for v in raw.get("pick_list_values") or ()),
        custom=bool(raw.get("custom", True)),
        field_label=str(raw.get("field_label") or ""),
        rows=_link_row(str(raw["lookup_module"])) if data_type == "multiselectlookup" else (),
        external=external,
    )


def _link_row(connected: str) -> tuple[FieldDef, ...]:
    """A multi-select lookup's row is a linking record whose lookup to the connected module is
    named after that module (Kaizen #125/#199: EmpXSkills' ``Skills`` lookup)."""
    return (FieldDef(connected, "lookup", system_mandatory=True, lookup_module=connected),)

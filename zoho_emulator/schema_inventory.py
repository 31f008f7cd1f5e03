"""Zoho's inventory and activity modules (Products … Invoices, Tasks, Events, Calls, Notes).

An org has them when its config lists them under ``modules`` (listing one pulls in the modules
its lookups need: Products for the line items, Vendors for Purchase_Orders). Field API names are
v8's (reference §3, §13, §16, §19); where the docs are silent the README says UNCONFIRMED.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from .config import ConfigError
from .schema import FieldDef, ModuleDef, _common, _custom_field, _f, _module, _pick, build_modules

_BILLING = tuple(f"Billing_{n}" for n in ("Street", "City", "State", "Code", "Country"))
_SHIPPING = tuple(f"Shipping_{n}" for n in ("Street", "City", "State", "Code", "Country"))
_CARRIER = ("-None-", "FedEX", "UPS", "USPS", "DHL", "BlueDart")
_ORDER_STATUS = ("Created", "Approved", "Delivered", "Cancelled")

# the inventory modules' line-item subform (v8 names: reference §16, from the SDK Field classes)
LINE_ITEMS = {
    "Quotes": "Quoted_Items",
    "Sales_Orders": "Ordered_Items",
    "Invoices": "Invoiced_Items",
    "Purchase_Orders": "Purchase_Items",
}
# modules whose records an activity's What_Id ("Related To") may name (reference §19;
# Leads go into What_Id, Who_Id is Contacts only). Only the ones the org has are offered.
WHAT_ID_MODULES = (
    "Leads",
    "Accounts",
    "Deals",
    "Products",
    "Vendors",
    "Price_Books",
    "Quotes",
    "Sales_Orders",
    "Purchase_Orders",
    "Invoices",
)
ACTIVITIES = ("Tasks", "Events", "Calls")
_NEEDS = {
    "Quotes": ("Products",),
    "Sales_Orders": ("Products", "Quotes"),
    "Invoices": ("Products", "Sales_Orders", "Quotes"),
    "Purchase_Orders": ("Products", "Vendors"),
    "Products": ("Vendors",),
}


def _money(name: str, **kw: Any) -> FieldDef:
    return _f(name, "currency", length=16, **kw)


def line_item_rows() -> tuple[FieldDef, ...]:
    """The row fields of a line-item subform (reference §16 sample)."""
    return (
        _f("Product_Name", "lookup", lookup_module="Products", system_mandatory=True),
        _f("Quantity", "double", length=16, system_mandatory=True),
        _money("List_Price"),
        _money("Discount"),
        _money("Tax", read_only=True),
        _f("Line_Tax", "linetax"),
        _f("Description", "textarea", length=2000),
        _f("Sequence_Number", "integer", length=9, read_only=True),
        _f("Price_Book_Name", "lookup", lookup_module="Price_Books"),
        _money("Total", read_only=True),
        _money("Total_After_Discount", read_only=True),
        _money("Net_Total", read_only=True),
    )


def _inventory(items: str, *specific: FieldDef) -> list[FieldDef]:
    return (
        _common()
        + [
            _f("Subject", length=255, system_mandatory=True),
            _f("Contact_Name", "lookup", lookup_module="Contacts"),
            *specific,
            _pick("Carrier", *_CARRIER),
            _f(items, "subform", system_mandatory=True, rows=line_item_rows()),
            _money("Sub_Total", read_only=True),
            _money("Discount"),
            _money("Tax"),
            _money("Adjustment"),
            _money("Grand_Total", read_only=True),
            _f("Terms_and_Conditions", "textarea", length=32000),
        ]
        + [_f(n, length=250 if n.endswith("Street") else 100) for n in _BILLING + _SHIPPING]
    )


def _activity(*specific: FieldDef) -> list[FieldDef]:
    return _common() + [
        *specific,
        _f("What_Id", "lookup", lookup_modules=WHAT_ID_MODULES, field_label="Related To"),
        _f("Who_Id", "lookup", lookup_module="Contacts", field_label="Contact Name"),
    ]


def optional_standard() -> dict[str, tuple[str, str, str, list[FieldDef]]]:
    """api → (singular, name field, duplicate-check field, fields); "" = no duplicate check."""
    return {
        "Vendors": (
            "Vendor",
            "Vendor_Name",
            "Vendor_Name",
            _common()
            + [
                _f("Vendor_Name", length=120, system_mandatory=True),
                _f("Email", "email", length=100),
                _f("Phone", "phone", length=30),
                _f("Website", "website"),
                _f("Category", length=100),
                _pick("GL_Account", "-None-", "Sales-Software", "Sales-Hardware", "Rental-Income"),
                *(_f(n, length=250 if n == "Street" else 100) for n in _ADDRESS),
            ],
        ),
        "Products": (
            "Product",
            "Product_Name",
            "Product_Name",
            _common()
            + [
                _f("Product_Name", length=120, system_mandatory=True),
                _f("Product_Code", length=40),
                _f("Product_Active", "boolean"),
                _pick("Product_Category", "-None-", "Hardware", "Software", "CRM Applications"),
                _f("Vendor_Name", "lookup", lookup_module="Vendors"),
                _f("Manufacturer", length=100),
                _money("Unit_Price"),
                _money("Commission_Rate"),
                _pick("Usage_Unit", "-None-", "Box", "Carton", "Dozen", "Each", "Hours", "Pieces"),
                _f("Qty_in_Stock", "double", length=16),
                _f("Qty_Ordered", "double", length=16),
                _f("Qty_in_Demand", "double", length=16, read_only=True),
                _f("Reorder_Level", "double", length=16),
                _f("Tax", "multiselectpicklist", pick_list=("Sales Tax", "Vat", "Service Tax")),
                _f("Taxable", "boolean"),
                _f("Sales_Start_Date", "date"),
                _f("Sales_End_Date", "date"),
                _f("Support_Start_Date", "date"),
                _f("Support_Expiry_Date", "date"),
            ],
        ),
        "Price_Books": (
            "Price Book",
            "Price_Book_Name",
            "Price_Book_Name",
            _common()
            + [
                _f("Price_Book_Name", length=120, system_mandatory=True),
                _f("Active", "boolean"),
                _pick("Pricing_Model", "-None-", "Flat", "Differential"),
            ],
        ),
        "Quotes": (
            "Quote",
            "Subject",
            "Subject",
            _inventory(
                "Quoted_Items",
                _f("Account_Name", "lookup", lookup_module="Accounts"),
                _f("Deal_Name", "lookup", lookup_module="Deals"),
                _pick(
                    "Quote_Stage",
                    "Draft",
                    "Negotiation",
                    "Delivered",
                    "On Hold",
                    "Confirmed",
                    "Closed Won",
                    "Closed Lost",
                ),
                _f("Valid_Till", "date"),
                _f("Team", length=100),
            ),
        ),
        "Sales_Orders": (
            "Sales Order",
            "Subject",
            "Subject",
            _inventory(
                "Ordered_Items",
                _f("Account_Name", "lookup", lookup_module="Accounts"),
                _f("Deal_Name", "lookup", lookup_module="Deals"),
                _f("Quote_Name", "lookup", lookup_module="Quotes"),
                _pick("Status", *_ORDER_STATUS),
                _f("Due_Date", "date"),
                _f("Customer_No", length=100),
                _f("Purchase_Order", length=100),
                _money("Excise_Duty"),
                _money("Sales_Commission"),
            ),
        ),
        "Invoices": (
            "Invoice",
            "Subject",
            "Subject",
            _inventory(
                "Invoiced_Items",
                _f("Account_Name", "lookup", lookup_module="Accounts"),
                _f("Deal_Name", "lookup", lookup_module="Deals"),
                _f("Sales_Order", "lookup", lookup_module="Sales_Orders"),
                _pick("Status", *_ORDER_STATUS),
                _f("Invoice_Date", "date"),
                _f("Due_Date", "date"),
                _f("Purchase_Order", length=100),
                _money("Excise_Duty"),
                _money("Sales_Commission"),
            ),
        ),
        "Purchase_Orders": (
            "Purchase Order",
            "Subject",
            "Subject",
            _inventory(
                "Purchase_Items",
                _f("Vendor_Name", "lookup", lookup_module="Vendors", system_mandatory=True),
                _pick("Status", *_ORDER_STATUS),
                _f("PO_Date", "date"),
                _f("Due_Date", "date"),
                _f("Requisition_No", length=100),
                _f("Tracking_Number", length=100),
                _money("Excise_Duty"),
                _money("Sales_Commission"),
            ),
        ),
        "Tasks": (
            "Task",
            "Subject",
            "",
            _activity(
                _f("Subject", length=255, system_mandatory=True),
                _f("Due_Date", "date"),
                _pick(
                    "Status",
                    "Not Started",
                    "Deferred",
                    "In Progress",
                    "Completed",
                    "Waiting for input",
                ),
                _pick("Priority", "High", "Highest", "Low", "Lowest", "Normal"),
                _f("Closed_Time", "datetime", read_only=True),
            ),
        ),
        "Events": (
            "Event",
            "Event_Title",
            "",
            _activity(
                _f("Event_Title", length=255, system_mandatory=True),
                _f("Start_DateTime", "datetime", system_mandatory=True),
                _f("End_DateTime", "datetime", system_mandatory=True),
                _f("All_day", "boolean"),
                _f("Venue", length=255),
            ),
        ),
        "Calls": (
            "Call",
            "Subject",
            "",
            _activity(
                _f("Subject", length=255, system_mandatory=True),
                FieldDef(
                    "Call_Type",
                    "picklist",
                    pick_list=("Outbound", "Inbound", "Missed"),
                    system_mandatory=True,
                ),
                _f("Call_Start_Time", "datetime", system_mandatory=True),
                _f("Call_Duration", length=10),
                _pick("Outbound_Call_Status", "Scheduled", "Completed"),
                _f("Call_Duration_in_seconds", "integer", length=9, read_only=True),
                _pick("Call_Purpose", "-None-", "Prospecting", "Administrative", "Negotiation"),
                _f("Call_Result", length=255),
            ),
        ),
        "Notes": (
            "Note",
            "Note_Title",
            "",
            _common()[:5]
            + [
                _f("Note_Title", length=120),
                _f("Note_Content", "textarea", length=65535),
                _f("Parent_Id", "lookup", lookup_modules=("*",), system_mandatory=True),
            ],
        ),
    }


_ADDRESS = ("Street", "City", "State", "Zip_Code", "Country")


def _enabled(additions: Mapping[str, Any], known: Mapping[str, Any]) -> list[str]:
    wanted: set[str] = set()
    todo = [m for m in additions if m in known]
    while todo:
        one = todo.pop()
        if one not in wanted:
            wanted.add(one)
            todo.extend(_NEEDS.get(one, ()))
    return [m for m in known if m in wanted]  # declaration order: lookup targets first


def build_org_modules(
    additions: Mapping[str, Mapping[str, Any]], new_id: Callable[[], str]
) -> dict[str, ModuleDef]:
    """The org's modules: the always-present standard and custom ones, plus the listed optional
    standard modules (with their configured extra fields) and the modules they need."""
    known = optional_standard()
    modules = build_modules({k: v for k, v in additions.items() if k not in known}, new_id)
    for api in _enabled(additions, known):
        singular, name_field, dup, defs = known[api]
        extra = [_custom_field(api, raw) for raw in additions.get(api, {}).get("fields") or ()]
        modules[api] = _module(api, singular, name_field, dup, defs, extra, new_id, custom=False)
    return {api: _resolve(m, modules, new_id) for api, m in modules.items()}


def _resolve(
    module: ModuleDef, modules: Mapping[str, ModuleDef], new_id: Callable[[], str]
) -> ModuleDef:
    """Polymorphic lookups offer only the org's modules; subform rows get field ids."""
    changed: dict[str, FieldDef] = {}
    for name, fd in module.fields.items():
        if fd.lookup_modules:
            allowed = (
                tuple(m for m in modules if m != "Notes")
                if fd.lookup_modules == ("*",)
                else tuple(m for m in fd.lookup_modules if m in modules)
            )
            changed[name] = replace(fd, lookup_modules=allowed)
        elif fd.data_type == "multiselectlookup" and fd.lookup_module not in modules:
            raise ConfigError(f"{module.api_name}.{name}: no module {fd.lookup_module}")
        elif fd.rows:
            rows = tuple(
                replace(r, id=new_id())
                for r in fd.rows
                if r.lookup_module is None or r.lookup_module in modules
            )
            changed[name] = replace(fd, rows=rows)
    if not changed:
        return module
    return replace(module, fields={**module.fields, **changed})


def subform_rows(modules: Mapping[str, ModuleDef], name: str) -> FieldDef | None:
    """The subform field whose row module is ``name`` (``/settings/fields?module=Quoted_Items``)."""
    for module in modules.values():
        fd = module.fields.get(name)
        if fd is not None and fd.data_type == "subform":
            return fd
    return None

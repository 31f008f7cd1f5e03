"""The OAuth scopes orgsync's calls need (docs/zoho-setup.md has the table, with the pages).

Zoho names a module's scope after the module's API name in lower case without underscores
(``ZohoCRM.modules.pricebooks.READ``, ``ZohoCRM.modules.salesorders.ALL``); every custom module
shares ``ZohoCRM.modules.custom.*`` (the v7 pages' module lists). A module orgsync does not
know as standard is taken as custom.
"""

from __future__ import annotations

STANDARD_MODULES = frozenset(
    {
        "Leads",
        "Contacts",
        "Accounts",
        "Deals",
        "Campaigns",
        "Tasks",
        "Events",
        "Calls",
        "Products",
        "Price_Books",
        "Quotes",
        "Sales_Orders",
        "Purchase_Orders",
        "Invoices",
        "Vendors",
        "Cases",
        "Solutions",
        "Notes",
        "Attachments",
    }
)

USERS_READ = "ZohoCRM.users.READ"  # GET /users
FIELDS_READ = "ZohoCRM.settings.fields.READ"  # GET /settings/fields
RELATED_LISTS_READ = "ZohoCRM.settings.related_lists.READ"  # GET /settings/related_lists
TAGS_READ = "ZohoCRM.settings.tags.READ"  # GET /settings/tags
TAGS_CREATE = "ZohoCRM.settings.tags.CREATE"  # a tag name the target module lacks
COQL_READ = "ZohoCRM.coql.READ"  # POST /coql (plus the module's READ)
BULK_READ = "ZohoCRM.bulk.READ"  # POST /crm/bulk/v8/read (plus the module's READ)
SEARCH_READ = "ZohoSearch.securesearch.READ"  # search and /actions/count
LAYOUTS_READ = "ZohoCRM.settings.layouts.READ"  # /actions/count
NOTIFICATIONS_READ = "ZohoCRM.notifications.READ"  # GET /actions/watch
NOTIFICATIONS_WRITE = ("ZohoCRM.notifications.CREATE", "ZohoCRM.notifications.UPDATE")


def module_scope(module: str, operation: str) -> str:
    """``ZohoCRM.modules.{name}.{operation}`` for a module's API name."""
    name = module.lower().replace("_", "") if module in STANDARD_MODULES else "custom"
    return f"ZohoCRM.modules.{name}.{operation}"

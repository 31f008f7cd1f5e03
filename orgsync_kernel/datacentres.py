"""Zoho's data centres: the one table of their accounts servers and API hosts.

The settings validate an org's `dc` against it and the Zoho client (connectors/zoho/endpoints.py)
takes each org's hosts from it.
"""

from __future__ import annotations

from typing import NamedTuple


class DataCentreUrls(NamedTuple):
    accounts_url: str
    api_url: str


DATA_CENTRES: dict[str, DataCentreUrls] = {
    "us": DataCentreUrls("https://accounts.zoho.com", "https://www.zohoapis.com"),
    "eu": DataCentreUrls("https://accounts.zoho.eu", "https://www.zohoapis.eu"),
    "in": DataCentreUrls("https://accounts.zoho.in", "https://www.zohoapis.in"),
    "au": DataCentreUrls("https://accounts.zoho.com.au", "https://www.zohoapis.com.au"),
    "jp": DataCentreUrls("https://accounts.zoho.jp", "https://www.zohoapis.jp"),
    "ca": DataCentreUrls("https://accounts.zohocloud.ca", "https://www.zohoapis.ca"),
    "cn": DataCentreUrls("https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"),
    "sa": DataCentreUrls("https://accounts.zoho.sa", "https://www.zohoapis.sa"),
    # Zoho Accounts' multi-DC page lists the UK; the API host follows the other DCs' pattern.
    "uk": DataCentreUrls("https://accounts.zoho.uk", "https://www.zohoapis.uk"),
}

"""Data centres: the time-zone offset an org's timestamps use and the Zoho domains it shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache


@dataclass(frozen=True)
class DataCentre:
    code: str
    api_domain: str  # the real Zoho domain, shown in resource_uri etc. (never used for routing)
    accounts_domain: str
    offset_minutes: int  # fixed offset of the org's time zone (no DST: tests stay deterministic)
    time_zone: str

    @property
    def tz(self) -> timezone:
        return timezone(timedelta(minutes=self.offset_minutes))


DATA_CENTRES: dict[str, DataCentre] = {
    dc.code: dc
    for dc in (
        DataCentre(
            "us",
            "https://www.zohoapis.com",
            "https://accounts.zoho.com",
            -7 * 60,
            "America/Los_Angeles",
        ),
        DataCentre("eu", "https://www.zohoapis.eu", "https://accounts.zoho.eu", 60, "Europe/Paris"),
        DataCentre(
            "in", "https://www.zohoapis.in", "https://accounts.zoho.in", 330, "Asia/Kolkata"
        ),
        DataCentre(
            "au",
            "https://www.zohoapis.com.au",
            "https://accounts.zoho.com.au",
            600,
            "Australia/Brisbane",
        ),
        DataCentre("jp", "https://www.zohoapis.jp", "https://accounts.zoho.jp", 540, "Asia/Tokyo"),
        DataCentre(
            "ca",
            "https://www.zohoapis.ca",
            "https://accounts.zohocloud.ca",
            -5 * 60,
            "America/Toronto",
        ),
        DataCentre(
            "cn",
            "https://www.zohoapis.com.cn",
            "https://accounts.zoho.com.cn",
            480,
            "Asia/Shanghai",
        ),
        DataCentre("sa", "https://www.zohoapis.sa", "https://accounts.zoho.sa", 180, "Asia/Riyadh"),
        DataCentre("uk", "https://www.zohoapis.uk", "https://accounts.zoho.uk", 0, "Europe/London"),
    )
}


@lru_cache(maxsize=8192)  # a batch renders the same second many times
def format_datetime(epoch_s: int, tz: timezone) -> str:
    """ISO-8601, second precision, with the org's offset: 2019-01-10T13:04:32+05:30."""
    return datetime.fromtimestamp(epoch_s, tz).isoformat(timespec="seconds").replace("Z", "+00:00")


def parse_datetime(text: str) -> int | None:
    """Epoch seconds of an ISO-8601 date-time carrying an offset; None when it is not one."""
    if not isinstance(text, str) or len(text) < 20 or text[10] != "T":
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return int(parsed.astimezone(UTC).timestamp())

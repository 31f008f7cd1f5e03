"""Helpers for the status page tests: settings, an emulated source org, headless Chromium."""

from __future__ import annotations

import io
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from orgsync_kernel.settings import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WEBHOOK_SECRET = "webhook-secret-status-0123456789"
ADMIN_SECRET = "admin-secret-status-0123456789ab"
CLIENT_ID = "1000.STATUSCLIENT"
CLIENT_SECRET = "status-client-secret-0123456789"
REFRESH_TOKEN = "1000.refresh.status.0123456789abcdef"
SECRETS = (WEBHOOK_SECRET, ADMIN_SECRET, CLIENT_SECRET, REFRESH_TOKEN)


def emulator_config() -> dict[str, Any]:
    client = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_tokens": [REFRESH_TOKEN],
    }
    return {
        "orgs": {
            name: {"dc": "us", "edition": "enterprise", "clients": [client]}
            for name in ("src", "tgt")
        }
    }


def make_settings(
    broker: str,
    prefix: str,
    emu_url: str,
    *,
    listen: str = "127.0.0.1:0",
    admin_secret: str | None = None,
) -> Settings:
    org = {
        "dc": "us",
        "edition": "enterprise",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
        "api_url": emu_url,
        "accounts_url": emu_url,
    }
    return Settings.model_validate(
        {
            "kafka": {"broker": f"kafka://{broker}", "topic_prefix": prefix, "partitions": 2},
            "ingress": {
                "listen": listen,
                "webhook_secret": WEBHOOK_SECRET,
                "admin_secret": admin_secret,
            },
            "orgs": {"src": org, "tgt": org},
            "sync": [
                {
                    "source": "src",
                    "target": "tgt",
                    "modules": {"Accounts": {"match_field": "Origin_Record_Id"}},
                }
            ],
        }
    )


def non_loopback_address() -> str:
    """This machine's address on its default route (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("192.0.2.1", 9))
        address: str = sock.getsockname()[0]
    return address


@contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    """Debian's headless Chromium through its chromedriver (installed by .ci/run)."""
    with tempfile.TemporaryDirectory(prefix="orgsync-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
        ):
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        try:
            yield driver
        finally:
            driver.quit()


def colours(png: bytes) -> set[tuple[int, ...]]:
    """The distinct colours of a PNG image."""
    with Image.open(io.BytesIO(png)) as image:
        data = image.convert("RGB").tobytes()
    return set(zip(data[0::3], data[1::3], data[2::3], strict=True))


def near(colours: set[tuple[int, ...]], hex_colour: str, tolerance: int = 40) -> bool:
    wanted = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return any(
        all(abs(a - b) <= tolerance for a, b in zip(c, wanted, strict=True)) for c in colours
    )

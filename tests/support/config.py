from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "config.example.yaml"

# Values of the variables the example config refers to; long enough for every rule.
ENV = {
    "ORGSYNC_WEBHOOK_SECRET": "whsec-0123456789abcdef",
    "IN_CLIENT_ID": "1000.INCLIENTID",
    "IN_CLIENT_SECRET": "in-client-secret-value",
    "IN_REFRESH_TOKEN": "1000.in-refresh-token-value",
    "US_CLIENT_ID": "1000.USCLIENTID",
    "US_CLIENT_SECRET": "us-client-secret-value",
    "US_REFRESH_TOKEN": "1000.us-refresh-token-value",
}
SECRET_VALUES = [v for k, v in ENV.items() if "CLIENT_ID" not in k]


def example_dict() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(EXAMPLE.read_text()))

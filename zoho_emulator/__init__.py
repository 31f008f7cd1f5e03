"""A local Zoho CRM: several orgs, OAuth, records, metadata, limits and faults (see README.md)."""

from __future__ import annotations

from .app import Emulator, create_app
from .config import ConfigError, EmulatorConfig, load_config
from .state import EmulatorState, Faults, OrgState, WriteEvent

__all__ = [
    "ConfigError",
    "Emulator",
    "EmulatorConfig",
    "EmulatorState",
    "Faults",
    "OrgState",
    "WriteEvent",
    "create_app",
    "load_config",
]

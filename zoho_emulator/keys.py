"""Typed keys of the emulator's app and request state (aiohttp warns on plain string keys)."""

from __future__ import annotations

from aiohttp import web

from .state import EmulatorState, OrgState

STATE = web.AppKey("zoho_emulator.state", EmulatorState)
# Set by the /crm/ middleware once the access token is checked; handlers read them.
ORG = web.RequestKey("zoho_emulator.org", OrgState)
CLIENT_ID = web.RequestKey("zoho_emulator.client_id", str)

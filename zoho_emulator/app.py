"""The aiohttp application serving every org, and the in-process Emulator context manager."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from .admin import admin_routes
from .attachments import attachment_routes, setup_attachments
from .bulk_read import bulk_read_routes, setup_bulk_read
from .config import EmulatorConfig, load_config
from .coql import coql_routes
from .currencies_api import currency_routes
from .keys import STATE
from .metadata import metadata_routes
from .middleware import crm_middleware
from .notes_api import note_routes
from .oauth import token_routes
from .quirks import quirk_routes
from .records import record_routes
from .related_records import related_routes
from .search import search_routes
from .state import EmulatorState
from .tags import tag_routes

VERSIONS = ("v2", "v7", "v8")
# Components built separately; each exposes setup_<name>(app, state) and is optional here.
_PLUGINS = (
    ("zoho_emulator.watch_api", "setup_notifications"),
    ("zoho_emulator.webhooks", "setup_webhooks"),
)


def create_app(state: EmulatorState) -> web.Application:
    app = web.Application(middlewares=[crm_middleware], client_max_size=16 * 1024 * 1024)
    app[STATE] = state
    app.add_routes(token_routes(state.tokens))
    app.add_routes(admin_routes())
    app.add_routes(quirk_routes())
    for module_name, setup in _PLUGINS:
        if importlib.util.find_spec(module_name) is not None:
            getattr(importlib.import_module(module_name), setup)(app, state)
    setup_bulk_read(app, state)
    setup_attachments(app, state)
    for version in VERSIONS:
        app.add_routes(bulk_read_routes(f"/crm/bulk/{version}"))
        prefix = f"/crm/{version}"
        app.add_routes(tag_routes(prefix))
        app.add_routes(currency_routes(prefix))
        app.add_routes(metadata_routes(prefix))
        app.add_routes(search_routes(prefix))
        app.add_routes(coql_routes(prefix))  # before /{module}: "coql" is not a module
        app.add_routes(note_routes(prefix))
        app.add_routes(attachment_routes(prefix))
        app.add_routes(related_routes(prefix))  # after Notes/Attachments, before records
        app.add_routes(record_routes(prefix))
    return app


class Emulator:
    """`async with Emulator(config) as emu:` serves every org at emu.url until the block ends."""

    def __init__(
        self,
        config: EmulatorConfig | Mapping[str, Any] | str | Path,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.config = load_config(config)
        self.host = host
        self.port = port
        self.state = EmulatorState(self.config)
        self.app = create_app(self.state)
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or ()
        self.port = sockets[0].getsockname()[1] if sockets else self.port
        self.url = f"http://{self.host}:{self.port}"
        self.state.public_url = self.config.public_url or self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

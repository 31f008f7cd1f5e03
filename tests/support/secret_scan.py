"""Every secret and token the suite configures or the emulator issues, and a scan for them.

The emulator runs in-process: the access tokens it issues are recorded as they are minted
(revoked ones vanish from its store), the channel tokens orgsync chose are read from its
Notification API subscriptions. Everything an orgsync process printed, every /metrics page and
every exception text the tests collect is scanned for all of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoho_emulator import Emulator
from zoho_emulator.notifications import hub_of


@dataclass
class SecretScan:
    secrets: set[str] = field(default_factory=set)
    scanned_bytes: int = 0
    scanned_items: int = 0
    leaks: list[str] = field(default_factory=list)

    def add(self, *values: str | None) -> None:
        self.secrets.update(v for v in values if v)

    def watch(self, emu: Emulator) -> None:
        """Record every access token the emulator issues from now on."""
        store = emu.state.tokens
        issue = store._issue

        def recording(refresh: Any) -> dict[str, Any]:
            answer: dict[str, Any] = issue(refresh)
            self.add(answer["access_token"])
            return answer

        store._issue = recording  # type: ignore[method-assign]
        for org in emu.config.orgs.values():
            for client in org.clients:
                self.add(client.client_secret, *client.refresh_tokens, *client.grant_codes)

    def harvest(self, emu: Emulator) -> None:
        """The channel tokens orgsync gave the emulator's Notification API."""
        for name in emu.state.orgs:
            try:
                hub = hub_of(emu.app, name)
            except KeyError:
                continue
            self.add(*(sub.token for sub in hub.subs.values()))

    def scan(self, text: str, where: str) -> list[str]:
        self.scanned_bytes += len(text)
        self.scanned_items += 1
        found = [f"{where}: contains a secret ending …{s[-6:]}" for s in self.secrets if s in text]
        self.leaks += found
        return found

    def scan_logs(self, folder: Path) -> list[str]:
        """Every *.log file of `folder` (each process's output, each CLI run's)."""
        return self.scan_files(sorted(folder.glob("*.log")))

    def scan_files(self, paths: Iterable[Path]) -> list[str]:
        found: list[str] = []
        for path in paths:
            found += self.scan(path.read_text(errors="replace"), str(path.name))
        return found


SUITE_SCAN = SecretScan()

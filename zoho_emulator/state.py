"""Per-org and emulator-wide state, and the write-event hook other components listen to."""

from __future__ import annotations

import bisect
import logging
import random
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from functools import cached_property
from typing import Any

from .config import Behaviour, EmulatorConfig, OrgConfig
from .currency import CURRENCY, EXCHANGE_RATE, Currency, OrgCurrencies, with_currency_fields
from .dc import DATA_CENTRES, DataCentre
from .limits import Concurrency, CreditLedger, daily_allowance
from .oauth import TokenStore
from .relations import Relations
from .render import Renderer
from .schema import ModuleDef
from .schema_inventory import build_org_modules
from .store import ModuleStore
from .users import IdGenerator, User
from .validation import Validator

log = logging.getLogger("zoho_emulator")


def _no_records() -> tuple[dict[str, Any], ...]:
    return ()


@dataclass(frozen=True, eq=False)
class WriteEvent:
    """One successful API write (one event per API call and operation).

    ``values`` are the records' stored values right after the write (per id; lookups and users
    as ids, date-times as epoch seconds; never mutated later). ``records`` — the rendered
    records (delete: the last copies) — are rendered on first access and then kept: rendering
    costs as much as the write itself, and most listeners never need it.
    """

    org: str
    module: str
    operation: str  # "insert" | "update" | "delete"
    ids: tuple[str, ...]
    at_ms: int
    client_id: str | None
    trigger: tuple[str, ...] | None  # None: key absent (automations run); (): none run
    values: tuple[Mapping[str, Any], ...] = ()
    render: Callable[[], tuple[dict[str, Any], ...]] = field(default=_no_records, repr=False)

    @cached_property
    def records(self) -> tuple[dict[str, Any], ...]:
        return self.render()


WriteListener = Callable[[WriteEvent], None]
# (parent module, parent ids, what changed: "Notes" | "Attachments" | a related list's name)
# — a related action
RelatedListener = Callable[[str, tuple[str, ...], str], None]


@dataclass
class Faults:
    """Injected faults of one org; the notification fields are read by notifications.py, the
    body and hidden-field quirks by quirks.py."""

    error_rate: float = 0.0
    error_status: int = 500
    throttle_rate: float = 0.0
    latency_ms: int = 0
    latency_jitter_ms: int = 0
    drop_notifications: float = 0.0
    duplicate_notifications: float = 0.0
    delay_notifications_ms: int = 0
    broken_bodies: int = 0  # the next N eligible 200 answers come broken
    broken_body_rate: float = 0.0
    broken_body: str = "truncated"  # or "empty"
    hidden_fields: dict[str, list[str]] = field(default_factory=dict)  # module -> fields

    def merge(self, changes: dict[str, Any]) -> None:
        types = {f.name: f.type for f in fields(self)}
        for key, value in changes.items():
            if key not in types:
                raise ValueError(f"unknown fault {key!r}")
            setattr(self, key, _fault_value(key, types[key], value))

    def clear(self) -> None:
        for f in fields(self):
            default = f.default_factory() if f.default is MISSING else f.default  # type: ignore[misc]
            setattr(self, f.name, default)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _fault_value(key: str, kind: Any, value: Any) -> Any:
    if key == "broken_body":
        if value not in ("truncated", "empty"):
            raise ValueError("fault 'broken_body' must be 'truncated' or 'empty'")
        return value
    if key == "hidden_fields":
        if not isinstance(value, dict) or not all(
            isinstance(v, list) and all(isinstance(n, str) for n in v) for v in value.values()
        ):
            raise ValueError("fault 'hidden_fields' must map modules to lists of fields")
        return {str(k): list(v) for k, v in value.items()}
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"fault {key!r} must be a number")
    return int(value) if kind == "int" else float(value)


@dataclass
class OrgStats:
    calls: dict[str, dict[str, int]] = field(default_factory=dict)
    credits_used: int = 0
    token_refreshes: dict[str, int] = field(default_factory=dict)
    max_concurrency: int = 0
    throttled: int = 0
    notifications: dict[str, int] = field(
        default_factory=lambda: {"sent": 0, "failed": 0, "dropped": 0}
    )

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": {c: dict(paths) for c, paths in self.calls.items()},
            "credits_used": self.credits_used,
            "token_refreshes": dict(self.token_refreshes),
            "max_concurrency": self.max_concurrency,
            "throttled": self.throttled,
            "notifications": dict(self.notifications),
        }


class OrgState:
    def __init__(
        self, config: OrgConfig, behaviour: Behaviour, prefix: int, clock: Callable[[], int]
    ) -> None:
        self.name = config.name
        self.config = config
        self.behaviour = behaviour
        self.dc: DataCentre = DATA_CENTRES[config.dc]
        self.tz = self.dc.tz
        self.now_ms = clock
        self.new_id = IdGenerator(prefix)
        self.zgid = str(prefix * 100 + 1)
        self.org_id = self.new_id()
        self.users: list[User] = [
            User(
                self.new_id(), u.email, u.name, u.role, str(800_000_000 + prefix % 1000 * 1000 + i)
            )
            for i, u in enumerate(config.users)
        ]
        self.users_by_id = {u.id: u for u in self.users}
        by_email = {u.email: u for u in self.users}
        # The user each self client belongs to: who set a user-based External ID (external.py)
        self.client_users = {
            c.client_id: by_email.get(c.user or "", self.users[0]) for c in config.clients
        }
        self.external_setters: dict[tuple[str, str], str] = {}  # (record id, field) -> user id
        self.modules: dict[str, ModuleDef] = build_org_modules(config.modules, self.new_id)
        self.stores = {api: ModuleStore(m) for api, m in self.modules.items()}
        self.faults = Faults()
        self.stats = OrgStats()
        licences = config.user_licences or len(self.users)
        self.credits = CreditLedger(
            daily_allowance(config.edition, licences, config.credits_per_day)
        )
        self.concurrency: dict[str, Concurrency] = {}
        # the write log, one entry per write event: (at_ms, module, op, ids, client_id)
        self._writes: list[tuple[int, str, str, tuple[str, ...], str | None]] = []
        self.page_tokens: dict[str, tuple[str, int, int]] = {}
        self._write_listeners: list[WriteListener] = []
        self._reset_listeners: list[Callable[[], None]] = []
        self._related_listeners: list[RelatedListener] = []
        self.random = random.Random(zlib.crc32(config.name.encode()))
        self.in_flight = 0
        # tags per module (tags.py): module -> tag id -> {"name", "id", "color_code", ...}
        self.tags: dict[str, dict[str, dict[str, Any]]] = {}
        self.relations = Relations()  # related-list links (relations.py)
        self._renderers: dict[str, Renderer] = {}
        self._validators: dict[str, Validator] = {}
        self.currencies = OrgCurrencies(config.currency, self.new_id, clock() // 1000)
        if self.currencies.enabled:
            self.currencies_changed()

    def enable_currencies(self, base: Currency) -> None:
        """Multi-currency on: existing records get the home currency at rate 1 (Zoho's help)."""
        self.currencies.enable(base)
        self.currencies_changed()
        stamp = {CURRENCY: base.iso_code, EXCHANGE_RATE: 1.0}
        for api, module in self.modules.items():
            if CURRENCY in module.fields:
                for record in self.stores[api].records.values():
                    record.values = {**record.values, **stamp}  # replaced: write snapshots

    def currencies_changed(self) -> None:
        """The modules with amounts get ``Currency``/``Exchange_Rate`` offering every currency."""
        changed = with_currency_fields(self.modules, self.currencies.codes(), self.new_id)
        self.modules.update(changed)
        for api, module in changed.items():
            self.stores[api].module = module
        self._renderers.clear()
        self._validators.clear()

    def renderer(self, module: str) -> Renderer:
        found = self._renderers.get(module)
        if found is None:
            found = self._renderers[module] = Renderer(
                self.modules[module],
                self.tz,
                self.users,
                self.stores,
                self.modules,
                self.tags.setdefault(module, {}),
                self.currencies.symbol_of,
            )
        return found

    def validator(self, module: str) -> Validator:
        found = self._validators.get(module)
        if found is None:
            found = self._validators[module] = Validator(
                self.modules[module], self.behaviour, self.stores, self.users_by_id
            )
        return found

    @property
    def api_user(self) -> User:
        """The user every self-client token acts as (the org's first user)."""
        return self.users[0]

    def add_write_listener(self, fn: WriteListener) -> None:
        self._write_listeners.append(fn)

    def add_related_listener(self, fn: RelatedListener) -> None:
        self._related_listeners.append(fn)

    def emit_related(self, module: str, ids: tuple[str, ...], kind: str) -> None:
        """A note, attachment or relation of these records changed (notify_on_related_action)."""
        for listener in self._related_listeners:
            try:
                listener(module, ids, kind)
            except Exception:
                log.exception("related listener failed")

    def add_reset_listener(self, fn: Callable[[], None]) -> None:
        self._reset_listeners.append(fn)

    @property
    def has_write_listeners(self) -> bool:
        return bool(self._write_listeners)

    def emit_write(self, event: WriteEvent) -> None:
        self._writes.append(
            (event.at_ms, event.module, event.operation, event.ids, event.client_id)
        )
        for listener in self._write_listeners:
            try:
                listener(event)
            except Exception:  # a listener bug must not fail the API call that wrote
                log.exception("write listener failed")

    def write_log_since(self, since_ms: int) -> list[dict[str, Any]]:
        """Every written id with at_ms >= since_ms, in write order (/__emulator/orgs/X/log)."""
        writes = self._writes
        start = bisect.bisect_left(writes, since_ms, key=lambda w: w[0])
        return [
            {"module": module, "id": rid, "op": op, "at_ms": at_ms, "client_id": client_id}
            for at_ms, module, op, ids, client_id in writes[start:]
            for rid in ids
        ]

    @property
    def write_log(self) -> list[dict[str, Any]]:
        return self.write_log_since(0)

    def reset(self) -> None:
        for store in self.stores.values():
            store.clear()
        self.stats = OrgStats()
        self.credits.clear()
        self._writes.clear()
        self.page_tokens.clear()
        for tags in self.tags.values():
            tags.clear()
        self.relations.clear()
        self.external_setters.clear()
        self.faults.clear()
        for fn in self._reset_listeners:
            fn()

    def concurrency_for(self, client_id: str) -> Concurrency:
        """The slots of the calling app (Zoho: "the concurrency limit of the user for the app";
        every token here acts as the org's first user), or of the whole org under "org"."""
        key = client_id if self.behaviour.concurrency_scope == "client" else ""
        slot = self.concurrency.get(key)
        if slot is None:
            slot = self.concurrency[key] = Concurrency(
                self.config.edition, self.behaviour.sub_concurrency
            )
        return slot


class EmulatorState:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.behaviour = config.behaviour
        self.clock_offset_ms = 0
        self.orgs: dict[str, OrgState] = {}
        used: set[int] = set()
        for name, org_cfg in config.orgs.items():
            prefix = zlib.crc32(name.encode()) % 8_000_000 + 1_000_000
            while prefix in used:
                prefix += 1
            used.add(prefix)
            self.orgs[name] = OrgState(org_cfg, config.behaviour, prefix, self.now_ms)
        self.tokens = TokenStore(config, self.now_ms, self._count_refresh)

    def _count_refresh(self, org: str, client_id: str) -> None:
        refreshes = self.orgs[org].stats.token_refreshes
        refreshes[client_id] = refreshes.get(client_id, 0) + 1

    @property
    def public_url(self) -> str:
        return self.tokens.api_domain

    @public_url.setter
    def public_url(self, url: str) -> None:
        self.tokens.api_domain = url

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self.clock_offset_ms

    def advance(self, seconds: float) -> None:
        """Move the emulator's clock forward (tests of expiry and rolling windows)."""
        self.clock_offset_ms += int(seconds * 1000)

    def reset(self) -> None:
        for org in self.orgs.values():
            org.reset()
        self.tokens.reset_counters()

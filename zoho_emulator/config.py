"""Emulator configuration: parsed once from YAML/JSON (or a dict) into frozen objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from .dc import DATA_CENTRES
from .scopes import valid_scope

EDITIONS = ("free", "standard", "professional", "enterprise", "ultimate")
MULTI_CURRENCY_EDITIONS = ("enterprise", "ultimate")


class ConfigError(ValueError):
    """The configuration file is not in the documented shape."""


@dataclass(frozen=True)
class Behaviour:
    """Switches for points the reference marks UNCONFIRMED (defaults: see README.md)."""

    all_failed_status: int = 400
    upsert_success_status: int = 200
    get_missing_record: str = "no_content"  # or "invalid_data"
    if_modified_since_inclusive: bool = True
    read_only_fields: str = "ignore"  # or "reject"
    unknown_fields: str = "ignore"  # or "reject"
    picklist_validation: bool = False
    noop_update_bumps_modified_time: bool = True
    duplicate_details_with_id: bool = False
    accept_bearer: bool = False
    grant_code_ttl_s: int = 180
    refresh_limit: int = 10
    refresh_window_s: int = 600
    max_live_access_tokens: int = 15
    max_refresh_tokens: int = 20
    credits_header_ratio: float = 0.5
    concurrency_scope: str = "client"  # per user per app (every token acts as one user); "org"
    sub_concurrency: int = 10
    heavy_write_threshold: int = 10
    search_index_delay_ms: int = 5000  # Zoho: just-written records may be missing (204)
    search_equals_contains: bool = True
    bulk_read_job_delay_s: float = 0.2  # ADDED → QUEUED → IN PROGRESS → COMPLETED over this time
    bulk_read_per_page: int = 200_000  # rows per job (Zoho: always 200,000)
    page_token_limit: int = 100_000  # records a page_token listing reaches (Zoho: 100,000)
    # records GET /{module}/deleted reaches by page; None: no cap (Zoho documents none)
    deleted_page_limit: int | None = None
    bulk_read_downloads_per_minute: int = 10
    bulk_read_poll_credits: int = 1  # GET job details (undocumented)
    bulk_read_download_credits: int = 0  # GET result (undocumented)
    subform_unlisted_rows: str = "keep"  # rows an update leaves out: "keep" (v7 page) or "remove"
    related_action_bumps_parent_modified_time: bool = False  # note/attachment changes (UNCONFIRMED)
    tagging_bumps_modified_time: bool = False  # add_tags/remove_tags (UNCONFIRMED)
    # Without the bump, tagging is reported to the record's channels as a related action
    # (notify_on_related_action); Zoho documents neither (UNCONFIRMED, README "Notes, ...").
    tagging_is_related_action: bool = True
    attachment_max_bytes: int = 100 * 1024 * 1024  # Zoho: 100 MB per file (v2+ upload page)
    tags_per_module: int | None = None  # info.allowed_count; None: the edition's (tags.py)
    tags_per_record: int | None = None  # info.record_limit; None: the edition's
    # Zoho: a note needs Note_Content (v7 create-notes page). Off by default only because
    # tests outside the emulator (pipeline related-data) still write title-only notes.
    note_content_mandatory: bool = False
    active_currencies_limit: int = 10  # ACTIVE_STATE_LIMIT_EXCEEDED (help page 10, OAS sample 5)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Behaviour:
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ConfigError(f"unknown behaviour switches: {sorted(unknown)}")
        behaviour = cls(**dict(raw))
        if behaviour.concurrency_scope not in ("client", "org"):
            raise ConfigError("behaviour.concurrency_scope must be 'client' or 'org'")
        if behaviour.bulk_read_per_page < 1 or behaviour.bulk_read_job_delay_s < 0:
            raise ConfigError("behaviour.bulk_read_per_page ≥ 1, bulk_read_job_delay_s ≥ 0")
        if behaviour.page_token_limit < 1:
            raise ConfigError("behaviour.page_token_limit ≥ 1")
        if behaviour.deleted_page_limit is not None and behaviour.deleted_page_limit < 1:
            raise ConfigError("behaviour.deleted_page_limit ≥ 1 (or null: no cap)")
        return behaviour


@dataclass(frozen=True)
class ClientConfig:
    client_id: str
    client_secret: str = field(repr=False)
    refresh_tokens: tuple[str, ...] = field(default=(), repr=False)
    grant_codes: tuple[str, ...] = field(default=(), repr=False)
    scopes: tuple[str, ...] | None = None  # granted to its tokens; None: every scope
    user: str | None = None  # e-mail of the user whose self client it is (default: the first)


@dataclass(frozen=True)
class UserConfig:
    email: str
    name: str
    role: str = "Administrator"


@dataclass(frozen=True)
class CurrencyConfig:
    """The org's home currency and, when multi-currency is on, its other currencies."""

    home: str = "USD"
    enabled: bool = False
    currencies: tuple[Mapping[str, Any], ...] = ()  # {iso_code, exchange_rate, name?, ...}


@dataclass(frozen=True)
class OrgConfig:
    name: str
    dc: str = "us"
    edition: str = "enterprise"
    latency_ms: int = 0
    latency_jitter_ms: int = 0
    users: tuple[UserConfig, ...] = ()
    clients: tuple[ClientConfig, ...] = ()
    modules: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    webhooks: tuple[Mapping[str, Any], ...] = ()
    credits_per_day: int | None = None  # overrides the edition formula (tests of the credit limit)
    user_licences: int | None = None  # default: number of users
    currency: CurrencyConfig = CurrencyConfig()


@dataclass(frozen=True)
class EmulatorConfig:
    orgs: Mapping[str, OrgConfig]
    public_url: str | None = None
    access_token_ttl: int = 3600
    behaviour: Behaviour = Behaviour()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)  # for other components' keys


def load_config(source: str | Path | Mapping[str, Any] | EmulatorConfig) -> EmulatorConfig:
    """Parse a YAML/JSON file path or an already-loaded mapping."""
    if isinstance(source, EmulatorConfig):
        return source
    if isinstance(source, str | Path):
        raw = yaml.safe_load(Path(source).read_text(encoding="utf-8"))
    else:
        raw = source
    if not isinstance(raw, Mapping) or not isinstance(raw.get("orgs"), Mapping):
        raise ConfigError("config needs an 'orgs' mapping")
    orgs = {str(name): _org(str(name), spec or {}) for name, spec in raw["orgs"].items()}
    if not orgs:
        raise ConfigError("config needs at least one org")
    return EmulatorConfig(
        orgs=orgs,
        public_url=(str(raw["public_url"]).rstrip("/") if raw.get("public_url") else None),
        access_token_ttl=int(raw.get("access_token_ttl", 3600)),
        behaviour=Behaviour.from_mapping(raw.get("behaviour") or {}),
        raw=dict(raw),
    )


def _org(name: str, spec: Mapping[str, Any]) -> OrgConfig:
    dc = str(spec.get("dc", "us")).lower()
    edition = str(spec.get("edition", "enterprise")).lower()
    if dc not in DATA_CENTRES:
        raise ConfigError(f"org {name}: unknown dc {dc!r}")
    if edition not in EDITIONS:
        raise ConfigError(f"org {name}: unknown edition {edition!r}")
    users = tuple(_user(u) for u in spec.get("users") or ())
    if not users:
        users = (UserConfig(email=f"admin@{name}.example", name=f"{name.title()} Admin"),)
    clients = tuple(_client(name, c) for c in spec.get("clients") or ())
    emails = {u.email for u in users}
    if any(c.user and c.user not in emails for c in clients):
        raise ConfigError(f"org {name}: a client's user must be one of the org's users")
    modules = spec.get("modules") or {}
    if not isinstance(modules, Mapping):
        raise ConfigError(f"org {name}: modules must be a mapping")
    return OrgConfig(
        name=name,
        dc=dc,
        edition=edition,
        latency_ms=int(spec.get("latency_ms", 0)),
        latency_jitter_ms=int(spec.get("latency_jitter_ms", 0)),
        users=users,
        clients=clients,
        modules={str(k): dict(v or {}) for k, v in modules.items()},
        webhooks=tuple(dict(w) for w in spec.get("webhooks") or ()),
        credits_per_day=_opt_int(spec.get("credits_per_day")),
        user_licences=_opt_int(spec.get("user_licences")),
        currency=_currency(name, edition, spec.get("currency")),
    )


def _user(raw: Mapping[str, Any]) -> UserConfig:
    if "email" not in raw:
        raise ConfigError("every user needs an email")
    email = str(raw["email"])
    return UserConfig(
        email=email,
        name=str(raw.get("name") or email.split("@")[0]),
        role=str(raw.get("role", "Administrator")),
    )


def _client(org: str, raw: Mapping[str, Any]) -> ClientConfig:
    if not raw.get("client_id") or not raw.get("client_secret"):
        raise ConfigError(f"org {org}: every client needs client_id and client_secret")
    return ClientConfig(
        client_id=str(raw["client_id"]),
        client_secret=str(raw["client_secret"]),
        refresh_tokens=tuple(str(t) for t in raw.get("refresh_tokens") or ()),
        grant_codes=tuple(str(c) for c in raw.get("grant_codes") or ()),
        scopes=_scopes(org, raw.get("scopes")),
        user=str(raw["user"]) if raw.get("user") else None,
    )


def _scopes(org: str, raw: Any) -> tuple[str, ...] | None:
    """``scopes: [ZohoCRM.modules.ALL, …]`` (a list, or Zoho's comma-separated string)."""
    if raw is None:
        return None
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    scopes = tuple(str(s).strip() for s in items)
    bad = [s for s in scopes if not valid_scope(s)]
    if bad:
        raise ConfigError(f"org {org}: scopes must read Service.name.OPERATION, not {bad}")
    return scopes


def _currency(org: str, edition: str, raw: Any) -> CurrencyConfig:
    """``currency: {home: INR, enabled: true, currencies: [{iso_code: USD, exchange_rate: …}]}``;
    given at all, multi-currency is on unless ``enabled: false``."""
    if raw is None:
        return CurrencyConfig()
    if not isinstance(raw, Mapping):
        raise ConfigError(f"org {org}: currency must be a mapping")
    enabled = bool(raw.get("enabled", True))
    extra = tuple(dict(c) for c in raw.get("currencies") or ())
    if enabled and edition not in MULTI_CURRENCY_EDITIONS:
        raise ConfigError(f"org {org}: multi-currency needs the enterprise or ultimate edition")
    if extra and not enabled:
        raise ConfigError(f"org {org}: currencies need multi-currency enabled")
    for c in extra:
        rate = c.get("exchange_rate")
        if not c.get("iso_code") or isinstance(rate, bool) or not float(rate or 0) > 0:
            raise ConfigError(f"org {org}: each currency needs iso_code and exchange_rate > 0")
    return CurrencyConfig(
        home=str(raw.get("home", "USD")).upper(), enabled=enabled, currencies=extra
    )


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)

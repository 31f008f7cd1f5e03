"""The one typed, frozen settings object: the schema of orgsync's configuration.

`Settings` and its parts validate a configuration tree that `config_file.load_settings` has read
and resolved. Components receive the part of `Settings` they use (`SinkSettings`, `Route`, ...).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .datacentres import DATA_CENTRES
from .topics import Topics


def _known_dc(value: str) -> str:
    if value not in DATA_CENTRES:
        *rest, last = (repr(dc) for dc in DATA_CENTRES)
        raise ValueError(f"Input should be {', '.join(rest)} or {last}")
    return value


DataCentre = Annotated[str, AfterValidator(_known_dc)]  # the one table: datacentres.py
Edition = Literal["free", "standard", "professional", "enterprise", "ultimate"]
Trigger = Literal["workflow", "approval", "blueprint"]
OnLink = Literal["fill_empty", "source_wins", "target_wins"]
# What a record whose currency the target org lacks becomes (pipeline/mapping/money.py).
CurrencyPolicy = Literal["convert", "reject"]
# Who wins when both orgs edited the same field (pipeline/sync/record_state.py changed_fields).
ConflictPolicy = Literal["latest", "source_wins", "target_wins"]


def _matching(pattern: str, meaning: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{value!r} is not {meaning}")
        return value

    return AfterValidator(check)


# "INR/USD": units of USD per one INR (pipeline/mapping/money.py `exchange_rates`).
CurrencyPair = Annotated[
    str, _matching(r"([A-Z]{3})/(?!\1)[A-Z]{3}", "a currency pair such as INR/USD (ISO codes)")
]
ExchangeRate = Annotated[float, Field(gt=0, allow_inf_nan=False)]

OrgName = Annotated[
    str, _matching(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}", "a valid org name (letters, digits, _ and -)")
]
ApiName = Annotated[str, _matching(r"[A-Za-z][A-Za-z0-9_]{0,99}", "a Zoho API name")]
Email = Annotated[str, _matching(r"[^@\s]+@[^@\s]+", "an e-mail address")]
_MIN_SHARED_SECRET = 16


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _http_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http(s) URL such as https://sync.example.com")
    return value.rstrip("/")


def _relative_to_config(value: Any, info: ValidationInfo) -> Any:
    base = (info.context or {}).get("base_dir")
    if not isinstance(value, Path) or value.is_absolute() or base is None:
        return value
    return Path(base) / value


def parse_listen(listen: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` -> (host, port); raises ValueError."""
    host, sep, port = listen.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError("must be host:port, e.g. 127.0.0.1:8080")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _existing_file(value: Path | None, info: ValidationInfo) -> Path | None:
    path: Path | None = _relative_to_config(value, info)
    if path is not None and not path.is_file():
        raise ValueError(f"no such file: {path}")
    return path


class KafkaSettings(_Model):
    broker: str = Field(default="kafka://127.0.0.1:9092", min_length=1)
    topic_prefix: str = Field(default="orgsync", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$")
    partitions: int = Field(default=8, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1, le=16)
    min_insync_replicas: int = Field(default=1, ge=1, le=16)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = Field(default=None, min_length=1)
    sasl_password: SecretStr | None = Field(default=None, repr=False)
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None

    _files = field_validator("ssl_cafile", "ssl_certfile", "ssl_keyfile")(_existing_file)

    @field_validator("broker")
    @classmethod
    def _scheme(cls, value: str) -> str:
        return value if "://" in value else f"kafka://{value}"

    @model_validator(mode="after")
    def _consistent(self) -> KafkaSettings:
        problems = [*self._replication_problems(), *self._security_problems()]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _replication_problems(self) -> list[str]:
        if self.min_insync_replicas > self.replication_factor:
            return [
                f"min_insync_replicas ({self.min_insync_replicas}) cannot exceed "
                f"replication_factor ({self.replication_factor}): every write would be refused"
            ]
        return []

    def _security_problems(self) -> list[str]:
        protocol, problems = self.security_protocol, []
        sasl = ("sasl_mechanism", "sasl_username", "sasl_password")
        tls = ("ssl_cafile", "ssl_certfile", "ssl_keyfile")
        for key in sasl:
            given = getattr(self, key) is not None
            if protocol.startswith("SASL_") and not given:
                problems.append(f"{key} is required with security_protocol {protocol}")
            elif given and not protocol.startswith("SASL_"):
                problems.append(f"{key} needs security_protocol SASL_PLAINTEXT or SASL_SSL")
        for key in tls:
            if getattr(self, key) is not None and not protocol.endswith("SSL"):
                problems.append(f"{key} needs security_protocol SSL or SASL_SSL")
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            problems.append("ssl_certfile and ssl_keyfile go together (a client certificate)")
        return problems


class IngressSettings(_Model):
    listen: str = "127.0.0.1:8080"
    public_url: str | None = None
    webhook_secret: SecretStr = Field(repr=False)
    admin_secret: SecretStr | None = Field(default=None, repr=False)
    max_body_bytes: int = Field(default=1 << 20, ge=1024, le=64 << 20)
    # Where the hints answered 503 wait for the poller, so that a restart keeps them
    # (connectors/ingress/refusals.py); None: under
    # $XDG_STATE_HOME/orgsync/refusals/<topic prefix>-<listen port>/; false: in memory.
    refusals_dir: Path | Literal[False] | None = None

    _url = field_validator("public_url")(_http_url)
    _refusals_dir = field_validator("refusals_dir")(_relative_to_config)

    @field_validator("webhook_secret", "admin_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < _MIN_SHARED_SECRET:
            raise ValueError(f"must be at least {_MIN_SHARED_SECRET} characters long")
        return value

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        parse_listen(value)
        return value

    @model_validator(mode="after")
    def _admin_beyond_loopback(self) -> IngressSettings:
        if self.admin_secret is None and not is_loopback(self.host):
            raise ValueError("admin_secret is required when listen is not a loopback address")
        return self

    @property
    def host(self) -> str:
        return parse_listen(self.listen)[0]

    @property
    def port(self) -> int:
        return parse_listen(self.listen)[1]


class OrgSettings(_Model):
    dc: DataCentre
    edition: Edition
    client_id: str = Field(min_length=1)
    client_secret: SecretStr = Field(min_length=1, repr=False)
    refresh_token: SecretStr = Field(min_length=1, repr=False)
    api_url: str | None = None
    accounts_url: str | None = None
    # None: the default file under the state directory (orgsync/orgs.py); False: memory only.
    token_cache: Path | Literal[False] | None = None
    max_concurrency: int | None = Field(default=None, ge=1, le=100)
    daily_credit_budget: int | None = Field(default=None, ge=1)
    credit_reserve: float = Field(default=0.2, ge=0.0, lt=1.0)

    _urls = field_validator("api_url", "accounts_url")(_http_url)

    @field_validator("token_cache", mode="before")
    @classmethod
    def _cache_kind(cls, value: Any) -> Any:
        if value is None or value is False or isinstance(value, str | Path):
            return value
        raise ValueError("must be a file path, or false to keep tokens in memory only")

    @field_validator("token_cache")
    @classmethod
    def _cache(
        cls, value: Path | Literal[False] | None, info: ValidationInfo
    ) -> Path | Literal[False] | None:
        return value if value is False else _relative_to_config(value, info)

    @field_validator("dc", "edition", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class OwnerMapping(_Model):
    match: Literal["email"] = "email"
    default: Email | None = None


class ModuleRoute(_Model):
    match_field: ApiName
    match_value: Literal["auto", "source_id", "field"] = "auto"
    target_module: ApiName | None = None
    fields: tuple[ApiName, ...] | None = Field(default=None, min_length=1)
    rename: dict[ApiName, ApiName] = {}
    values: dict[ApiName, dict[str, str]] = {}
    owner: OwnerMapping | None = None
    delete: bool = False
    lookups: dict[ApiName, ApiName] = {}
    # Target fields that identify a record already in the target (pipeline/sync/binding.py).
    link_existing: tuple[ApiName, ...] = ()
    on_link: OnLink = "fill_empty"
    currency: CurrencyPolicy | None = None  # None: the route's
    conflict: ConflictPolicy = "latest"
    # What around the record is synced too (pipeline/sync/related.py).
    notes: bool = False
    attachments: bool = False
    tags: bool = False
    related_lists: tuple[ApiName, ...] = ()  # e.g. a Price Book's Products (list prices)

    @model_validator(mode="after")
    def _consistent(self) -> ModuleRoute:
        problems = [f"fields: {name} is listed twice" for name in duplicates(self.fields or ())]
        problems += [f"link_existing: {n} is listed twice" for n in duplicates(self.link_existing)]
        if self.match_field in self.link_existing:
            problems.append(f"link_existing: {self.match_field} is the match field")
        problems += [f"rename: two fields renamed to {n}" for n in duplicates(self.rename.values())]
        if self.fields is not None:
            for key, mapping in (
                ("rename", self.rename),
                ("values", self.values),
                ("lookups", self.lookups),
            ):
                problems += [
                    f"{key}: {name} is not in fields" for name in mapping if name not in self.fields
                ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def target_field(self, source_field: str) -> str:
        return self.rename.get(source_field, source_field)

    @property
    def related(self) -> list[str]:
        """The kinds of related data synced with the record."""
        kinds = ("notes", "attachments", "tags", "related_lists")
        return [kind for kind in kinds if getattr(self, kind)]


def duplicates(names: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for name in names:
        (repeated if name in seen else []).append(name)
        seen.add(name)
    return repeated


class Route(_Model):
    source: OrgName
    target: OrgName
    trigger: tuple[Trigger, ...] = ()
    currency: CurrencyPolicy = "reject"
    modules: dict[ApiName, ModuleRoute] = Field(min_length=1)

    @model_validator(mode="after")
    def _lookups_synced(self) -> Route:
        problems = [
            f"modules.{module}.lookups.{name}: {parent} is not a module of this route"
            for module, mapping in self.modules.items()
            for name, parent in mapping.lookups.items()
            if parent not in self.modules
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def name(self) -> str:
        return f"{self.source}->{self.target}"

    def target_module(self, source_module: str) -> str:
        return self.modules[source_module].target_module or source_module

    def currency_policy(self, source_module: str) -> CurrencyPolicy:
        return self.modules[source_module].currency or self.currency

    def source_module_for(self, target_module: str) -> str | None:
        """The source module this route writes into `target_module`, if any."""
        for module in self.modules:
            if self.target_module(module) == target_module:
                return module
        return None


class PollerSettings(_Model):
    interval_seconds: float = Field(default=60.0, gt=0)
    overlap_seconds: float = Field(default=60.0, ge=0)


class FetchSettings(_Model):
    linger_ms: int = Field(default=200, ge=0, le=60_000)
    batch_size: int = Field(default=100, ge=1, le=100)


class SinkSettings(_Model):
    linger_ms: int = Field(default=250, ge=0, le=60_000)
    # A target whose direct write from a round takes longer, or fails transiently, gets its
    # writes queued (writes.<target>) until the queue is empty again.
    direct_write_timeout_seconds: float = Field(default=1.5, gt=0, le=600)
    batch_size: int = Field(default=100, ge=1, le=100)
    max_attempts: int = Field(default=20, ge=1)
    backoff_initial_ms: int = Field(default=500, ge=1)
    backoff_max_ms: int = Field(default=60_000, ge=1)


class ProcessorSettings(_Model):
    parent_wait_seconds: float = Field(default=300.0, gt=0)
    # How long field metadata is trusted; each re-read is compared for schema drift.
    metadata_refresh_seconds: float = Field(default=3600.0, gt=0)


class WorkerSettings(_Model):
    # `orgsync run --role worker` serves /metrics here (the other roles serve it on the ingress).
    metrics_listen: str | None = None
    # A name unique and stable per worker process (e.g. the pod's): Kafka's static membership,
    # so a restart within the session timeout keeps its partitions without a rebalance.
    instance_id: str | None = Field(default=None, min_length=1, max_length=200)
    # Where the worker keeps its state on disk (pipeline/worker/state.py); None: under
    # $XDG_STATE_HOME/orgsync/state/<topic prefix>/; false: in memory (grows with the records).
    state_dir: Path | Literal[False] | None = None
    state_cache_mb: int = Field(default=64, ge=8, le=65_536)

    _state_dir = field_validator("state_dir")(_relative_to_config)

    @field_validator("metrics_listen")
    @classmethod
    def _listen(cls, value: str | None) -> str | None:
        if value is not None:
            parse_listen(value)
        return value


class Settings(_Model):
    kafka: KafkaSettings = KafkaSettings()
    ingress: IngressSettings
    orgs: dict[OrgName, OrgSettings] = Field(min_length=1)
    sync: tuple[Route, ...]
    poller: PollerSettings = PollerSettings()
    fetch: FetchSettings = FetchSettings()
    sink: SinkSettings = SinkSettings()
    processor: ProcessorSettings = ProcessorSettings()
    worker: WorkerSettings = WorkerSettings()
    exchange_rates: dict[CurrencyPair, ExchangeRate] = {}
    secrets_file: Path | None = None

    _secrets = field_validator("secrets_file")(_relative_to_config)

    @property
    def topics(self) -> Topics:
        return Topics(self.kafka.topic_prefix)

    @property
    def targets(self) -> tuple[str, ...]:
        """The orgs some route writes into, sorted."""
        return tuple(sorted({route.target for route in self.sync}))

    def routes_from(self, org: str) -> tuple[Route, ...]:
        return tuple(route for route in self.sync if route.source == org)

    def routes_into(self, org: str) -> tuple[Route, ...]:
        return tuple(route for route in self.sync if route.target == org)

    def synced_modules(self, org: str) -> frozenset[str]:
        """Modules of `org` that some route reads (what ingress, poller and channels watch)."""
        return frozenset(m for route in self.routes_from(org) for m in route.modules)

    @property
    def notes_parents(self) -> dict[str, frozenset[str]]:
        """Per source org, the modules whose records' notes some route syncs."""
        return self._source_modules(lambda mapping: mapping.notes)

    @property
    def synced_deletes(self) -> dict[str, frozenset[str]]:
        """Per source org, the modules whose deletes some route syncs (`delete: true`): the
        only ones whose deleted records the poller lists."""
        return self._source_modules(lambda mapping: mapping.delete)

    def _source_modules(self, wanted: Callable[[ModuleRoute], bool]) -> dict[str, frozenset[str]]:
        """Per source org, the modules of its routes whose mapping is `wanted`."""
        found: dict[str, set[str]] = {}
        for route in self.sync:
            for module, mapping in route.modules.items():
                if wanted(mapping):
                    found.setdefault(route.source, set()).add(module)
        return {org: frozenset(modules) for org, modules in found.items()}

    @property
    def watched(self) -> dict[str, frozenset[str]]:
        """Per source org (an org some route reads), the modules to watch and poll."""
        return {org: modules for org in self.orgs if (modules := self.synced_modules(org))}

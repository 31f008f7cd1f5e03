"""The one typed, frozen settings object, loaded at the edge from a YAML (or JSON) file.

`load_settings(path, environ, secrets_file)` is the only entry point. It reads the file, resolves
`${VARIABLE}` references from the given environment mapping or a secrets file, validates the whole
tree and raises one `ConfigError` that lists every problem by path. Nothing else in orgsync reads
`os.environ`; components receive the parts of `Settings` they need as arguments.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from connectors.zoho.endpoints import DATA_CENTRES


def _known_dc(value: str) -> str:
    if value not in DATA_CENTRES:
        *rest, last = (repr(dc) for dc in DATA_CENTRES)
        raise ValueError(f"Input should be {', '.join(rest)} or {last}")
    return value


DataCentre = Annotated[str, AfterValidator(_known_dc)]  # the one table: connectors.zoho
Edition = Literal["free", "standard", "professional", "enterprise", "ultimate"]
Trigger = Literal["workflow", "approval", "blueprint"]
# Concurrent in-flight calls Zoho allows per org and edition (reference section 7).
EDITION_CONCURRENCY: Mapping[str, int] = {
    "free": 5, "standard": 10, "professional": 15, "enterprise": 20, "ultimate": 25,
}



def _matching(pattern: str, meaning: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{value!r} is not {meaning}")
        return value

    return AfterValidator(check)


OrgName = Annotated[str, _matching(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}",
                                   "a valid org name (letters, digits, _ and -)")]
ApiName = Annotated[str, _matching(r"[A-Za-z][A-Za-z0-9_]{0,99}", "a Zoho API name")]
Email = Annotated[str, _matching(r"[^@\s]+@[^@\s]+", "an e-mail address")]
_MIN_SHARED_SECRET = 16

SECRET_PATHS: tuple[tuple[str, ...], ...] = (
    ("ingress", "webhook_secret"),
    ("ingress", "admin_secret"),
    ("orgs", "*", "client_secret"),
    ("orgs", "*", "refresh_token"),
)
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MAX_DEPTH = 32


class ConfigError(Exception):
    """The configuration cannot be used; `problems` lists each one as `path: message`."""

    def __init__(self, path: str | os.PathLike[str], problems: Iterable[str]) -> None:
        self.path = str(path)
        self.problems = tuple(dict.fromkeys(problems))
        count = len(self.problems)
        lines = "".join(f"\n  {p}" for p in self.problems)
        super().__init__(f"{self.path}: {count} problem{'s' if count != 1 else ''}{lines}")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _http_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http(s) URL such as https://sync.example.com")
    return value.rstrip("/")


def _relative_to_config(value: Path | None, info: ValidationInfo) -> Path | None:
    base = (info.context or {}).get("base_dir")
    if value is None or value.is_absolute() or base is None:
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


class Topics(NamedTuple):
    hints: str
    changes: str
    writes: str
    dlq: str


class KafkaSettings(_Model):
    broker: str = Field(default="kafka://127.0.0.1:9092", min_length=1)
    topic_prefix: str = Field(default="orgsync", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$")
    partitions: int = Field(default=8, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1, le=16)

    @field_validator("broker")
    @classmethod
    def _scheme(cls, value: str) -> str:
        return value if "://" in value else f"kafka://{value}"


class IngressSettings(_Model):
    listen: str = "127.0.0.1:8080"
    public_url: str | None = None
    webhook_secret: SecretStr = Field(repr=False)
    admin_secret: SecretStr | None = Field(default=None, repr=False)
    max_body_bytes: int = Field(default=1 << 20, ge=1024, le=64 << 20)

    _url = field_validator("public_url")(_http_url)

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
    # None: the default file under the state directory (pipeline/orgs.py); False: memory only.
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
    def _cache(cls, value: Path | Literal[False] | None,
               info: ValidationInfo) -> Path | Literal[False] | None:
        return value if value is False else _relative_to_config(value, info)

    @field_validator("dc", "edition", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @property
    def concurrency(self) -> int:
        return self.max_concurrency or EDITION_CONCURRENCY[self.edition]


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

    @model_validator(mode="after")
    def _consistent(self) -> ModuleRoute:
        problems = [f"fields: {name} is listed twice" for name in _duplicates(self.fields or ())]
        problems += [f"rename: two fields renamed to {n}"
                     for n in _duplicates(self.rename.values())]
        if self.fields is not None:
            for key, mapping in (("rename", self.rename), ("values", self.values),
                                 ("lookups", self.lookups)):
                problems += [f"{key}: {name} is not in fields" for name in mapping
                             if name not in self.fields]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def target_field(self, source_field: str) -> str:
        return self.rename.get(source_field, source_field)


def _duplicates(names: Iterable[str]) -> list[str]:
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
    modules: dict[ApiName, ModuleRoute] = Field(min_length=1)

    @model_validator(mode="after")
    def _lookups_synced(self) -> Route:
        problems = [f"modules.{module}.lookups.{name}: {parent} is not a module of this route"
                    for module, mapping in self.modules.items()
                    for name, parent in mapping.lookups.items() if parent not in self.modules]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def name(self) -> str:
        return f"{self.source}->{self.target}"

    def target_module(self, source_module: str) -> str:
        return self.modules[source_module].target_module or source_module

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
    batch_size: int = Field(default=100, ge=1, le=100)
    max_attempts: int = Field(default=20, ge=1)
    backoff_initial_ms: int = Field(default=500, ge=1)
    backoff_max_ms: int = Field(default=60_000, ge=1)


class ProcessorSettings(_Model):
    parent_wait_seconds: float = Field(default=300.0, gt=0)


class WorkerSettings(_Model):
    # `orgsync run --role worker` serves /metrics here (the other roles serve it on the ingress).
    metrics_listen: str | None = None

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
    secrets_file: Path | None = None

    _secrets = field_validator("secrets_file")(_relative_to_config)

    @property
    def topics(self) -> Topics:
        prefix = self.kafka.topic_prefix
        return Topics(*(f"{prefix}.{name}" for name in Topics._fields))

    def routes_from(self, org: str) -> tuple[Route, ...]:
        return tuple(route for route in self.sync if route.source == org)

    def routes_into(self, org: str) -> tuple[Route, ...]:
        return tuple(route for route in self.sync if route.target == org)

    def synced_modules(self, org: str) -> frozenset[str]:
        """Modules of `org` that some route reads (what ingress, poller and channels watch)."""
        return frozenset(m for route in self.routes_from(org) for m in route.modules)


def load_settings(
    path: str | os.PathLike[str],
    environ: Mapping[str, str] = os.environ,
    secrets_file: str | os.PathLike[str] | None = None,
) -> Settings:
    """Read, resolve and validate the configuration; raise ConfigError listing every problem."""
    path = Path(path)
    raw = _read_config(path)
    base_dir = path.parent
    secrets = _secrets_for(raw, base_dir, secrets_file)
    env = _Variables(environ, secrets)
    resolved = _resolve(raw, (), env)
    problems = [*env.problems.values(), *_route_problems(resolved)]
    try:
        settings = Settings.model_validate(resolved, context={"base_dir": base_dir})
    except ValidationError as error:
        problems += [_describe(e) for e in error.errors(include_input=False, include_url=False)
                     if tuple(e["loc"]) not in env.problems or e["type"] == "extra_forbidden"]
    if problems:
        raise ConfigError(path, problems)
    return settings


# --- reading files -------------------------------------------------------------------------------


_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available


class _StrictLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """Safe YAML that rejects duplicate keys and reads only true/false as booleans (not yes/no)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(key, deep=True) for key, _ in node.value]
        for key in _duplicates(k for k in keys if isinstance(k, str)):
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", node.start_mark)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or error.__class__.__name__
        raise ConfigError(path, [f"cannot read the {what}: {reason}"]) from None


def _parse_yaml(path: Path, text: str) -> Any:
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, RecursionError, ValueError, OverflowError) as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        detail = getattr(error, "problem", None) or "invalid syntax"
        raise ConfigError(path, [f"not valid YAML/JSON{where}: {detail}"]) from None


def _read_config(path: Path) -> dict[str, Any]:
    raw = _parse_yaml(path, _read_text(path, "configuration file"))
    if not isinstance(raw, dict):
        raise ConfigError(path, ["the file must contain a mapping (kafka:, orgs:, sync: ...)"])
    return raw


def _secrets_for(
    raw: dict[str, Any], base_dir: Path, explicit: str | os.PathLike[str] | None
) -> dict[str, str]:
    configured = raw.get("secrets_file")
    if explicit is None and not isinstance(configured, str):
        return {}
    path = Path(explicit) if explicit is not None else base_dir / str(configured)
    return read_secrets_file(path)


def read_secrets_file(path: Path) -> dict[str, str]:
    """A YAML/JSON mapping or KEY=VALUE lines; refused unless only its owner can read it."""
    text = _read_text(path, "secrets file")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(path, [f"secrets file has mode {mode:04o}; it must be 0600 or stricter "
                                 f"(chmod 600 {path})"])
    lines = [ln for ln in map(str.strip, text.splitlines()) if ln and not ln.startswith("#")]
    if lines and all(_ENV_LINE.match(ln) for ln in lines):
        return dict(_env_line(ln) for ln in lines)
    data = _parse_yaml(path, text)
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(
            isinstance(v, str | int | float) and not isinstance(v, bool) for v in data.values()):
        raise ConfigError(path, ["secrets file must map NAME to a string value"])
    return {str(key): str(value) for key, value in data.items()}


_ENV_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def _env_line(line: str) -> tuple[str, str]:
    match = _ENV_LINE.match(line)
    assert match is not None
    value = match.group(2).strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return match.group(1), value


# --- ${VARIABLE} resolution ----------------------------------------------------------------------


class _Variables:
    def __init__(self, environ: Mapping[str, str], secrets: Mapping[str, str]) -> None:
        self._environ, self._secrets = environ, secrets
        # Problems found while resolving, by location, so validation does not repeat them.
        self.problems: dict[tuple[Any, ...], str] = {}

    def lookup(self, name: str) -> str | None:
        value = self._environ.get(name)
        return value if value is not None else self._secrets.get(name)

    def missing(self, name: str) -> str:
        where = "the environment or the secrets file" if self._secrets else "the environment"
        return f"variable {name} is not set in {where}"


def _is_secret(loc: tuple[Any, ...]) -> bool:
    return any(len(loc) == len(p) and all(q in ("*", part) for q, part in zip(p, loc, strict=True))
               for p in SECRET_PATHS)


def _resolve(node: Any, loc: tuple[Any, ...], env: _Variables) -> Any:
    if len(loc) > _MAX_DEPTH:
        env.problems[loc] = f"{_path(loc)}: nested too deeply"
        return None
    if isinstance(node, dict):
        return {key: _resolve(value, (*loc, key), env) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(value, (*loc, i), env) for i, value in enumerate(node)]
    if _is_secret(loc):
        return _resolve_secret(node, loc, env)
    if isinstance(node, str) and "${" in node:
        return _REF.sub(lambda m: _substitute(m.group(1), loc, env), node)
    return node


def _resolve_secret(node: Any, loc: tuple[Any, ...], env: _Variables) -> Any:
    match = _REF.fullmatch(node) if isinstance(node, str) else None
    if node is None:
        return None
    if match is None:
        env.problems[loc] = f"{_path(loc)}: must be a ${{VARIABLE}} reference, not a literal secret"
        return None
    return _substitute(match.group(1), loc, env)


def _substitute(name: str, loc: tuple[Any, ...], env: _Variables) -> str:
    value = env.lookup(name)
    if value is None:
        env.problems[loc] = f"{_path(loc)}: {env.missing(name)}"
        return ""
    if value == "":
        env.problems[loc] = f"{_path(loc)}: variable {name} is empty"
    return value


# --- cross-checks and messages -------------------------------------------------------------------


def _route_problems(raw: dict[str, Any]) -> list[str]:
    orgs = raw.get("orgs")
    defined = sorted(str(name) for name in orgs) if isinstance(orgs, dict) else []
    routes = raw.get("sync")
    problems = ["sync: at least one route is required"] if routes == [] else []
    seen: dict[tuple[str, str], int] = {}
    for i, route in enumerate(routes if isinstance(routes, list) else []):
        if not isinstance(route, dict):
            continue
        ends = {key: route.get(key) for key in ("source", "target")}
        for key, org in ends.items():
            if isinstance(org, str) and org not in defined:
                problems.append(f"sync[{i}].{key}: unknown org {org!r} "
                                f"(defined: {', '.join(defined) or 'none'})")
        pair = (str(ends["source"]), str(ends["target"]))
        if pair[0] == pair[1]:
            problems.append(f"sync[{i}].target: must differ from source")
        elif pair in seen:
            problems.append(f"sync[{i}]: duplicate route {pair[0]} -> {pair[1]} "
                            f"(first at sync[{seen[pair]}])")
        seen.setdefault(pair, i)
    return problems


def _path(loc: Iterable[Any]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "(top level)"


def _describe(error: Any) -> str:
    loc = tuple(error["loc"])
    kind, message = error["type"], str(error["msg"]).removeprefix("Value error, ")
    if loc and loc[-1] == "[key]":
        loc, message = loc[:-1], f"invalid name: {message}"
    if kind == "missing":
        message = "required"
    elif kind == "extra_forbidden":
        message = "unknown key"
    elif kind == "too_short" and (error.get("ctx") or {}).get("min_length") == 1:
        message = "must not be empty"
    return f"{_path(loc)}: {message}"

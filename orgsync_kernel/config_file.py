"""Reading the configuration file: YAML or JSON, the secrets file, `${VARIABLE}` references.

`load_settings(path, environ, secrets_file)` is the only entry point. It reads the file, resolves
`${VARIABLE}` references from the given environment mapping or a secrets file, validates the whole
tree against `settings.Settings` and raises one `ConfigError` that lists every problem by path.
The commands hand `os.environ` in; apart from `$XDG_STATE_HOME` (the default token-cache
directory, orgsync/orgs.py), nothing else in orgsync reads the environment.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .settings import Settings, duplicates

SECRET_PATHS: tuple[tuple[str, ...], ...] = (
    ("ingress", "webhook_secret"),
    ("ingress", "admin_secret"),
    ("kafka", "sasl_password"),
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


def load_settings(
    path: str | os.PathLike[str],
    environ: Mapping[str, str] = os.environ,
    secrets_file: str | os.PathLike[str] | None = None,
    routes_required: bool = True,
) -> Settings:
    """Read, resolve and validate the configuration; raise ConfigError listing every problem.
    `routes_required=False`: a configuration of orgs only (`orgsync init` writes the routes)."""
    path = Path(path)
    raw = _read_config(path)
    if not routes_required:
        raw["sync"] = raw.get("sync") or []
    base_dir = path.parent
    secrets = _secrets_for(raw, base_dir, secrets_file)
    env = _Variables(environ, secrets)
    resolved = _resolve(raw, (), env)
    problems = [*env.problems.values(), *_route_problems(resolved, routes_required)]
    try:
        settings = Settings.model_validate(resolved, context={"base_dir": base_dir})
    except ValidationError as error:
        problems += [
            _describe(e)
            for e in error.errors(include_input=False, include_url=False)
            if tuple(e["loc"]) not in env.problems or e["type"] == "extra_forbidden"
        ]
    if problems:
        raise ConfigError(path, problems)
    return settings


# --- reading files -------------------------------------------------------------------------------


_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available


class _StrictLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """Safe YAML that rejects duplicate keys and reads only true/false as booleans (not yes/no)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(key, deep=True) for key, _ in node.value]
        for key in duplicates(k for k in keys if isinstance(k, str)):
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", node.start_mark
            )
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


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
        raise ConfigError(
            path,
            [f"secrets file has mode {mode:04o}; it must be 0600 or stricter (chmod 600 {path})"],
        )
    lines = [ln for ln in map(str.strip, text.splitlines()) if ln and not ln.startswith("#")]
    if lines and all(_ENV_LINE.match(ln) for ln in lines):
        return dict(_env_line(ln) for ln in lines)
    data = _parse_yaml(path, text)
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(
        isinstance(v, str | int | float) and not isinstance(v, bool) for v in data.values()
    ):
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
    return any(
        len(loc) == len(p) and all(q in ("*", part) for q, part in zip(p, loc, strict=True))
        for p in SECRET_PATHS
    )


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


def _route_problems(raw: dict[str, Any], required: bool = True) -> list[str]:
    orgs = raw.get("orgs")
    defined = sorted(str(name) for name in orgs) if isinstance(orgs, dict) else []
    routes = raw.get("sync")
    problems = ["sync: at least one route is required"] if routes == [] and required else []
    seen: dict[tuple[str, str], int] = {}
    for i, route in enumerate(routes if isinstance(routes, list) else []):
        if not isinstance(route, dict):
            continue
        ends = {key: route.get(key) for key in ("source", "target")}
        for key, org in ends.items():
            if isinstance(org, str) and org not in defined:
                problems.append(
                    f"sync[{i}].{key}: unknown org {org!r} "
                    f"(defined: {', '.join(defined) or 'none'})"
                )
        pair = (str(ends["source"]), str(ends["target"]))
        if pair[0] == pair[1]:
            problems.append(f"sync[{i}].target: must differ from source")
        elif pair in seen:
            problems.append(
                f"sync[{i}]: duplicate route {pair[0]} -> {pair[1]} (first at sync[{seen[pair]}])"
            )
        seen.setdefault(pair, i)
    return problems + _conflict_problems(routes if isinstance(routes, list) else [], seen)


_KEEPS_OWN = {"source_wins", "target_wins"}


def _conflict_problems(routes: list[Any], index: dict[tuple[str, str], int]) -> list[str]:
    """Both directions of a two-way pair must settle a conflict alike: `source_wins` on both
    routes (or `target_wins` on both) would leave each org its own value for good."""
    problems: list[str] = []
    for (source, target), i in index.items():
        j = index.get((target, source))
        if j is None or j < i:
            continue
        for module, there, here in _shared_modules(routes[i], routes[j]):
            if here == there and here in _KEEPS_OWN:
                problems.append(
                    f"sync[{j}].modules.{module}.conflict: {here} on both {source} -> {target} "
                    f"(sync[{i}]) and {target} -> {source} would keep each org's own value; "
                    "set it on one route (the other follows) or use opposite policies"
                )
    return problems


def _shared_modules(forward: Any, back: Any) -> list[tuple[str, Any, Any]]:
    """(module of `back`, conflict of `forward`, conflict of `back`) for each module both
    routes sync (a renamed target module counts as the same)."""

    def modules(route: Any) -> dict[str, Any]:
        found = route.get("modules") if isinstance(route, dict) else None
        return found if isinstance(found, dict) else {}

    forward_into = {
        (m.get("target_module") if isinstance(m, dict) else None) or name: m
        for name, m in modules(forward).items()
    }
    shared = []
    for name, mapping in modules(back).items():
        if name in forward_into and isinstance(mapping, dict):
            other = forward_into[name]
            there = other.get("conflict", "latest") if isinstance(other, dict) else "latest"
            shared.append((name, there, mapping.get("conflict", "latest")))
    return shared


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

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from orgsync.orgs import org_connection, refusals_dir, token_cache_path
from orgsync_kernel.config_file import ConfigError, load_settings
from orgsync_kernel.settings import Settings, parse_listen
from orgsync_kernel.topics import Topics
from tests.support.config import ENV, EXAMPLE, SECRET_VALUES, example_dict

WriteConfig = Callable[..., Path]


def problems_of(path: Path, environ: dict[str, str] | None = None, **kwargs: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, ENV if environ is None else environ, **kwargs)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    for secret in SECRET_VALUES:
        assert secret not in message
    return list(caught.value.problems)


# --- the example -------------------------------------------------------------------------------


def test_example_config_loads_with_the_documented_shape() -> None:
    s = load_settings(EXAMPLE, ENV)
    assert s.kafka.broker == "kafka://127.0.0.1:9092"
    assert s.topics == Topics("orgsync")
    assert (s.topics.hints, s.topics.changes, s.topics.writes("global_us"), s.topics.dlq) == (
        "orgsync.hints",
        "orgsync.changes",
        "orgsync.writes.global_us",
        "orgsync.dlq",
    )
    assert (s.ingress.host, s.ingress.port) == ("127.0.0.1", 8080)
    assert s.ingress.public_url == "https://sync.example.com"
    assert s.ingress.webhook_secret.get_secret_value() == ENV["ORGSYNC_WEBHOOK_SECRET"]
    assert s.orgs["regional_in"].dc == "in"
    assert s.orgs["global_us"].api_url == "http://127.0.0.1:8700"
    assert s.orgs["regional_in"].client_id == ENV["IN_CLIENT_ID"]
    assert s.orgs["regional_in"].refresh_token.get_secret_value() == ENV["IN_REFRESH_TOKEN"]
    assert [r.name for r in s.routes_from("regional_in")] == ["regional_in->global_us"]
    assert [r.name for r in s.routes_into("regional_in")] == ["global_us->regional_in"]
    assert s.synced_modules("regional_in") == {"Accounts", "Contacts", "Leads"}
    assert s.synced_modules("global_us") == {"Leads"}
    leads = s.sync[0].modules["Leads"]
    assert leads.target_field("Phone") == "Mobile" and leads.target_field("Email") == "Email"
    assert leads.values == {"Lead_Source": {"Web Form": "Website"}}
    assert leads.owner is not None and leads.owner.default == "sales@global.example"
    assert leads.delete is True and s.sync[0].modules["Accounts"].delete is False
    assert s.sync[0].trigger == ()


def concurrency(s: Settings, org: str) -> int:
    """The concurrency the org's client gets from its settings (edition or max_concurrency)."""
    return org_connection(org, s.orgs[org]).concurrency


def test_defaults() -> None:
    s = load_settings(EXAMPLE, ENV)
    assert s.poller.interval_seconds == 60
    assert s.sink.linger_ms == 250 and s.sink.batch_size == 100
    assert s.fetch.linger_ms == 200 and s.fetch.batch_size == 100
    assert s.ingress.max_body_bytes == 1 << 20
    assert s.ingress.admin_secret is None
    assert concurrency(s, "regional_in") == 20
    assert s.processor.parent_wait_seconds > 0


def test_secrets_never_show_in_repr_str_or_dump() -> None:
    s = load_settings(EXAMPLE, ENV)
    for text in (repr(s), str(s), s.model_dump_json(), repr(s.orgs), str(s.model_dump())):
        for secret in SECRET_VALUES:
            assert secret not in text
    assert isinstance(s.orgs["global_us"].client_secret, SecretStr)


def test_settings_are_frozen() -> None:
    s = load_settings(EXAMPLE, ENV)
    with pytest.raises(ValidationError):
        s.poller.interval_seconds = 1  # type: ignore[misc]
    with pytest.raises(ValidationError):
        s.kafka = s.kafka  # type: ignore[misc]


def test_json_with_any_file_name_is_accepted(write_config: WriteConfig) -> None:
    path = write_config(json.dumps(example_dict()), name="orgsync.conf")
    assert load_settings(path, ENV) == load_settings(EXAMPLE, ENV)


def test_only_the_given_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    assert "US_CLIENT_SECRET" in os.environ
    problems = problems_of(EXAMPLE, environ={})
    assert len(problems) == len(ENV)


# --- every problem, by path --------------------------------------------------------------------


def mutated(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = example_dict()
    change(data)
    return data


def route(data: dict[str, Any], i: int = 0) -> dict[str, Any]:
    return data["sync"][i]  # type: ignore[no-any-return]


INVALID = [
    (
        lambda d: route(d, 1)["modules"]["Leads"].pop("match_field"),
        "sync[1].modules.Leads.match_field: required",
    ),
    (lambda d: d["orgs"]["regional_in"].update(dc="mars"), "orgs.regional_in.dc: Input should be"),
    (lambda d: d["orgs"]["regional_in"].update(edition="gold"), "orgs.regional_in.edition:"),
    (
        lambda d: d["orgs"]["global_us"].update(clientsecret="${X}"),
        "orgs.global_us.clientsecret: unknown key",
    ),
    (lambda d: d["kafka"].update(partitons=3), "kafka.partitons: unknown key"),
    (lambda d: d.update(pollr={}), "pollr: unknown key"),
    (
        lambda d: route(d)["modules"]["Leads"].update(feilds=["Email"]),
        "sync[0].modules.Leads.feilds: unknown key",
    ),
    (
        lambda d: route(d).update(source="nowhere"),
        "sync[0].source: unknown org 'nowhere' (defined: global_us, regional_in)",
    ),
    (lambda d: route(d).update(target="regional_in"), "sync[0].target: must differ from source"),
    (lambda d: d["sync"].append(route(d)), "sync[2]: duplicate route regional_in -> global_us"),
    (
        lambda d: [route(d, i)["modules"]["Leads"].update(conflict="source_wins") for i in (0, 1)],
        "sync[1].modules.Leads.conflict: source_wins on both regional_in -> global_us (sync[0])",
    ),
    (lambda d: d.update(sync=[]), "sync: at least one route is required"),
    (lambda d: d.pop("sync"), "sync: required"),
    (lambda d: d.update(orgs={}), "orgs: must not be empty"),
    (lambda d: route(d).update(modules={}), "sync[0].modules: must not be empty"),
    (lambda d: route(d).update(trigger=["everything"]), "sync[0].trigger[0]:"),
    (
        lambda d: d["orgs"].update({"bad/name": d["orgs"]["global_us"]}),
        "orgs.bad/name: invalid name: 'bad/name' is not a valid org name",
    ),
    (
        lambda d: route(d)["modules"].update({"Bad-Module": {"match_field": "Id"}}),
        "sync[0].modules.Bad-Module: invalid name:",
    ),
    (
        lambda d: route(d)["modules"]["Leads"]["owner"].update(default="nobody"),
        "sync[0].modules.Leads.owner.default: 'nobody' is not an e-mail address",
    ),
    (
        lambda d: route(d)["modules"]["Leads"]["owner"].update(match="name"),
        "sync[0].modules.Leads.owner.match:",
    ),
    (
        lambda d: route(d)["modules"]["Leads"]["rename"].update(Fax="Phone"),
        "sync[0].modules.Leads: rename: Fax is not in fields",
    ),
    (
        lambda d: route(d)["modules"]["Leads"]["values"].update(Rating={"A": "B"}),
        "values: Rating is not in fields",
    ),
    (
        lambda d: route(d)["modules"]["Leads"]["fields"].append("Email"),
        "fields: Email is listed twice",
    ),
    (
        lambda d: route(d)["modules"]["Leads"]["rename"].update(Company="Mobile"),
        "rename: two fields renamed to Mobile",
    ),
    (
        lambda d: route(d)["modules"]["Contacts"].update(lookups={"Account_Name": "Vendors"}),
        "modules.Contacts.lookups.Account_Name: Vendors is not a module of this route",
    ),
    (lambda d: d["ingress"].update(listen="8080"), "ingress.listen: must be host:port"),
    (
        lambda d: d["ingress"].update(listen="0.0.0.0:8080"),
        "ingress: admin_secret is required when listen is not a loopback address",
    ),
    (
        lambda d: d["ingress"].update(public_url="sync.example.com"),
        "ingress.public_url: must be an http(s) URL",
    ),
    (lambda d: d["orgs"]["global_us"].update(api_url="ftp://x"), "orgs.global_us.api_url:"),
    (lambda d: d["orgs"]["global_us"].update(max_concurrency=0), "orgs.global_us.max_concurrency:"),
    (
        lambda d: (
            d["sink"].update(batch_size=101) if "sink" in d else d.update(sink={"batch_size": 101})
        ),
        "sink.batch_size:",
    ),
    (lambda d: d.update(fetch={"linger_ms": -1}), "fetch.linger_ms:"),
    (lambda d: d.update(poller={"interval_seconds": 0}), "poller.interval_seconds:"),
    (lambda d: d["kafka"].update(topic_prefix="has space"), "kafka.topic_prefix:"),
    (
        lambda d: d.update(worker={"metrics_listen": "9464"}),
        "worker.metrics_listen: must be host:port",
    ),
    (lambda d: d["orgs"]["global_us"].update(token_cache=True), "orgs.global_us.token_cache:"),
    (
        lambda d: d.update(exchange_rates={"inr/usd": 0.012}),
        "exchange_rates.inr/usd: invalid name: 'inr/usd' is not a currency pair such as INR/USD",
    ),
    (
        lambda d: d.update(exchange_rates={"INR/INR": 1}),
        "exchange_rates.INR/INR: invalid name:",
    ),
    (
        lambda d: d.update(exchange_rates={"INR/USD": 0}),
        "exchange_rates.INR/USD: Input should be greater than 0",
    ),
    (
        lambda d: d.update(exchange_rates={"INR/USD": -0.012}),
        "exchange_rates.INR/USD: Input should be greater than 0",
    ),
]


@pytest.mark.parametrize(("change", "expected"), INVALID)
def test_each_problem_is_reported_by_path(
    write_config: WriteConfig, change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    problems = problems_of(write_config(mutated(change)))
    assert any(p.startswith(expected) or expected in p for p in problems), problems


def test_all_problems_are_listed_together(write_config: WriteConfig) -> None:
    def three_problems(d: dict[str, Any]) -> None:
        route(d, 1)["modules"]["Leads"].pop("match_field")
        d["orgs"]["global_us"]["dc"] = "xx"
        route(d).update(source="nowhere")
        d["ingress"]["webhook_secret"] = "a literal"

    problems = problems_of(write_config(mutated(three_problems)))
    assert len(problems) == 4, problems


@pytest.mark.parametrize("value", ["IN", "In", "in"])
def test_dc_and_edition_are_case_insensitive(write_config: WriteConfig, value: str) -> None:
    data = mutated(lambda d: d["orgs"]["regional_in"].update(dc=value, edition="Enterprise"))
    org = load_settings(write_config(data), ENV).orgs["regional_in"]
    assert (org.dc, org.edition) == ("in", "enterprise")


@pytest.mark.parametrize(
    ("edition", "expected"),
    [("free", 5), ("standard", 10), ("professional", 15), ("enterprise", 20), ("ultimate", 25)],
)
def test_concurrency_follows_edition_unless_set(
    write_config: WriteConfig, edition: str, expected: int
) -> None:
    data = mutated(lambda d: d["orgs"]["regional_in"].update(edition=edition))
    data["orgs"]["global_us"]["max_concurrency"] = 3
    s = load_settings(write_config(data), ENV)
    assert concurrency(s, "regional_in") == expected
    assert concurrency(s, "global_us") == 3


@pytest.mark.parametrize(
    ("listen", "host", "port"),
    [("127.0.0.1:8080", "127.0.0.1", 8080), ("[::1]:0", "::1", 0), ("localhost:9", "localhost", 9)],
)
def test_listen_addresses(listen: str, host: str, port: int) -> None:
    assert parse_listen(listen) == (host, port)


def test_public_listen_with_admin_secret_is_fine(write_config: WriteConfig) -> None:
    data = mutated(lambda d: d["ingress"].update(listen="0.0.0.0:8080", admin_secret="${ADMIN}"))
    s = load_settings(write_config(data), {**ENV, "ADMIN": "admin-secret-0123456789"})
    assert s.ingress.admin_secret is not None


def test_yes_and_no_stay_strings(write_config: WriteConfig) -> None:
    text = EXAMPLE.read_text().replace(
        '{Lead_Source: {"Web Form": "Website"}}', "{Lead_Source: {Yes: No, on: off}}"
    )
    s = load_settings(write_config(text), ENV)
    assert s.sync[0].modules["Leads"].values == {"Lead_Source": {"Yes": "No", "on": "off"}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kafka: {broker: x\n", "not valid YAML/JSON at line"),
        ("orgs: {}\norgs: {}\n", "duplicate key 'orgs'"),
        ("- a\n- b\n", "the file must contain a mapping"),
        ("", "the file must contain a mapping"),
        ("a: &x [*x]\n", ""),
    ],
)
def test_unreadable_files(write_config: WriteConfig, text: str, expected: str) -> None:
    assert any(expected in p for p in problems_of(write_config(text)))


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    assert "cannot read" in problems_of(tmp_path / "absent.yaml")[0]


# --- secrets -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        ("ingress", "webhook_secret"),
        ("orgs", "regional_in", "client_secret"),
        ("orgs", "global_us", "refresh_token"),
        ("ingress", "admin_secret"),
    ],
)
@pytest.mark.parametrize("literal", ["hunter2-is-my-password", "prefix-${X}", 12345])
def test_literal_secrets_are_refused(
    write_config: WriteConfig, path: tuple[str, ...], literal: Any
) -> None:
    data = example_dict()
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = literal
    problems = problems_of(write_config(data), {**ENV, "X": "y"})
    dotted = ".".join(path)
    assert problems == [f"{dotted}: must be a ${{VARIABLE}} reference, not a literal secret"]
    assert str(literal) not in "".join(problems)


def test_missing_variable_is_named_and_no_value_is_shown(write_config: WriteConfig) -> None:
    env = {k: v for k, v in ENV.items() if k != "US_REFRESH_TOKEN"}
    assert problems_of(EXAMPLE, env) == [
        "orgs.global_us.refresh_token: variable US_REFRESH_TOKEN is not set in the environment"
    ]


def test_empty_variable_is_an_error() -> None:
    problems = problems_of(EXAMPLE, {**ENV, "IN_CLIENT_SECRET": ""})
    assert problems == ["orgs.regional_in.client_secret: variable IN_CLIENT_SECRET is empty"]


def test_short_shared_secret_is_an_error() -> None:
    problems = problems_of(EXAMPLE, {**ENV, "ORGSYNC_WEBHOOK_SECRET": "short"})
    assert problems == ["ingress.webhook_secret: must be at least 16 characters long"]


def test_variables_are_interpolated_in_plain_strings(write_config: WriteConfig) -> None:
    data = mutated(lambda d: d["orgs"]["global_us"].update(api_url="http://${EMU_HOST}:8700"))
    s = load_settings(write_config(data), {**ENV, "EMU_HOST": "10.0.0.7"})
    assert s.orgs["global_us"].api_url == "http://10.0.0.7:8700"


def secrets_text(fmt: str) -> str:
    if fmt == "env":
        items = enumerate(ENV.items())
        lines = [f"export {k}={v}" if i % 2 else f"{k}='{v}'" for i, (k, v) in items]
        return "# secrets\n" + "\n".join(lines) + "\n"
    return json.dumps(ENV) if fmt == "json" else yaml.safe_dump(ENV)


@pytest.mark.parametrize("fmt", ["env", "json", "yaml"])
def test_secrets_file_formats(tmp_path: Path, fmt: str) -> None:
    secrets = tmp_path / "secrets"
    secrets.write_text(secrets_text(fmt))
    secrets.chmod(0o600)
    s = load_settings(EXAMPLE, {}, secrets_file=secrets)
    assert s.orgs["global_us"].client_secret.get_secret_value() == ENV["US_CLIENT_SECRET"]


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_secrets_file_must_be_private(tmp_path: Path, mode: int) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text(secrets_text("env"))
    secrets.chmod(mode)
    with pytest.raises(ConfigError) as caught:
        load_settings(EXAMPLE, {}, secrets_file=secrets)
    assert caught.value.path == str(secrets)
    assert f"mode {mode:04o}" in str(caught.value) and "0600" in str(caught.value)


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_private_modes_are_accepted(tmp_path: Path, mode: int) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text(secrets_text("env"))
    secrets.chmod(mode)
    assert load_settings(EXAMPLE, {}, secrets_file=secrets).orgs


def test_environment_wins_over_secrets_file(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(yaml.safe_dump({**ENV, "US_CLIENT_SECRET": "from-the-file"}))
    secrets.chmod(0o600)
    s = load_settings(EXAMPLE, {"US_CLIENT_SECRET": "from-the-env"}, secrets_file=secrets)
    assert s.orgs["global_us"].client_secret.get_secret_value() == "from-the-env"


def test_secrets_file_and_token_cache_from_config_are_relative_to_it(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    (tmp_path / "secrets.env").write_text(secrets_text("env"))
    (tmp_path / "secrets.env").chmod(0o600)
    data = mutated(lambda d: d.update(secrets_file="secrets.env"))
    data["orgs"]["global_us"]["token_cache"] = "state/us.token"
    s = load_settings(write_config(data), {})
    assert s.secrets_file == tmp_path / "secrets.env"
    assert s.orgs["global_us"].token_cache == tmp_path / "state" / "us.token"


def test_token_cache_defaults_to_a_private_file_per_org_and_can_be_turned_off(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    data = mutated(lambda d: d["orgs"]["regional_in"].update(token_cache=False))
    s = load_settings(write_config(data), ENV)
    default = token_cache_path("global_us", s.orgs["global_us"])
    assert default is not None and default.parent == tmp_path / "state" / "orgsync" / "tokens"
    assert default.name.startswith("global_us-")
    assert not any(secret in str(default) for secret in SECRET_VALUES)
    assert token_cache_path("regional_in", s.orgs["regional_in"]) is None
    other = s.orgs["global_us"].model_copy(update={"refresh_token": SecretStr("another")})
    assert token_cache_path("global_us", other) != default


def test_refused_hints_default_to_a_directory_per_prefix_and_port_and_can_be_turned_off(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    s = load_settings(write_config(mutated(lambda d: None)), ENV)
    port = s.ingress.listen.rpartition(":")[2]
    expected = f"{s.kafka.topic_prefix}-{port}"
    assert refusals_dir(s) == tmp_path / "state" / "orgsync" / "refusals" / expected
    data = mutated(lambda d: d["ingress"].update(refusals_dir="held"))
    assert refusals_dir(load_settings(write_config(data), ENV)) == tmp_path / "held"
    data = mutated(lambda d: d["ingress"].update(refusals_dir=False))
    assert refusals_dir(load_settings(write_config(data), ENV)) is None


def test_missing_variable_mentions_the_secrets_file(tmp_path: Path) -> None:
    secrets = tmp_path / "s.env"
    secrets.write_text("OTHER=1\n")
    secrets.chmod(0o600)
    problems = problems_of(EXAMPLE, {}, secrets_file=secrets)
    assert "variable IN_CLIENT_ID is not set in the environment or the secrets file" in problems[1]


@pytest.mark.parametrize("text", ["- a\n- b\n", "A: {nested: 1}\n", "A: [1]\n", "[oops\n"])
def test_bad_secrets_file_content(tmp_path: Path, text: str) -> None:
    secrets = tmp_path / "s.yaml"
    secrets.write_text(text)
    secrets.chmod(0o600)
    with pytest.raises(ConfigError) as caught:
        load_settings(EXAMPLE, {}, secrets_file=secrets)
    assert caught.value.path == str(secrets)


def test_missing_secrets_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the secrets file"):
        load_settings(EXAMPLE, ENV, secrets_file=tmp_path / "nope")


# --- the loader never fails in any other way ---------------------------------------------------

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["${X}", "${", "us", "Leads", "Email", "a->b", "0.0.0.0:1"])
)
KEYS = st.sampled_from(
    [
        "kafka",
        "ingress",
        "orgs",
        "sync",
        "source",
        "target",
        "modules",
        "Leads",
        "match_field",
        "dc",
        "fields",
        "owner",
        "values",
        "a",
        "b",
    ]
)
TREES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=30,
)
FUZZ = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(text=st.text(max_size=200))
def test_random_text_only_ever_raises_config_error(write_config: WriteConfig, text: str) -> None:
    try:
        load_settings(write_config(text), {"X": "y"})
    except ConfigError:
        pass


@FUZZ
@given(tree=TREES)
def test_random_structures_only_ever_raise_config_error(
    write_config: WriteConfig, tree: Any
) -> None:
    with pytest.raises(ConfigError):
        load_settings(write_config(json.dumps(tree)), {"X": "y"})


@FUZZ
@given(
    path=st.lists(
        st.sampled_from(
            [
                "kafka",
                "ingress",
                "orgs",
                "sync",
                0,
                1,
                "global_us",
                "modules",
                "Leads",
                "owner",
                "fields",
                "dc",
            ]
        ),
        max_size=5,
    ),
    value=TREES,
)
def test_random_edits_of_the_example_only_raise_config_error(
    write_config: WriteConfig, path: list[Any], value: Any
) -> None:
    data: Any = example_dict()
    node = data
    for key in path[:-1]:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
    if isinstance(node, dict | list) and path:
        try:
            node[path[-1]] = value
        except (IndexError, TypeError):
            pass
    try:
        assert isinstance(load_settings(write_config(json.dumps(data)), ENV), Settings)
    except ConfigError as error:
        assert error.problems


def test_a_directory_as_secrets_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir(mode=0o700)
    with pytest.raises(ConfigError, match="cannot read the secrets file"):
        load_settings(EXAMPLE, ENV, secrets_file=tmp_path / "dir")

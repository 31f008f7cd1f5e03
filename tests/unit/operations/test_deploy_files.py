"""docker-compose.yml cannot run here (no Docker engine), so check that it is coherent."""

from __future__ import annotations

from pathlib import Path

import orjson
import yaml

ROOT = Path(__file__).parents[3]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def host_paths(service: dict[str, object]) -> list[str]:
    volumes = service.get("volumes", [])
    assert isinstance(volumes, list)
    return [v.split(":")[0] for v in volumes if isinstance(v, str) and v.startswith("./")]


def test_compose_has_the_services_of_the_design() -> None:
    assert set(COMPOSE["services"]) >= {"kafka", "orgsync", "prometheus", "grafana"}
    assert COMPOSE["services"]["kafka"]["image"].startswith("apache/kafka:")
    assert COMPOSE["services"]["orgsync"]["build"] == "."
    assert (ROOT / "Dockerfile").is_file()


def test_compose_mounts_only_files_that_exist() -> None:
    for name, service in COMPOSE["services"].items():
        for path in host_paths(service):
            assert (ROOT / path).exists(), f"service {name} mounts missing {path}"


def test_compose_ports_are_host_container_pairs() -> None:
    for name, service in COMPOSE["services"].items():
        for mapping in service.get("ports", []):
            host, container = mapping.split(":")
            assert host.isdigit() and container.isdigit(), f"{name}: {mapping}"


def test_prometheus_scrapes_orgsync_and_grafana_loads_dashboards() -> None:
    prometheus = yaml.safe_load((ROOT / "deploy/prometheus.yml").read_text())
    targets = [
        t
        for job in prometheus["scrape_configs"]
        for sc in job["static_configs"]
        for t in sc["targets"]
    ]
    assert "orgsync:8080" in targets
    dashboards = list((ROOT / "deploy/grafana/dashboards").glob("*.json"))
    assert dashboards
    for dashboard in dashboards:
        panels = orjson.loads(dashboard.read_bytes())["panels"]
        assert all(target["expr"] for panel in panels for target in panel["targets"])


def test_compose_config_is_valid_for_orgsync() -> None:
    from orgsync_kernel.config_file import load_settings

    environ = {
        name: "x" * 24
        for name in (
            "ORGSYNC_WEBHOOK_SECRET",
            "ORGSYNC_ADMIN_SECRET",
            "IN_CLIENT_ID",
            "IN_CLIENT_SECRET",
            "IN_REFRESH_TOKEN",
            "US_CLIENT_ID",
            "US_CLIENT_SECRET",
            "US_REFRESH_TOKEN",
        )
    }
    environ["ORGSYNC_PUBLIC_URL"] = "https://sync.example.com"
    settings = load_settings(ROOT / "deploy/orgsync.compose.yaml", environ=environ)
    assert settings.ingress.port == 8080
    assert settings.kafka.broker == "kafka://kafka:9092"

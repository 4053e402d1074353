"""Prometheus and Grafana in docker-compose.yml, checked without a Docker engine.

What would make the observability services lie or fail that no test here can run: a service serving
/metrics that Prometheus does not scrape (its figures silently missing), a target naming a service or
port that does not exist, an offline override scraping other ports than its services use, a dashboard
panel querying a metric the code does not define (an empty panel), and a Grafana that a plain
`docker compose up` would try to pull on a machine without a registry.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.compose.test_compose_offline_file import _ResetLoader

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "infra/prometheus/prometheus.yml"
PROMETHEUS_OFFLINE = ROOT / "tests/compose/offline/prometheus.offline.yml"
GRAFANA = ROOT / "infra/grafana"
DOC = ROOT / "docs/metrics.md"
PORT_VARS = ("FRAUDSTREAM_MONITOR_PORT", "FRAUDSTREAM_ENDPOINT_PORT")
"""Servers whose /metrics shares the port of their HTTP API; the others have a ``*_METRICS_PORT``."""
NOT_IN_COMPOSE = {"supervisor", "producer"}
"""Documented services that are no compose service: restart policies replace the supervisor, and the
producer / replay run as `docker compose run tools ...` one-offs (no long-lived target)."""
SUFFIXES = {"_total": "counter", "_bucket": "histogram", "_sum": "histogram", "_count": "histogram"}


def _services(path: Path, loader: type = yaml.SafeLoader) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=loader)["services"]


def _env(service: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in (service.get("environment") or {}).items()}


def metrics_ports(services: dict[str, Any]) -> dict[str, int]:
    """Service name → the port its /metrics listens on, for every service that serves one."""
    found = {}
    for name, service in services.items():
        for key, value in _env(service).items():
            if (key.endswith("_METRICS_PORT") or key in PORT_VARS) and value:
                found[name] = int(value)
    return found


def scrape_targets(path: Path) -> dict[str, list[str]]:
    return {
        job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
        for job in yaml.safe_load(path.read_text())["scrape_configs"]
    }


def documented() -> dict[str, tuple[str, str]]:
    """Metric name → (service, type) from docs/metrics.md's table."""
    rows = re.findall(r"^\| (\w+) \| `(fraudstream_\w+)` \| (\w+) \|", DOC.read_text(), re.MULTILINE)
    return {name: (service, kind) for service, name, kind in rows}


def dashboard_exprs() -> list[str]:
    dashboard = json.loads((GRAFANA / "dashboards/fraudstream.json").read_text())
    return [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]


def family(sample: str, kinds: dict[str, tuple[str, str]]) -> tuple[str, str | None]:
    """The documented family of a sample name, and the type its suffix requires (None: no suffix)."""
    if sample in kinds:
        return sample, None
    for suffix, kind in SUFFIXES.items():
        if sample.endswith(suffix):
            return sample.removesuffix(suffix), kind
    return sample, None


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return _services(ROOT / "docker-compose.yml")


def test_every_service_serving_metrics_is_scraped_at_its_port(services: dict[str, Any]) -> None:
    expected = {name: [f"{name}:{port}"] for name, port in metrics_ports(services).items()}
    targets = scrape_targets(PROMETHEUS)
    assert {"monitor", "clock", "agg-writer", "fraud-scorer", "lake-archiver", "endpoint"} <= set(expected)
    assert {job: t for job, t in targets.items() if job != "prometheus"} == expected
    assert targets["prometheus"] == ["localhost:9090"]


def test_every_long_running_fraudstream_service_serves_metrics(services: dict[str, Any]) -> None:
    serving = set(metrics_ports(services))
    for name, service in services.items():
        command = service.get("command") or []
        if service.get("restart") == "unless-stopped" and command[:1] == ["fraudstream"]:
            assert name in serving, f"{name} runs for good but serves no /metrics for Prometheus"


def test_offline_scrape_config_follows_the_offline_ports(services: dict[str, Any]) -> None:
    offline = _services(ROOT / "tests/compose/offline/compose.offline.yml", _ResetLoader)
    ports = metrics_ports(offline)
    assert set(ports) == set(metrics_ports(services))
    expected = {name: [f"127.0.0.1:{port}"] for name, port in ports.items()}
    listen = next(a for a in offline["prometheus"]["command"] if a.startswith("--web.listen-address="))
    expected["prometheus"] = [listen.split("=", 1)[1]]
    assert scrape_targets(PROMETHEUS_OFFLINE) == expected
    mounts = offline["prometheus"]["volumes"]
    assert f"./{PROMETHEUS_OFFLINE.relative_to(ROOT)}:/etc/prometheus/prometheus.yml:ro" in mounts


def test_prometheus_is_built_locally_and_grafana_is_behind_a_profile(services: dict[str, Any]) -> None:
    prometheus = services["prometheus"]
    dockerfile = (ROOT / prometheus["build"]["dockerfile"]).read_text()
    assert re.search(r"apt-get install .*prometheus=", dockerfile), "Prometheus from Debian's archive, not a registry"
    assert "./infra/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"]
    grafana = services["grafana"]
    assert grafana["profiles"] == ["grafana"], "a plain `docker compose up` must not pull Grafana"
    assert re.fullmatch(r"grafana/grafana-oss:\d+\.\d+\.\d+", grafana["image"]), "pin Grafana's version"
    pulled = [n for n, s in services.items() if "build" not in s and not s.get("profiles")]
    assert "grafana" not in pulled


def test_grafana_provisioning_points_at_prometheus_and_the_dashboards(services: dict[str, Any]) -> None:
    mounts = dict(v.rsplit(":", 2)[:2] for v in services["grafana"]["volumes"] if v.startswith("./"))
    assert mounts["./infra/grafana/provisioning"] == "/etc/grafana/provisioning"
    source = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())["datasources"][0]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/fraudstream.yml").read_text())["providers"][0]
    assert mounts["./infra/grafana/dashboards"] == provider["options"]["path"]
    dashboard = json.loads((GRAFANA / "dashboards/fraudstream.json").read_text())
    uids = {t["datasource"]["uid"] for p in dashboard["panels"] for t in p.get("targets", [])}
    assert uids == {source["uid"]}


def test_dashboard_metric_names_are_the_documented_ones() -> None:
    kinds = documented()
    used = set()
    for expr in dashboard_exprs():
        for sample in re.findall(r"\bfraudstream_\w+", expr):
            name, required = family(sample, kinds)
            assert name in kinds, f"{sample} in the Grafana dashboard is not in docs/metrics.md"
            assert required in (None, kinds[name][1]), f"{sample}: {name} is a {kinds[name][1]}"
            if kinds[name][1] == "counter":
                assert sample.endswith("_total"), f"{sample}: a counter is exported as {name}_total"
            used.add(name)
    services_shown = {kinds[name][0] for name in used}
    assert services_shown == {service for service, _ in kinds.values()} - NOT_IN_COMPOSE

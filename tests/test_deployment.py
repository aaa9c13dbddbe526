"""The deployment files describe the topology the multi-node tests run without Docker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_compose_has_postgres_redis_two_nodes_and_a_load_balancer() -> None:
    services = _compose()["services"]
    nodes = [
        name
        for name, s in services.items()
        if s.get("build") == "." or "<<" in s or name.startswith("node")
    ]
    assert {"postgres", "redis", "lb"} <= set(services) and len(nodes) >= 2
    for name in nodes:
        env = services[name]["environment"]
        assert (
            env["DATABASE_URL"].startswith("postgresql://") and "@postgres:" in env["DATABASE_URL"]
        )
        assert env["REDIS_URL"] == "redis://redis:6379/0"


def test_every_service_has_a_health_check_and_the_lb_waits_for_healthy_nodes() -> None:
    services = _compose()["services"]
    for name in ("postgres", "redis", "node1"):
        assert "healthcheck" in services[name], name
    depends = services["lb"]["depends_on"]
    assert all(depends[n]["condition"] == "service_healthy" for n in ("node1", "node2"))


def test_postgres_keeps_its_data_in_a_volume_and_secrets_come_from_the_environment() -> None:
    compose = _compose()
    assert "pgdata:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]
    assert "pgdata" in compose["volumes"]
    text = (ROOT / "docker-compose.yml").read_text()
    assert "${POSTGRES_PASSWORD:?" in text  # refuses to start without the secret


def test_the_load_balancer_passes_websocket_upgrades_to_every_node() -> None:
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
    assert "proxy_set_header Connection $connection_upgrade;" in conf
    assert "server node1:8000" in conf and "server node2:8000" in conf
    assert "proxy_request_buffering off;" in conf  # bid uploads stream through


def test_the_image_runs_the_node_as_a_non_root_user_with_a_health_check() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "USER evalroom" in dockerfile and "HEALTHCHECK" in dockerfile
    assert 'CMD ["evalroom", "serve"' in dockerfile


def test_the_load_balancer_keeps_the_nodes_metrics_from_participants() -> None:
    # Connection and command counts move with the bidders, whose number is secret.
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    block = conf.split("location = /metrics {", 1)[1].split("}", 1)[0]
    assert "return 404;" in block

"""envoy_config's two additions for pods: the readiness listener (envoy_ready) and ztgate listening on
every interface while Envoy dials it over loopback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from k8s_render import envoy_binary  # noqa: E402
from ztgate import envoy_config  # noqa: E402
from ztgate.config import load_settings  # noqa: E402


def _settings(tmp_path: Path, text: str):
    path = tmp_path / "ztgate.yaml"
    path.write_text(text)
    return load_settings(path, env={})


def _listeners(rendered: dict) -> dict[str, dict]:
    return {listener["name"]: listener for listener in rendered["static_resources"]["listeners"]}


def _extproc_address(rendered: dict) -> dict:
    (cluster,) = [c for c in rendered["static_resources"]["clusters"] if c["name"] == envoy_config.EXTPROC_CLUSTER]
    return cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]


def test_no_readiness_listener_by_default(tmp_path: Path) -> None:
    rendered = envoy_config.render(_settings(tmp_path, "{}"))
    assert list(_listeners(rendered)) == ["ztgate_ingress"]


def test_readiness_listener_answers_only_ready(tmp_path: Path) -> None:
    rendered = envoy_config.render(_settings(tmp_path, "envoy_ready: {host: 0.0.0.0, port: 9904}\n"))
    ready = _listeners(rendered)["ztgate_ready"]
    assert ready["address"]["socket_address"] == {"address": "0.0.0.0", "port_value": 9904}
    hcm = ready["filter_chains"][0]["filters"][0]["typed_config"]
    health, router = hcm["http_filters"]
    assert health["name"] == "envoy.filters.http.health_check"
    assert health["typed_config"]["pass_through_mode"] is False
    assert health["typed_config"]["headers"] == [{"name": ":path", "string_match": {"exact": "/ready"}}]
    assert router["name"] == "envoy.filters.http.router"
    # Nothing else on that listener reaches a cluster: no ext_proc, no provider.
    routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
    assert routes == [{"match": {"prefix": "/"}, "direct_response": {"status": 404}}]


@pytest.mark.parametrize(("host", "dialled"), [("0.0.0.0", "127.0.0.1"), ("::", "::1"), ("127.0.0.1", "127.0.0.1"), ("10.1.2.3", "10.1.2.3")])
def test_wildcard_extproc_host_is_dialled_over_loopback(tmp_path: Path, host: str, dialled: str) -> None:
    rendered = envoy_config.render(_settings(tmp_path, f"extproc: {{host: '{host}', port: 50051}}\n"))
    assert _extproc_address(rendered) == {"address": dialled, "port_value": 50051}


def test_rendered_with_both_is_valid_for_envoy(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "envoy_ready: {host: 0.0.0.0, port: 9904}\nextproc: {host: 0.0.0.0}\n")
    path = envoy_config.write(settings, tmp_path / "envoy.yaml")
    result = subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(path), "--disable-hot-restart", "--log-level", "error"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr

"""Every Envoy config the project ships or renders is accepted by the real Envoy (`--mode validate`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, JwtIssuer, write_config
from cryptography.hazmat.primitives.asymmetric import rsa
import json
from ztgate import envoy_config
from ztgate.config import load_settings
from ztgate.up import envoy_binary


def validate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(path), "--disable-hot-restart", "--log-level", "error"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_shipped_envoy_yaml_is_valid_and_fresh() -> None:
    shipped = ROOT / "envoy" / "envoy.yaml"
    result = validate(shipped)
    assert result.returncode == 0, result.stdout + result.stderr
    rendered = envoy_config.render_yaml(load_settings(ROOT / "ztgate.yaml", env={}))
    assert shipped.read_text() == rendered, "envoy/envoy.yaml is stale: run `make envoy-config`"


@pytest.mark.parametrize("extproc", [True, False], ids=["ztgate", "envoy-alone"])
def test_rendered_test_config_is_valid(tmp_path: Path, extproc: bool) -> None:
    issuer = JwtIssuer(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    (tmp_path / "jwks.json").write_text(json.dumps(issuer.jwks()))
    settings = load_settings(write_config(tmp_path, "http://127.0.0.1:9"), env={})
    path = envoy_config.write(settings, tmp_path / "envoy.yaml", extproc=extproc)
    result = validate(path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:4317", "https://otel-collector.observability.svc:4317"], ids=["plain", "tls"])
def test_rendered_config_with_tracing_is_valid(tmp_path: Path, endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Envoy's OpenTelemetry tracer and the otel_collector cluster, as rendered when tracing is on."""
    issuer = JwtIssuer(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    (tmp_path / "jwks.json").write_text(json.dumps(issuer.jwks()))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    settings = load_settings(write_config(tmp_path, "http://127.0.0.1:9"), env={})
    path = envoy_config.write(settings, tmp_path / "envoy.yaml")
    assert "envoy.tracers.opentelemetry" in path.read_text()
    result = validate(path)
    assert result.returncode == 0, result.stdout + result.stderr

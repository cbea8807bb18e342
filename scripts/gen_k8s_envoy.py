#!/usr/bin/env python3
"""Render k8s/'s Envoy configurations from k8s/base/ztgate.yaml, as `ztgate envoy-config` does.

One Envoy configuration per deployment shape and tracing choice; each is exactly what
`ztgate -c ztgate.yaml envoy-config` prints in the ztgate container's environment (its ZTGATE__
overrides and OTEL_* variables), and tests/k8s checks that against the rendered manifests:

  k8s/base/envoy/ingress.yaml                  listener 0.0.0.0:8080 (the Service's target)
  k8s/base/envoy/sidecar.yaml                  listener 127.0.0.1:8080 (the app in the pod only)
  k8s/components/observability/envoy/*.yaml    the same, with Envoy's OpenTelemetry tracer to Jaeger

Usage: python scripts/gen_k8s_envoy.py [--check]   (--check: exit 1 if anything is stale)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server"))

from ztgate import envoy_config  # noqa: E402
from ztgate.config import load_settings  # noqa: E402

CONFIG = ROOT / "k8s" / "base" / "ztgate.yaml"

# The ztgate container's environment in each shape (the overlays set the same values, checked by tests/k8s).
SIDECAR_ENV = {
    "ZTGATE__LISTEN__HOST": "127.0.0.1",  # Envoy's listener: only the app in the same pod calls it
    "ZTGATE__CONTROL__PORT": "0",  # no admin gRPC API: the app shares the pod's loopback
}
# The observability component's OTLP settings (ztgate's exporter and Envoy's tracer send to the same collector).
OTEL_ENV = {
    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://ztgate-jaeger-collector:4317",
    "OTEL_SERVICE_NAME": "ztgate",
}

VARIANTS: dict[str, dict[str, str]] = {
    "k8s/base/envoy/ingress.yaml": {},
    "k8s/base/envoy/sidecar.yaml": SIDECAR_ENV,
    "k8s/components/observability/envoy/ingress.yaml": OTEL_ENV,
    "k8s/components/observability/envoy/sidecar.yaml": {**SIDECAR_ENV, **OTEL_ENV},
}


def render(config_text: str | None = None, env: dict[str, str] | None = None, *, config_path: Path = CONFIG) -> str:
    """Envoy's configuration for ztgate's config file in exactly this environment (nothing else of
    os.environ leaks in: the tracer reads OTEL_* from it)."""
    env = dict(env or {})
    path = config_path
    if config_text is not None:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "ztgate.yaml"
            path.write_text(config_text)
            return render(None, env, config_path=path)
    with mock.patch.dict(os.environ, env, clear=True):
        return envoy_config.render_yaml(load_settings(path, env=env))


def outputs() -> dict[Path, str]:
    return {ROOT / rel: render(None, env) for rel, env in VARIANTS.items()}


def stale() -> list[str]:
    return [str(p.relative_to(ROOT)) for p, text in outputs().items() if not p.is_file() or p.read_text() != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if k8s/'s Envoy configurations are stale")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale()
        for problem in problems:
            print(f"stale: {problem}", file=sys.stderr)
        return 1 if problems else 0
    for path, text in outputs().items():
        if not path.is_file() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

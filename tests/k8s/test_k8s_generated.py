"""What k8s/ generates from the project's own files is fresh, and what the rendered ConfigMaps carry is
what ztgate and Envoy can run: the policy tree byte for byte, an Envoy config the real Envoy accepts,
a ztgate config that loads, and an Envoy config that is exactly `ztgate envoy-config` of that ztgate
config in the container's environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from k8s_render import (  # noqa: E402
    RENDERINGS,
    ROOT,
    configmap_files,
    container,
    container_env,
    envoy_binary,
    find,
    gateway_pods,
    mounted_file,
    render,
    volume,
    ztgate_settings,
)

import gen_k8s_envoy  # noqa: E402
import gen_k8s_policy  # noqa: E402


def test_policy_copies_are_fresh() -> None:
    assert gen_k8s_policy.stale() == [], "k8s/ policy copies are stale: run `make k8s`"


def test_envoy_configs_are_fresh() -> None:
    assert gen_k8s_envoy.stale() == [], "k8s/ Envoy configs are stale: run `make k8s`"


def _rego_tree() -> dict[str, bytes]:
    return {p.as_posix(): (ROOT / "rego" / p).read_bytes() for p in gen_k8s_policy.policy_files()}


@pytest.mark.parametrize("name", ["sidecar", "ingress"])
def test_policy_volume_is_rego_byte_for_byte(name: str, tmp_path: Path) -> None:
    """The policy ConfigMap, written out by its volume's items as the kubelet does, is rego/."""
    objects = render(name)
    (deployment,) = gateway_pods(objects)
    source = volume(deployment, "policy")["configMap"]
    files = configmap_files(find(objects, "ConfigMap", source["name"]))
    for item in source["items"]:
        target = tmp_path / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(files[item["key"]])
    written = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert written == _rego_tree()
    assert sorted(files) == sorted(i["key"] for i in source["items"]), "a ConfigMap key no item maps back"


def test_opa_bundle_is_rego() -> None:
    objects = render("opa")
    bundle = configmap_files(find(objects, "ConfigMap", "ztgate-opa-bundle"))["bundle.tar.gz"]
    assert gen_k8s_policy.tar_members(bundle) == _rego_tree()


def _envoy_configs() -> dict[str, bytes]:
    """Every distinct Envoy config a gateway pod mounts, over all renderings."""
    found: dict[str, bytes] = {}
    for name in RENDERINGS:
        objects = render(name)
        for deployment in gateway_pods(objects):
            text = mounted_file(objects, deployment, "envoy", "/etc/envoy/envoy.yaml")
            found.setdefault(text.decode(), f"{name}/{deployment['metadata']['name']}")
    return {label: text.encode() for text, label in found.items()}


def test_envoy_configs_pass_envoy_validate(tmp_path: Path) -> None:
    configs = _envoy_configs()
    assert len(configs) == 4  # ingress, sidecar; each with and without the tracer
    for label, text in configs.items():
        path = tmp_path / (label.replace("/", "_") + ".yaml")
        path.write_bytes(text)
        result = subprocess.run(
            [envoy_binary(), "--mode", "validate", "-c", str(path), "--disable-hot-restart", "--log-level", "error"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"{label}: {result.stdout}{result.stderr}"


@pytest.mark.parametrize("name", RENDERINGS)
def test_ztgate_config_loads_and_renders_the_mounted_envoy_config(name: str) -> None:
    objects = render(name)
    for deployment in gateway_pods(objects):
        settings = ztgate_settings(objects, deployment)  # raises ConfigError if it does not load
        assert settings.admin.host == "127.0.0.1"
        c = container(deployment, "ztgate")
        config_text = mounted_file(objects, deployment, "ztgate", "/etc/ztgate/config/ztgate.yaml").decode()
        expected = gen_k8s_envoy.render(config_text, container_env(c))
        mounted = mounted_file(objects, deployment, "envoy", "/etc/envoy/envoy.yaml").decode()
        assert mounted == expected, f"{name}: Envoy's config is not what ztgate's config renders in the container's environment"


@pytest.mark.parametrize("name", ["observability", "sidecar+all", "ingress+all"])
def test_traced_renderings_send_both_to_jaeger(name: str) -> None:
    objects = render(name)
    service = find(objects, "Service", "ztgate-jaeger-collector")
    for deployment in gateway_pods(objects):
        env = container_env(container(deployment, "ztgate"))
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}"
        assert "envoy.tracers.opentelemetry" in mounted_file(objects, deployment, "envoy", "/etc/envoy/envoy.yaml").decode()


@pytest.mark.parametrize(("name", "engine", "store"), [("opa", "remote", "memory"), ("redis", "embedded", "redis"), ("ingress+all", "remote", "redis")])
def test_components_configure_ztgate(name: str, engine: str, store: str) -> None:
    objects = render(name)
    (deployment,) = gateway_pods(objects)
    settings = ztgate_settings(objects, deployment)
    assert (settings.policy.engine, settings.usage.store) == (engine, store)
    if engine == "remote":
        assert settings.policy.remote.url == "http://127.0.0.1:8181"
        assert "--addr=127.0.0.1:8181" in container(deployment, "opa")["args"]
    if store == "redis":
        service = find(objects, "Service", "ztgate-redis")
        assert settings.usage.redis_url == f"redis://{service['metadata']['name']}:6379/0"

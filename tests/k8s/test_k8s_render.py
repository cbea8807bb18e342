"""Every overlay (and every component on both shapes) renders with `kubectl kustomize`, and every
rendered object validates against the Kubernetes JSON schemas of a current release, offline
(kubernetes-validate ships them), in strict mode: an unknown or misspelt field fails."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from k8s_render import OVERLAYS, RENDERINGS, find, gateway_pods, render  # noqa: E402

kubernetes_validate = pytest.importorskip("kubernetes_validate.utils", reason="kubernetes-validate is in the test extra")
KUBERNETES = "1.37"


@pytest.mark.parametrize("name", RENDERINGS)
def test_renders_and_validates(name: str) -> None:
    objects = render(name)
    assert objects
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES, strict=True)


def test_validation_is_strict() -> None:
    deployment = copy.deepcopy(find(render("ingress"), "Deployment", "ztgate"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}  # misspelt
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)


def test_shapes() -> None:
    sidecar = render("sidecar")
    (app,) = gateway_pods(sidecar)
    assert sorted(c["name"] for c in app["spec"]["template"]["spec"]["containers"]) == ["app", "envoy", "ztgate"]
    assert not [o for o in sidecar if o["kind"] in ("Service", "HorizontalPodAutoscaler")]
    ingress = render("ingress")
    (gateway,) = gateway_pods(ingress)
    assert sorted(c["name"] for c in gateway["spec"]["template"]["spec"]["containers"]) == ["envoy", "ztgate"]
    for kind in ("Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        find(ingress, kind, "ztgate")
    spread = gateway["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in spread} == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    assert sorted(c["name"] for c in gateway_pods(render("opa"))[0]["spec"]["template"]["spec"]["containers"]) == ["envoy", "opa", "ztgate"]
    find(render("observability"), "Deployment", "ztgate-jaeger")
    find(render("observability"), "Service", "ztgate-jaeger-ui")
    find(render("redis"), "Deployment", "ztgate-redis")


@pytest.mark.parametrize("name", OVERLAYS)
def test_one_image_entry_for_ztgate(name: str) -> None:
    """Envoy and ztgate run from the image the gateway component's `images` entry names."""
    for deployment in gateway_pods(render(name)):
        images = {c["name"]: c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]}
        assert images["envoy"] == images["ztgate"] == "registry.example.com/ztgate:0.1.0"

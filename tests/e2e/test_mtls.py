"""mTLS: a client certificate is the identity (SPIFFE URI), taken from the XFCC header Envoy sets."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import openai
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from conftest import Gateway, JwtIssuer, gateway_env, start_gateway, write_config


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, key, issuer_name, issuer_key, *, ca: bool = False, sans: list | None = None) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, cert: x509.Certificate, key) -> None:
    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.with_suffix(".key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


@pytest.fixture(scope="module")
def mtls_gateway(tmp_path_factory: pytest.TempPathFactory, fake_provider) -> Iterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("mtls")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("ztgate test CA", ca_key, _name("ztgate test CA"), ca_key, ca=True)
    _write(tmp / "ca", ca, ca_key)
    server_key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    _write(tmp / "server", _cert("localhost", server_key, ca.subject, ca_key, sans=sans), server_key)
    client_key = ec.generate_private_key(ec.SECP256R1())
    spiffe = x509.UniformResourceIdentifier("spiffe://cluster.test/ns/developers/sa/reporting")
    _write(tmp / "client", _cert("reporting", client_key, ca.subject, ca_key, sans=[spiffe]), client_key)
    issuer = JwtIssuer(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    (tmp / "jwks.json").write_text(json.dumps(issuer.jwks()))
    tls = {"cert_file": str(tmp / "server.crt"), "key_file": str(tmp / "server.key"), "client_ca_file": str(tmp / "ca.crt")}
    config = write_config(tmp, fake_provider.url, tls=tls)
    process = start_gateway(config, tmp / "up.log", gateway_env())
    port = yaml.safe_load(config.read_text())["listen"]["port"]
    try:
        yield f"https://127.0.0.1:{port}", tmp
    finally:
        process.terminate()
        process.wait(20)


def _tls_context(tmp: Path, with_client_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(tmp / "ca.crt"))
    if with_client_cert:
        context.load_cert_chain(str(tmp / "client.crt"), str(tmp / "client.key"))
    return context


def test_client_certificate_is_the_identity(mtls_gateway: tuple[str, Path]) -> None:
    url, tmp = mtls_gateway
    client = openai.OpenAI(
        base_url=f"{url}/v1",
        api_key="unused-with-mtls",  # the SDK insists on a key; ztgate takes the certificate first
        http_client=httpx.Client(verify=_tls_context(tmp, True)),
        max_retries=0,
    )
    completion = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "mtls hello"}])
    assert "mtls hello" in completion.choices[0].message.content
    # The audit line is written when Envoy closes the ext_proc stream, just after the client's reply.
    deadline = time.monotonic() + 5
    audit: list[dict] = []
    while not audit and time.monotonic() < deadline:
        path = tmp / "audit.jsonl"
        audit = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        time.sleep(0.05)
    assert audit, "no audit line"
    assert audit[-1]["identity"]["method"] == "mtls"
    assert audit[-1]["identity"]["subject"] == "spiffe://cluster.test/ns/developers/sa/reporting"


def test_without_a_client_certificate_the_handshake_fails(mtls_gateway: tuple[str, Path]) -> None:
    url, tmp = mtls_gateway
    with pytest.raises(httpx.HTTPError):
        httpx.post(f"{url}/v1/chat/completions", json={}, verify=_tls_context(tmp, False))


def test_a_forged_xfcc_header_is_not_trusted_on_the_plain_listener(gateway: Gateway) -> None:
    forged = 'By=spiffe://x;URI=spiffe://cluster.test/ns/developers/sa/mallory;Subject="CN=mallory"'
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-forwarded-client-cert": forged},
    )
    assert response.status_code == 401

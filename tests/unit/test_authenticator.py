"""The order in which identity methods apply: verified JWT > mTLS (XFCC) > API key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest

from ztgate.identity import Authenticator, AuthError, Identity, KeyStore
from ztgate.identity.keys import create_key, revoke_key

XFCC = (
    "By=spiffe://cluster.local/ns/ztgate/sa/envoy;Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;"
    'Subject="CN=checkout,OU=payments";URI=spiffe://cluster.local/ns/payments/sa/checkout'
)
JWT_META = {"envoy.filters.http.jwt_authn": {"jwt_payload": {"sub": "alice", "groups": ["eng"], "iss": "idp"}}}


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Authenticator, str]:
    path = tmp_path / "keys.json"
    key = create_key(path, "svc-key", ["batch"])
    return Authenticator(KeyStore.load(path)), key


def test_api_key_alone(setup: tuple[Authenticator, str]) -> None:
    auth, key = setup
    identity = auth.identify({"authorization": f"Bearer {key}"}, "", {})
    assert (identity.method, identity.subject, identity.key_id) == ("api_key", "svc-key", key[3:11])


@pytest.mark.parametrize(
    ("headers", "query"),
    [({"x-api-key": "K"}, ""), ({"api-key": "K"}, ""), ({"x-goog-api-key": "K"}, ""), ({}, "alt=sse&key=K")],
)
def test_api_key_in_each_sdk_place(setup: tuple[Authenticator, str], headers: dict[str, str], query: str) -> None:
    auth, key = setup
    headers = {k: v.replace("K", key) for k, v in headers.items()}
    assert auth.identify(headers, query.replace("K", key), {}).subject == "svc-key"


def test_jwt_beats_xfcc_and_api_key(setup: tuple[Authenticator, str]) -> None:
    auth, key = setup
    headers = {"authorization": f"Bearer {key}", "x-forwarded-client-cert": XFCC}
    identity = auth.identify(headers, "", JWT_META)
    assert (identity.method, identity.subject, identity.groups) == ("jwt", "alice", ("eng",))


def test_xfcc_beats_api_key(setup: tuple[Authenticator, str]) -> None:
    auth, key = setup
    identity = auth.identify({"x-api-key": key, "x-forwarded-client-cert": XFCC}, "", {})
    assert identity.method == "mtls"
    assert identity.subject == "spiffe://cluster.local/ns/payments/sa/checkout"
    assert identity.groups == ("payments",)


def test_untrusted_xfcc_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    key = create_key(path, "svc-key", [])
    auth = Authenticator(KeyStore.load(path), trust_xfcc=False)
    assert auth.identify({"x-api-key": key, "x-forwarded-client-cert": XFCC}, "", {}).method == "api_key"
    with pytest.raises(AuthError, match="^missing credential"):
        auth.identify({"x-forwarded-client-cert": XFCC}, "", {})


def test_malformed_xfcc_falls_through_to_api_key(setup: tuple[Authenticator, str]) -> None:
    auth, key = setup
    assert auth.identify({"x-api-key": key, "x-forwarded-client-cert": 'Hash="x'}, "", {}).method == "api_key"


def test_missing_credential(setup: tuple[Authenticator, str]) -> None:
    auth, _ = setup
    with pytest.raises(AuthError, match="^missing credential: "):
        auth.identify({"user-agent": "OpenAI/Python"}, "", {})
    # jwt_authn ran but verified nothing: still missing.
    with pytest.raises(AuthError, match="^missing credential: "):
        auth.identify({}, "", {"envoy.filters.http.jwt_authn": {}})


def test_forged_jwt_fails_as_unknown_key(setup: tuple[Authenticator, str]) -> None:
    auth, _ = setup
    forged = pyjwt.encode({"sub": "admin", "groups": ["admins"]}, "attacker-secret-attacker-secret!", algorithm="HS256")
    # Envoy did not verify it, so there is no payload in metadata; the token is then just a bearer key.
    with pytest.raises(AuthError, match="^unknown API key") as err:
        auth.identify({"authorization": f"Bearer {forged}"}, "", {})
    assert forged not in err.value.message


def test_claims_in_headers_are_ignored(setup: tuple[Authenticator, str]) -> None:
    auth, key = setup
    headers = {"x-api-key": key, "x-jwt-payload": '{"sub": "admin"}', "x-forwarded-user": "admin"}
    identity = auth.identify(headers, "", {})
    assert identity.subject == "svc-key"


def test_key_errors_propagate(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    key = create_key(path, "svc-key", [])
    revoke_key(path, key[3:11])
    auth = Authenticator(KeyStore.load(path))
    with pytest.raises(AuthError, match="revoked"):
        auth.identify({"authorization": f"Bearer {key}"}, "", {})
    with pytest.raises(AuthError, match="^malformed API key"):
        auth.identify({"authorization": "Bearer sk-proj-not-a-ztgate-key"}, "", {})


def test_custom_jwt_claims(setup: tuple[Authenticator, str]) -> None:
    auth = Authenticator(setup[0].keys, jwt_subject_claim="email", jwt_groups_claim="roles")
    meta: dict[str, Any] = {"envoy.filters.http.jwt_authn": {"jwt_payload": {"email": "bob@x", "roles": "a b"}}}
    identity = auth.identify({}, "", meta)
    assert (identity.subject, identity.groups) == ("bob@x", ("a", "b"))


def test_exports() -> None:
    import ztgate.identity as mod

    assert mod.Identity is Identity and mod.AuthError is AuthError

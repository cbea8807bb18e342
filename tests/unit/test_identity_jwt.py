"""Identity from the JWT payload Envoy's jwt_authn filter put in dynamic metadata."""

from __future__ import annotations

from typing import Any

import pytest

from ztgate.identity.base import AuthError
from ztgate.identity.jwt import JWT_AUTHN_NAMESPACE, identity_from_jwt_metadata


def metadata(payload: Any, key: str = "jwt_payload") -> dict[str, Any]:
    return {JWT_AUTHN_NAMESPACE: {key: payload}}


def test_subject_and_groups_list() -> None:
    payload = {"iss": "https://idp.example.com", "sub": "alice@example.com", "groups": ["eng", "ml"], "exp": 1.9e9}
    identity = identity_from_jwt_metadata(metadata(payload))
    assert identity is not None
    assert identity.subject == "alice@example.com"
    assert identity.method == "jwt"
    assert identity.groups == ("eng", "ml")
    assert identity.key_id is None
    assert identity.claims == payload


@pytest.mark.parametrize(
    "filter_metadata",
    [
        {},
        {"envoy.filters.http.ext_authz": {"jwt_payload": {"sub": "x"}}},  # another filter's namespace
        {JWT_AUTHN_NAMESPACE: {}},  # jwt_authn ran, token missing or failed (allow_missing_or_failed)
        {JWT_AUTHN_NAMESPACE: {"other_provider_payload": {"sub": "x"}}},
        metadata({}),
        metadata("not a struct"),
    ],
)
def test_no_verified_payload_is_none(filter_metadata: dict[str, Any]) -> None:
    assert identity_from_jwt_metadata(filter_metadata) is None


def test_groups_as_space_or_comma_separated_string() -> None:
    identity = identity_from_jwt_metadata(metadata({"sub": "a", "groups": "eng, ml  ops,"}))
    assert identity is not None and identity.groups == ("eng", "ml", "ops")


def groups_of(payload: dict[str, Any], groups_claim: str | tuple[str, ...]) -> tuple[str, ...]:
    identity = identity_from_jwt_metadata(metadata(payload), groups_claim=groups_claim)
    assert identity is not None
    return identity.groups


def test_scope_and_roles_claims() -> None:
    payload = {"sub": "svc", "scope": "llm.chat llm.embed", "roles": ["Reader", "Writer"]}
    assert groups_of(payload, "scope") == ("llm.chat", "llm.embed")
    assert groups_of(payload, "roles") == ("Reader", "Writer")
    assert groups_of(payload, ("roles", "scope", "missing")) == ("Reader", "Writer", "llm.chat", "llm.embed")


def test_nested_and_namespaced_claims() -> None:
    payload = {
        "sub": "bob",
        "realm_access": {"roles": ["admin"]},  # Keycloak
        "https://example.com/groups": ["finance"],  # Auth0-style namespaced claim (contains dots)
    }
    assert groups_of(payload, "realm_access.roles") == ("admin",)
    assert groups_of(payload, "https://example.com/groups") == ("finance",)


def test_custom_subject_claim_and_missing_groups() -> None:
    identity = identity_from_jwt_metadata(
        metadata({"sub": "1234", "email": "carol@example.com"}), subject_claim="email"
    )
    assert identity is not None and identity.subject == "carol@example.com" and identity.groups == ()


def test_numeric_values_from_protobuf_struct() -> None:
    # Envoy metadata is a protobuf Struct: every number is a double.
    identity = identity_from_jwt_metadata(metadata({"sub": 42.0, "groups": [7.0, "eng", True, None]}))
    assert identity is not None and identity.subject == "42" and identity.groups == ("7", "eng")


def test_custom_payload_key() -> None:
    assert identity_from_jwt_metadata(metadata({"sub": "a"}, key="corp"), payload_key="corp") is not None


@pytest.mark.parametrize("payload", [{"iss": "x"}, {"sub": ""}, {"sub": ["a"]}, {"sub": True}])
def test_verified_token_without_subject_is_an_auth_error(payload: dict[str, Any]) -> None:
    with pytest.raises(AuthError, match="'sub'"):
        identity_from_jwt_metadata(metadata(payload))

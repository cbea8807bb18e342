"""Identity from a JWT that Envoy's jwt_authn filter has already verified.

ztgate does not verify JWTs itself. Envoy's jwt_authn filter checks signature (JWKS), issuer,
audience and time claims, and for a valid token writes the payload into the request's *dynamic
metadata* (provider option `payload_in_metadata: jwt_payload`), under the filter's namespace
`envoy.filters.http.jwt_authn`. The ext_proc filter forwards that namespace to ztgate
(`metadata_options.forwarding_namespaces.untyped`), and the servicer hands it here as a dict.

Claims are never read from an HTTP header (such as a `forward_payload_header`, or by decoding the
`Authorization` token): a client can put any header, with any claims, on its request, whereas dynamic
metadata is written only by Envoy's own filters after verification. A token that failed verification
leaves no payload here (jwt_authn runs with `allow_missing_or_failed`), so it ends up treated as an API
key and is rejected as one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ztgate.identity.base import AuthError, Identity

JWT_AUTHN_NAMESPACE = "envoy.filters.http.jwt_authn"
PAYLOAD_KEY = "jwt_payload"  # the JwtProvider's payload_in_metadata name in ztgate's Envoy config

_SPLIT = re.compile(r"[\s,]+")


def identity_from_jwt_metadata(
    filter_metadata: Mapping[str, Any],
    *,
    subject_claim: str = "sub",
    groups_claim: str | Sequence[str] = "groups",
    payload_key: str = PAYLOAD_KEY,
) -> Identity | None:
    """The identity in a verified JWT payload, or None when Envoy verified no JWT for this request.

    `groups_claim` names one claim or several (their values are merged, in order, without
    duplicates): e.g. "groups", "roles" (Entra ID), "scope" (OAuth, space separated) or a dotted path
    such as "realm_access.roles" (Keycloak). A claim holding a list, or a space/comma separated
    string, both work. A payload without a usable subject claim raises AuthError: the token was
    valid, but ztgate cannot say who it is for.
    """
    namespace = filter_metadata.get(JWT_AUTHN_NAMESPACE)
    if not isinstance(namespace, Mapping):
        return None
    payload = namespace.get(payload_key)
    if not isinstance(payload, Mapping) or not payload:
        return None

    subject = _scalar(_claim(payload, subject_claim))
    if not subject:
        raise AuthError(f"verified JWT has no usable {subject_claim!r} claim to identify the caller")

    claims = (groups_claim,) if isinstance(groups_claim, str) else tuple(groups_claim)
    groups: dict[str, None] = {}  # ordered set
    for name in claims:
        for group in _as_list(_claim(payload, name)):
            groups[group] = None
    return Identity(subject=subject, method="jwt", groups=tuple(groups), claims=dict(payload))


def _claim(payload: Mapping[str, Any], name: str) -> Any:
    """A claim by exact name first (namespaced claims such as "https://example.com/groups" contain
    dots), then by dotted path into nested objects."""
    if name in payload:
        return payload[name]
    node: Any = payload
    for part in name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _scalar(value: Any) -> str | None:
    """A claim value as text. Numbers arrive as floats (metadata is a protobuf Struct, whose only
    number type is double), so 42.0 reads back as "42"."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    return None


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v for v in _SPLIT.split(value) if v]
    if isinstance(value, (list, tuple)):
        return [s for s in map(_scalar, value) if s]
    return []

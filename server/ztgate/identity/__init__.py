"""Who is calling: every request is attributed to a user or service before anything else happens.

Three methods, tried in a fixed order (the first that applies decides; later ones are not consulted):

1. a JWT verified by Envoy's jwt_authn filter (payload in dynamic metadata, see jwt.py);
2. the mTLS client certificate Envoy verified (x-forwarded-client-cert, see mtls.py), if trusted;
3. a ztgate API key, wherever the client's SDK put it (see credentials.py and keys.py).

Envoy's jwt_authn runs with `allow_missing_or_failed`, because the OpenAI SDK sends a ztgate API key
in `Authorization: Bearer` exactly where a JWT would go. So a bearer token that Envoy did not verify as
a JWT is treated as an API key: a forged or expired JWT never becomes an identity, it fails as a key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ztgate.identity.base import AuthError, Identity
from ztgate.identity.credentials import presented_api_key
from ztgate.identity.jwt import PAYLOAD_KEY, identity_from_jwt_metadata
from ztgate.identity.keys import KeyStore
from ztgate.identity.mtls import XFCC_HEADER, identity_from_xfcc

__all__ = ["AuthError", "Authenticator", "Identity", "KeyStore"]

MISSING_CREDENTIAL = (
    "missing credential: send a ztgate API key (Authorization: Bearer zt-..., x-api-key, api-key, "
    "x-goog-api-key or ?key=), a JWT from a trusted issuer, or a client certificate"
)


class Authenticator:
    """Turns one request's credentials into an Identity, or raises AuthError (a 401 to the client)."""

    def __init__(
        self,
        keys: KeyStore,
        *,
        jwt_subject_claim: str = "sub",
        jwt_groups_claim: str | Sequence[str] = "groups",
        jwt_payload_key: str = PAYLOAD_KEY,
        trust_xfcc: bool = True,
    ) -> None:
        self.keys = keys
        self.jwt_subject_claim = jwt_subject_claim
        self.jwt_groups_claim = jwt_groups_claim
        self.jwt_payload_key = jwt_payload_key
        self.trust_xfcc = trust_xfcc

    def identify(self, headers: dict[str, str], query: str, filter_metadata: Mapping[str, Any]) -> Identity:
        """JWT (verified by Envoy) > mTLS (XFCC, if trusted) > API key; AuthError if none is usable.

        `headers` has lower-case names; `query` is the raw query string; `filter_metadata` is the
        forwarded Envoy dynamic metadata as {namespace: dict}.
        """
        identity = identity_from_jwt_metadata(
            filter_metadata,
            subject_claim=self.jwt_subject_claim,
            groups_claim=self.jwt_groups_claim,
            payload_key=self.jwt_payload_key,
        )
        if identity is not None:
            return identity

        if self.trust_xfcc:
            xfcc = headers.get(XFCC_HEADER)
            if xfcc:
                identity = identity_from_xfcc(xfcc)
                if identity is not None:
                    return identity

        key = presented_api_key(headers, query)
        if key is None:
            raise AuthError(MISSING_CREDENTIAL)
        if _looks_like_jwt(key):
            # Not a ztgate key, and Envoy did not vouch for it as a JWT: say which, not "malformed".
            raise AuthError(
                "unknown API key: the token is a JWT that Envoy did not verify "
                "(expired, bad signature, or an issuer/audience ztgate does not trust)"
            )
        return self.keys.authenticate(key)


def _looks_like_jwt(token: str) -> bool:
    # A compact JWS: three base64url parts, the header being a JSON object ("eyJ" is base64 of '{"').
    return token.startswith("eyJ") and token.count(".") == 2

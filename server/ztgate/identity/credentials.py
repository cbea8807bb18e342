"""Where a client's credential sits in a request, for each SDK a client may be using.

Clients keep using their provider's own SDK and only swap the provider key for a ztgate key, so the
key arrives wherever that SDK puts it. The gateway must also remove every one of these places before
the request goes upstream (it injects the real provider credential itself), so the list of headers
and the `key=` query parameter live here together.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote_plus

# Every request header that can carry a client credential. All are removed before the request is
# forwarded, whichever one the client used.
CREDENTIAL_HEADERS: tuple[str, ...] = (
    "authorization",  # OpenAI SDK (Bearer), Azure OpenAI with Entra ID tokens, Anthropic auth_token
    "x-api-key",  # Anthropic SDK
    "api-key",  # Azure OpenAI SDK
    "x-goog-api-key",  # Google GenAI SDK (Gemini)
)

KEY_QUERY_PARAM = "key"  # Gemini REST: ?key=...


def bearer_token(headers: dict[str, str]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), if any."""
    value = headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def presented_api_key(headers: dict[str, str], query: str) -> str | None:
    """The credential the client presented, looking where each SDK puts it, in a fixed order.

    `headers` has lower-case names; `query` is the raw query string (with or without a leading "?").
    """
    token = bearer_token(headers)
    if token:
        return token
    for name in CREDENTIAL_HEADERS[1:]:
        value = headers.get(name, "").strip()
        if value:
            return value
    if query:  # most LLM API calls have no query string at all
        for name, value in parse_qsl(query.lstrip("?"), keep_blank_values=True):
            if name == KEY_QUERY_PARAM and value.strip():
                return value.strip()
    return None


def strip_key_param(path: str) -> str:
    """The request path with every `key=` query parameter removed, so a ztgate key never reaches
    the provider. Other parameters are kept byte for byte, in order.

    Names are compared percent-decoded (`k%65y=` is `key=` to the provider as well), matching how
    presented_api_key reads them.
    """
    base, sep, query = path.partition("?")
    if not sep:
        return path
    query, hash_sep, fragment = query.partition("#")
    kept = [part for part in query.split("&") if part and unquote_plus(part.partition("=")[0]) != KEY_QUERY_PARAM]
    rebuilt = base + ("?" + "&".join(kept) if kept else "")
    return rebuilt + hash_sep + fragment

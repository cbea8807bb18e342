"""Finding the client's credential wherever its SDK put it, and removing it before upstream."""

from __future__ import annotations

import pytest

from ztgate.identity.credentials import CREDENTIAL_HEADERS, bearer_token, presented_api_key, strip_key_param

KEY = "zt-3f9a1c2b-Jd8fQ2xk9_abcdefghijklmnopqrstuvwxyz0123456"


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"authorization": f"Bearer {KEY}"}, ""),  # OpenAI SDK
        ({"authorization": f"bearer   {KEY}  "}, ""),  # scheme is case-insensitive, spaces trimmed
        ({"x-api-key": KEY}, ""),  # Anthropic SDK
        ({"api-key": KEY}, ""),  # Azure OpenAI SDK
        ({"x-goog-api-key": KEY}, ""),  # google-genai SDK
        ({}, f"key={KEY}"),  # Gemini REST
        ({}, f"?alt=sse&key={KEY}"),
        ({"authorization": "Basic dXNlcjpwYXNz"}, f"key={KEY}"),  # not a bearer: keep looking
    ],
)
def test_each_place(headers: dict[str, str], query: str) -> None:
    assert presented_api_key(headers, query) == KEY


def test_order_bearer_first_then_headers_then_query() -> None:
    every = {"authorization": "Bearer a", "x-api-key": "b", "api-key": "c", "x-goog-api-key": "d"}
    assert presented_api_key(every, "key=e") == "a"
    del every["authorization"]
    assert presented_api_key(every, "key=e") == "b"
    del every["x-api-key"]
    assert presented_api_key(every, "key=e") == "c"
    del every["api-key"]
    assert presented_api_key(every, "key=e") == "d"
    del every["x-goog-api-key"]
    assert presented_api_key(every, "key=e") == "e"


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({}, ""),
        ({"authorization": "Bearer "}, ""),
        ({"authorization": "Bearer"}, ""),
        ({"x-api-key": "  "}, "key="),
        ({"user-agent": "openai-python"}, "alt=sse&monkey=1"),
    ],
)
def test_nothing_presented(headers: dict[str, str], query: str) -> None:
    assert presented_api_key(headers, query) is None


def test_query_key_is_percent_decoded() -> None:
    assert presented_api_key({}, "key=zt-3f9a1c2b-a%2Bb") == "zt-3f9a1c2b-a+b"


def test_bearer_token() -> None:
    assert bearer_token({"authorization": "Bearer abc"}) == "abc"
    assert bearer_token({"authorization": "Basic abc"}) is None
    assert bearer_token({}) is None


def test_credential_headers_cover_every_header_place() -> None:
    assert CREDENTIAL_HEADERS == ("authorization", "x-api-key", "api-key", "x-goog-api-key")
    for name in CREDENTIAL_HEADERS:
        value = f"Bearer {KEY}" if name == "authorization" else KEY
        assert presented_api_key({name: value}, "") == KEY


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1beta/models/gemini-2.0-flash:generateContent", "/v1beta/models/gemini-2.0-flash:generateContent"),
        (f"/v1beta/models/g:generateContent?key={KEY}", "/v1beta/models/g:generateContent"),
        (f"/v1beta/models/g:streamGenerateContent?alt=sse&key={KEY}", "/v1beta/models/g:streamGenerateContent?alt=sse"),
        (f"/p?key={KEY}&alt=sse", "/p?alt=sse"),
        (f"/p?a=1&key={KEY}&b=%20x&key=again", "/p?a=1&b=%20x"),
        ("/p?k%65y=secret&a=1", "/p?a=1"),  # encoded name is still "key" to the provider
        ("/p?monkey=1&keys=2&key", "/p?monkey=1&keys=2"),
        ("/p?", "/p"),
    ],
)
def test_strip_key_param(path: str, expected: str) -> None:
    assert strip_key_param(path) == expected

"""The route table: exact provider API paths only, everything else unrecognised."""

from __future__ import annotations

import pytest

from ztgate.providers import ADAPTERS, get_adapter, resolve_route
from ztgate.providers.base import OPERATIONS, ProviderAdapter, Route


@pytest.mark.parametrize(
    "method, path, route",
    [
        ("POST", "/v1/chat/completions", Route("openai", "chat_completions")),
        ("post", "/v1/chat/completions?foo=1", Route("openai", "chat_completions")),
        ("POST", "/v1/responses", Route("openai", "responses")),
        ("POST", "/v1/embeddings", Route("openai", "embeddings")),
        ("GET", "/v1/models", Route("openai", "list_models", has_body=False)),
        ("POST", "/v1/messages", Route("anthropic", "messages")),
        ("POST", "/v1/messages?beta=true", Route("anthropic", "messages")),
        (
            "POST",
            "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21",
            Route("azure_openai", "chat_completions", model="gpt-4o-prod"),
        ),
        (
            "POST",
            "/openai/deployments/emb.v3/embeddings?api-version=2024-10-21",
            Route("azure_openai", "embeddings", model="emb.v3"),
        ),
        ("POST", "/openai/v1/chat/completions", Route("azure_openai", "chat_completions")),
        ("POST", "/openai/responses?api-version=2025-04-01-preview", Route("azure_openai", "responses")),
        ("POST", "/openai/v1/responses", Route("azure_openai", "responses")),
        ("GET", "/openai/models?api-version=2024-10-21", Route("azure_openai", "list_models", has_body=False)),
        (
            "POST",
            "/v1beta/models/gemini-2.0-flash:generateContent",
            Route("gemini", "generate_content", model="gemini-2.0-flash"),
        ),
        (
            "POST",
            "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
            Route("gemini", "generate_content", model="gemini-2.5-pro", stream=True),
        ),
        (
            "POST",
            "/v1/models/gemini-1.5-flash-002:generateContent",
            Route("gemini", "generate_content", model="gemini-1.5-flash-002"),
        ),
        ("GET", "/v1beta/models", Route("gemini", "list_models", has_body=False)),
        ("GET", "/v1beta/models?pageSize=5", Route("gemini", "list_models", has_body=False)),
    ],
)
def test_known_paths(method: str, path: str, route: Route) -> None:
    assert resolve_route(method, path) == route
    assert route.operation in OPERATIONS


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/v1/chat/completions"),
        ("POST", "/v1/models"),
        ("POST", "/v1/chat/completions/"),
        ("POST", "/v1/chat/completions/extra"),
        ("POST", "//v1/chat/completions"),
        ("POST", "/V1/chat/completions"),
        ("POST", "/v2/chat/completions"),
        ("POST", "/prefix/v1/messages"),
        ("POST", "/v1/messages/count_tokens"),
        ("POST", "/v1/completions"),
        ("POST", "/openai/deployments//chat/completions"),
        ("POST", "/openai/deployments/a/b/chat/completions"),
        ("POST", "/openai/deployments/a/completions"),
        ("POST", "/v1beta/models/gemini-2.0-flash:countTokens"),
        ("POST", "/v1beta/models/gemini-2.0-flash"),
        ("POST", "/v1beta/models/:generateContent"),
        ("POST", "/v1beta/models/a/b:generateContent"),
        ("POST", "/v1beta/models/a:generateContent:generateContent"),
        ("GET", "/v1beta/models/gemini-2.0-flash"),
        ("POST", "/v1alpha/models/gemini-2.0-flash:generateContent"),
        ("POST", ""),
        ("POST", "?"),
        ("DELETE", "/v1/models"),
    ],
)
def test_other_paths_are_unrecognised(method: str, path: str) -> None:
    assert resolve_route(method, path) is None


def test_adapters_registry() -> None:
    assert set(ADAPTERS) == {"openai", "azure_openai", "anthropic", "gemini"}
    for name, adapter in ADAPTERS.items():
        assert get_adapter(name) is adapter and adapter.name == name
        assert isinstance(adapter.credential_headers, tuple) and all(h == h.lower() for h in adapter.credential_headers)
        _: ProviderAdapter = adapter  # each satisfies the protocol (checked by type checkers)
    with pytest.raises(KeyError):
        get_adapter("cohere")


def test_every_route_has_an_adapter() -> None:
    for method, path in [
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/messages"),
        ("GET", "/v1beta/models"),
        ("POST", "/openai/deployments/d/chat/completions"),
        ("POST", "/v1/models/m:generateContent"),
    ]:
        route = resolve_route(method, path)
        assert route is not None and get_adapter(route.provider).name == route.provider

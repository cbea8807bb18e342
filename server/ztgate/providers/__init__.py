"""Provider adapters and the route table that says which one a request path belongs to.

Only the exact API paths below are recognised; anything else resolves to None, and the extproc layer
decides what an unrecognised path means (deny by default).

Two paths are ambiguous by path alone and resolve to OpenAI: GET /v1/models is also Anthropic's (and
Gemini's on v1) model listing. The extproc layer can tell them apart by the credential header if it
needs to.
"""

from __future__ import annotations

import re

from .anthropic import AnthropicAdapter
from .base import ProviderAdapter, RequestError, Route
from .gemini import GeminiAdapter
from .openai import AzureOpenAIAdapter, OpenAIAdapter

__all__ = ["ADAPTERS", "get_adapter", "provider_for_unknown_path", "resolve_route", "RequestError", "Route"]

ADAPTERS: dict[str, ProviderAdapter] = {
    "openai": OpenAIAdapter(),
    "azure_openai": AzureOpenAIAdapter(),
    "anthropic": AnthropicAdapter(),
    "gemini": GeminiAdapter(),
}

# Paths without parameters: one dict lookup. Routes are immutable, so each is built once.
_STATIC: dict[tuple[str, str], Route] = {
    ("POST", "/v1/chat/completions"): Route("openai", "chat_completions"),
    ("POST", "/v1/responses"): Route("openai", "responses"),
    ("POST", "/v1/embeddings"): Route("openai", "embeddings"),
    ("GET", "/v1/models"): Route("openai", "list_models", has_body=False),
    ("POST", "/v1/messages"): Route("anthropic", "messages"),
    ("GET", "/v1beta/models"): Route("gemini", "list_models", has_body=False),
    # Azure OpenAI: the v1 API (model in the body) and the Responses API (model in the body).
    ("POST", "/openai/v1/chat/completions"): Route("azure_openai", "chat_completions"),
    ("POST", "/openai/v1/responses"): Route("azure_openai", "responses"),
    ("POST", "/openai/responses"): Route("azure_openai", "responses"),
    ("POST", "/openai/v1/embeddings"): Route("azure_openai", "embeddings"),
    ("GET", "/openai/v1/models"): Route("azure_openai", "list_models", has_body=False),
    ("GET", "/openai/models"): Route("azure_openai", "list_models", has_body=False),
}

# Paths that carry the model: Azure deployments and Gemini models. Compiled once.
_AZURE = re.compile(r"/openai/deployments/([^/]+)/(chat/completions|embeddings)")
_AZURE_OPS = {"chat/completions": "chat_completions", "embeddings": "embeddings"}
_GEMINI = re.compile(r"/v1(?:beta)?/models/([^/:]+):(generateContent|streamGenerateContent)")


def resolve_route(method: str, path: str) -> Route | None:
    """Which provider API a request is for, from its method and path (a query string is ignored)."""
    path = path.partition("?")[0]
    method = method.upper()
    route = _STATIC.get((method, path))
    if route is not None or method != "POST":
        return route
    if path.startswith("/openai/deployments/"):
        match = _AZURE.fullmatch(path)
        if match:
            return Route("azure_openai", _AZURE_OPS[match[2]], model=match[1])
    elif path.startswith("/v1"):
        match = _GEMINI.fullmatch(path)
        if match:
            return Route("gemini", "generate_content", model=match[1], stream=match[2] == "streamGenerateContent")
    return None


def get_adapter(name: str) -> ProviderAdapter:
    """The adapter for a provider name (Route.provider); KeyError for an unknown one."""
    return ADAPTERS[name]


def provider_for_unknown_path(path: str) -> str:
    """The provider whose error format best suits a path no route matched, so its SDK can parse the 404."""
    bare = path.split("?", 1)[0]
    if bare.startswith("/v1beta") or ":generateContent" in bare or ":streamGenerateContent" in bare:
        return "gemini"
    if bare.startswith("/v1/messages"):
        return "anthropic"
    if bare.startswith("/openai/"):
        return "azure_openai"
    return "openai"

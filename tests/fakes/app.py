"""The aiohttp application: the route table, request recording, and what no single provider owns.

Routes are registered here in one table (their order matters to aiohttp's router), together with
the routes shared between providers (GET /v1/models) and the answer to unknown routes, which is
given in the error format of the provider the path looks like.
"""

from __future__ import annotations

from typing import Awaitable, Callable

import orjson
from aiohttp import web

from . import anthropic, gemini, openai, openai_responses
from .common import Knobs, RecordedRequest
from .wire import KNOBS, REC, STATE, Dialect, Reject, State, error_response

MAX_BODY = 64 * 1024 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

DIALECTS: dict[str, Dialect] = {
    d.name: d for d in (openai.OPENAI, openai.AZURE, anthropic.ANTHROPIC, gemini.GEMINI)
}


def dialect_for(provider: str | None) -> Dialect:
    """The provider's dialect; OpenAI's for an unknown provider (the most common format)."""
    return DIALECTS.get(provider or "", openai.OPENAI)


def error_body(provider: str | None, status: int, message: str | None = None) -> bytes:
    """The error body the real provider would send for this status."""
    return dialect_for(provider).error_body(status, message)


def provider_for_path(path: str) -> str | None:
    """The provider an unknown path most likely belongs to (for its 404 format)."""
    if path.startswith("/v1beta/"):
        return "gemini"
    if path.startswith("/openai/"):
        return "azure_openai"
    if path.startswith("/v1/messages"):
        return "anthropic"
    return None


@web.middleware
async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Record every request (even refused or unknown ones) and turn Reject into a provider error."""
    body = await request.read()
    parsed = None
    if body:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = None
    headers: dict[str, str] = {}
    for k, v in request.headers.items():
        k = k.lower()
        headers[k] = f"{headers[k]}, {v}" if k in headers else v
    rec = RecordedRequest(request.method, request.path_qs, headers, body, parsed)
    request.app[STATE].requests.append(rec)
    request[REC] = rec
    try:
        resp = await handler(request)
    except Reject as e:
        knobs = request.get(KNOBS) or Knobs()
        resp = error_response(dialect_for(rec.provider), e.status, e.message, knobs, forced=e.forced)
    except web.HTTPException as e:
        if e.status in (404, 405):
            if rec.provider is None:
                rec.provider = provider_for_path(request.path)
            message = f"Unknown request URL: {request.method} {request.path}"
            resp = error_response(dialect_for(rec.provider), e.status, message, Knobs())
        else:
            rec.status = e.status
            raise
    rec.status = resp.status
    return resp


# ---- GET /v1/models[/{id}]: shared by OpenAI, Anthropic and Gemini ---------------------------


def models_provider(request: web.Request) -> str:
    """GET /v1/models is shared by OpenAI, Anthropic and Gemini (google-genai >= 3 uses /v1)."""
    h = request.headers
    if "x-goog-api-key" in h or "key" in request.query:
        return "gemini"
    if "x-api-key" in h or "anthropic-version" in h:
        return "anthropic"
    return "openai"


_LIST_MODELS: dict[str, Handler] = {
    "openai": openai.list_models,
    "anthropic": anthropic.list_models,
    "gemini": gemini.list_models,
}
_GET_MODEL: dict[str, Handler] = {
    "openai": openai.get_model,
    "anthropic": anthropic.get_model,
    "gemini": gemini.get_model,
}


async def list_models(request: web.Request) -> web.StreamResponse:
    return await _LIST_MODELS[models_provider(request)](request)


async def get_model(request: web.Request) -> web.StreamResponse:
    return await _GET_MODEL[models_provider(request)](request)


def build_app(state: State) -> web.Application:
    """The fake's application; handlers read credentials, defaults and the log from ``state``."""
    app = web.Application(middlewares=[record], client_max_size=MAX_BODY)
    app[STATE] = state
    r = app.router
    r.add_post("/v1/chat/completions", openai.chat)
    r.add_post("/v1/responses", openai_responses.responses)
    r.add_post("/v1/embeddings", openai.embeddings)
    r.add_get("/v1/models", list_models)
    r.add_get("/v1/models/{model:.+}", get_model)
    r.add_post("/v1/models/{target:.+}", gemini.dispatch)
    r.add_post("/openai/deployments/{deployment}/chat/completions", openai.azure_chat)
    r.add_post("/openai/deployments/{deployment}/embeddings", openai.azure_embeddings)
    r.add_post("/v1/messages", anthropic.messages)
    r.add_post("/v1/messages/count_tokens", anthropic.count_tokens)
    r.add_post("/v1beta/models/{target:.+}", gemini.dispatch)
    r.add_get("/v1beta/models", gemini.list_models)
    r.add_get("/v1beta/models/{model:.+}", gemini.get_model)
    return app

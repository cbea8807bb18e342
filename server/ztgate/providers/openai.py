"""OpenAI's wire format: Chat Completions, the Responses API, embeddings and model listing.

One adapter serves OpenAI itself, OpenAI-compatible servers (vLLM, Ollama, LM Studio) and, with another
credential header and the deployment in the path, Azure OpenAI (AzureOpenAIAdapter below). The Responses
API's own shapes live in openai_responses.py; this module holds the adapter and Chat Completions.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from . import openai_responses as responses_api
from ._common import (
    event_json,
    ROLES,
    Slot,
    add_part,
    as_int,
    cap_tokens,
    dumps,
    encode_sse,
    error_message,
    filter_named,
    get_dict,
    get_list,
    get_str,
    index_of,
    json_text,
    optional_bool,
    optional_int,
    optional_list,
    require_model,
    require_object,
    rewrite_slots,
    set_model,
    slot_texts,
    sse_event,
    start_stream_tool,
    status_lookup,
    str_slot,
    stream_tool,
    tool_names,
    walk_text_blocks,
)
from .base import (
    LLMRequest,
    LLMResponse,
    RequestError,
    RequestRewrite,
    Route,
    SSEEvent,
    StreamText,
    ToolCall,
    Usage,
)
from .openai_responses import tool_name

_CHAT_TEXT = frozenset({"text"})
# The error types OpenAI sends; its SDK picks the exception class by status, these are for the caller.
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error"}
_ERROR_TYPES |= {404: "not_found_error", 429: "rate_limit_error"}
_QUOTA_CODES = frozenset({"insufficient_quota", "quota_exceeded", "budget_exceeded"})
# (list of tools, the field that pins one, fields meaningless without tools); "functions" is the legacy form.
_TOOL_FIELDS = (("tools", "tool_choice", ("parallel_tool_calls",)), ("functions", "function_call", ()))
_DEPLOYMENT = re.compile(r"^(/openai/deployments/)([^/?]+)")


def _choice_names(choice: Any) -> set[Any]:
    """Tool names a tool_choice (or legacy function_call) pins, including an allowed_tools list."""
    if not isinstance(choice, dict):
        return set()
    names = set()
    allowed = get_dict(choice, "allowed_tools")
    for tool in [choice, *get_list(allowed, "tools"), *get_list(choice, "tools")]:
        name = tool_name(tool) if isinstance(tool, dict) else None
        if isinstance(name, str):
            names.add(name)
    return names


def _usage(u: dict[str, Any]) -> Usage:
    """Chat and embeddings report prompt/completion tokens, the Responses API input/output tokens."""
    if "input_tokens" in u or "output_tokens" in u:
        return responses_api.usage(u)
    cached = get_dict(u, "prompt_tokens_details").get("cached_tokens")
    return Usage(as_int(u.get("prompt_tokens")), as_int(u.get("completion_tokens")), as_int(cached))


def rewrite_azure_path(path: str, model: str) -> str | None:
    """Azure names the deployment in the path: /openai/deployments/{deployment}/..."""
    if not _DEPLOYMENT.match(path):
        return None
    return _DEPLOYMENT.sub(lambda m: m.group(1) + model, path, count=1)


class OpenAIAdapter:
    """OpenAI and OpenAI-compatible servers; the model is a body field."""

    name = "openai"
    credential_headers: tuple[str, ...] = ("authorization",)

    # --- requests ---

    def parse_request(self, route: Route, body: dict[str, Any]) -> LLMRequest:
        """Normalise a Chat Completions, Responses or embeddings body; list_models has none."""
        op = route.operation
        if op == "list_models":
            return LLMRequest(self.name, op, None, False, None)
        body = require_object(body)
        model = route.model if route.model else require_model(body)
        request = LLMRequest(self.name, op, model, optional_bool(body, "stream"), None)
        if op == "chat_completions":
            self._parse_chat(body, request)
        elif op == "responses":
            responses_api.parse_request(body, request)
        elif op == "embeddings":
            self._parse_embeddings(body, request)
        return request

    def _parse_chat(self, body: dict[str, Any], request: LLMRequest) -> None:
        messages = body.get("messages")
        if not isinstance(messages, list):
            raise RequestError("'messages' is required and must be an array")
        limit = optional_int(body, "max_completion_tokens")
        legacy = optional_int(body, "max_tokens")
        request.max_output_tokens = limit if limit is not None else legacy
        parts = request.parts
        for i, message in enumerate(messages):
            require_object(message, f"messages.{i}")
            raw_role = message.get("role")
            if not isinstance(raw_role, str):
                raise RequestError(f"'messages.{i}.role' is required and must be a string")
            role = ROLES.get(raw_role, "user")
            kind = "tool_result" if role == "tool" else "text"
            walk_text_blocks(parts, message.get("content"), i, role, ("messages", i, "content"), _CHAT_TEXT, kind)
            calls = optional_list(message, "tool_calls", f"messages.{i}.")
            for j, call in enumerate(calls or ()):
                require_object(call, f"messages.{i}.tool_calls.{j}")
                for key, field in (("function", "arguments"), ("custom", "input")):
                    inner = call.get(key)
                    if isinstance(inner, dict) and inner.get(field) is not None:
                        where = ("messages", i, "tool_calls", j, key, field)
                        add_part(parts, i, "assistant", "tool_call_arguments", inner[field], where, inner.get("name"))
            legacy_call = message.get("function_call")
            if isinstance(legacy_call, dict) and legacy_call.get("arguments") is not None:
                path = ("messages", i, "function_call", "arguments")
                add_part(parts, i, "assistant", "tool_call_arguments", legacy_call["arguments"], path, legacy_call.get("name"))
        request.message_count = len(messages)
        request.tools = tool_names(optional_list(body, "tools") or [], tool_name, "tools")
        request.tools += tool_names(optional_list(body, "functions") or [], tool_name, "functions")

    @staticmethod
    def _parse_embeddings(body: dict[str, Any], request: LLMRequest) -> None:
        items = body.get("input")
        if isinstance(items, str):
            add_part(request.parts, 0, "user", "text", items, ("input",))
            request.message_count = 1
        elif isinstance(items, list):
            for i, item in enumerate(items):
                if isinstance(item, str):  # token-id arrays carry no text to inspect
                    add_part(request.parts, i, "user", "text", item, ("input", i))
            request.message_count = len(items)
        else:
            raise RequestError("'input' is required and must be a string or an array")

    def rewrite_request(self, route: Route, body: dict[str, Any], rewrite: RequestRewrite) -> bool:
        """Model (when it is a body field), tool removal, output-token cap, stream usage reporting."""
        if not isinstance(body, dict):
            return False
        op = route.operation
        changed = False
        if route.model is None and op != "list_models":
            changed |= set_model(body, rewrite.model)
        if rewrite.remove_tools:
            changed |= self._remove_tools(body, rewrite.remove_tools)
        if rewrite.max_output_tokens is not None:
            if op == "chat_completions":
                keys = ("max_completion_tokens", "max_tokens")
                changed |= cap_tokens(body, keys, "max_completion_tokens", rewrite.max_output_tokens)
            elif op == "responses":
                changed |= cap_tokens(body, ("max_output_tokens",), "max_output_tokens", rewrite.max_output_tokens)
        if rewrite.include_stream_usage and op == "chat_completions" and body.get("stream") is True:
            options = body.get("stream_options")
            options = dict(options) if isinstance(options, dict) else {}
            if options.get("include_usage") is not True:
                options["include_usage"] = True
                body["stream_options"] = options
                changed = True
        return changed

    @staticmethod
    def _remove_tools(body: dict[str, Any], removed: frozenset[str]) -> bool:
        """Drop the named tools; with none left drop the fields that only make sense with tools, and drop a
        tool_choice that pins a removed tool (the model then chooses among the tools that remain)."""
        changed = False
        for list_key, choice_key, extra in _TOOL_FIELDS:
            tools = body.get(list_key)
            if isinstance(tools, list):
                kept = filter_named(tools, removed, tool_name)
                if len(kept) != len(tools):
                    changed = True
                    if kept:
                        body[list_key] = kept
                    else:
                        for key in (list_key, choice_key, *extra):
                            body.pop(key, None)
            if choice_key in body and _choice_names(body[choice_key]) & removed:
                del body[choice_key]
                changed = True
        return changed

    def upstream_auth_headers(self, credential: str) -> dict[str, str]:
        return {"authorization": f"Bearer {credential}"}

    def rewrite_path(self, path: str, model: str) -> str | None:
        return None

    # --- responses ---

    def parse_response(self, body: dict[str, Any], response: LLMResponse) -> None:
        """A buffered chat completion, Responses API response, embeddings result or error body."""
        if not isinstance(body, dict):
            return
        model = get_str(body, "model")
        if model:
            response.model = model
        if isinstance(body.get("error"), (dict, str)):
            response.error = error_message(body["error"])
        usage = body.get("usage")
        if isinstance(usage, dict):
            response.usage.merge(_usage(usage))
        if "choices" in body:
            for position, choice in enumerate(get_list(body, "choices")):
                self._chat_choice(choice, response, position)
        elif "output" in body:
            responses_api.parse_output(body, response)

    @staticmethod
    def _chat_choice(choice: Any, response: LLMResponse, position: int) -> None:
        message = get_dict(choice, "message")
        index = index_of(choice, "index", position) if isinstance(choice, dict) else position
        content = message.get("content")
        if isinstance(content, str):
            if content:
                response.add_text(content, index)
        else:
            for part in content if isinstance(content, list) else ():
                text = get_str(part, "text")
                if text:
                    response.add_text(text, index)
        refusal = get_str(message, "refusal")
        if refusal:
            response.add_text(refusal, index)
        for call in get_list(message, "tool_calls"):
            fn = get_dict(call, "function") or get_dict(call, "custom")
            args = fn.get("arguments", fn.get("input"))
            text = json_text(args) if args is not None else ""
            response.tool_calls.append(ToolCall(get_str(call, "id"), get_str(fn, "name") or "", text))
        legacy = get_dict(message, "function_call")
        if legacy:
            legacy_call = ToolCall(None, get_str(legacy, "name") or "", get_str(legacy, "arguments") or "")
            response.tool_calls.append(legacy_call)
        reason = get_str(choice, "finish_reason")
        if reason and response.finish_reason is None:
            response.finish_reason = reason

    def parse_stream_event(self, event: SSEEvent, response: LLMResponse) -> None:
        """One chat.completion.chunk, or one Responses API stream event; [DONE] and junk are ignored."""
        data = event_json(event)
        if data is None:
            return
        kind = data.get("type")
        if isinstance(kind, str) and (kind.startswith("response.") or kind == "error"):
            responses_api.parse_event(kind, data, response)
            return
        if isinstance(data.get("error"), (dict, str)):
            response.error = error_message(data["error"])
            return
        model = get_str(data, "model")
        if model:
            response.model = model
        for choice in get_list(data, "choices"):
            if isinstance(choice, dict):
                _chat_delta(choice, response)
        usage = data.get("usage")
        if isinstance(usage, dict):
            response.usage.merge(_usage(usage))

    # --- streamed text ---

    def stream_texts(self, event: SSEEvent) -> list[StreamText]:
        """Chat: delta content, refusal, reasoning and tool-call arguments per choice. Responses API: text,
        refusal, reasoning and argument deltas, and the *.done events and snapshots that repeat them."""
        return slot_texts(event, _stream_slots)

    def rewrite_stream_event(self, event: SSEEvent, texts: list[str]) -> bytes:
        return rewrite_slots(event, texts, _stream_slots)

    def encode_event(self, event: SSEEvent) -> bytes:
        """data: ... and a blank line ([DONE] included); event: lines (the Responses API's) kept."""
        return encode_sse(event)

    # --- errors ---

    def error_body(self, status: int, message: str, code: str) -> bytes:
        """{"error": {...}}: the SDK picks its exception class by status and shows error.message."""
        return dumps({"error": _error(status, message, code)})

    def stream_error_event(self, status: int, message: str, code: str) -> bytes:
        """A data event whose JSON has "error": the SDK raises APIError with its message mid-stream."""
        return sse_event({"error": _error(status, message, code)})


def _error(status: int, message: str, code: str) -> dict[str, Any]:
    kind = status_lookup(_ERROR_TYPES, status, "invalid_request_error", "server_error")
    if status == 429 and code in _QUOTA_CODES:
        kind = "insufficient_quota"
    return {"message": message, "type": kind, "param": None, "code": code}


def _chat_delta(choice: dict[str, Any], response: LLMResponse) -> None:
    index = as_int(choice.get("index")) or 0
    delta = get_dict(choice, "delta")
    for field in ("content", "refusal"):
        text = delta.get(field)
        if isinstance(text, str) and text:
            response.add_text(text, index)  # per choice: with n > 1 the choices' deltas interleave
    for fragment in get_list(delta, "tool_calls"):
        if not isinstance(fragment, dict):
            continue
        call_id = get_str(fragment, "id")
        slot = as_int(fragment.get("index"))
        key = ("chat", index, slot if slot is not None else call_id)
        fn = get_dict(fragment, "function") or get_dict(fragment, "custom")
        call = stream_tool(response, key)
        if call is None:
            call = start_stream_tool(response, (key,), ToolCall(call_id, get_str(fn, "name") or "", ""))
        else:
            call.id = call.id or call_id
            call.name = call.name or get_str(fn, "name") or ""
        args = fn.get("arguments", fn.get("input"))
        if isinstance(args, str):
            call.arguments += args
    legacy = get_dict(delta, "function_call")
    if legacy:
        key = ("chat", index, "function_call")
        call = stream_tool(response, key) or start_stream_tool(response, (key,), ToolCall(None, "", ""))
        call.name = call.name or get_str(legacy, "name") or ""
        call.arguments += get_str(legacy, "arguments") or ""
    reason = get_str(choice, "finish_reason")
    if reason:
        response.finish_reason = reason


def _stream_slots(data: dict[str, Any]) -> list[Slot]:
    kind = data.get("type")
    if isinstance(kind, str) and kind.startswith("response."):
        return responses_api.stream_slots(kind, data)
    slots: list[Slot] = []
    for position, choice in enumerate(get_list(data, "choices")):
        if isinstance(choice, dict):
            _chat_slots(choice, index_of(choice, "index", position), slots)
    return slots


def _chat_slots(choice: dict[str, Any], i: int, slots: list[Slot]) -> None:
    """One chunk choice's texts: content, refusal, reasoning (OpenAI-compatible servers), tool arguments."""
    delta = get_dict(choice, "delta")
    clear = _logprobs_dropper(choice)
    str_slot(delta, "content", f"choice:{i}", "text", slots, clear)
    str_slot(delta, "refusal", f"choice:{i}:refusal", "text", slots, clear)
    for key in ("reasoning_content", "reasoning"):
        str_slot(delta, key, f"choice:{i}:reasoning", "thinking", slots)
    for fragment in get_list(delta, "tool_calls"):
        if not isinstance(fragment, dict):
            continue
        slot = as_int(fragment.get("index"))
        tool = slot if slot is not None else get_str(fragment, "id") or ""
        fn = get_dict(fragment, "function") or get_dict(fragment, "custom")
        field = "arguments" if "arguments" in fn else "input"
        str_slot(fn, field, f"choice:{i}:tool:{tool}", "tool_call_arguments", slots)
    str_slot(get_dict(delta, "function_call"), "arguments", f"choice:{i}:function_call", "tool_call_arguments", slots)


def _logprobs_dropper(choice: dict[str, Any]) -> Callable[[], None] | None:
    """A callback that drops a choice's token logprobs, which would repeat a rewritten text token by token."""
    if choice.get("logprobs") is None:
        return None

    def drop() -> None:
        choice["logprobs"] = None

    return drop


class AzureOpenAIAdapter(OpenAIAdapter):
    """Azure OpenAI: OpenAI's body format, an api-key header, and the model (deployment) in the path."""

    name = "azure_openai"
    credential_headers: tuple[str, ...] = ("api-key", "authorization")

    def upstream_auth_headers(self, credential: str) -> dict[str, str]:
        return {"api-key": credential}

    def rewrite_path(self, path: str, model: str) -> str | None:
        return rewrite_azure_path(path, model)

"""Google Gemini's wire format: generateContent and streamGenerateContent (v1 and v1beta), list models.

The model and whether the call streams are in the path, not the body: the route carries them, and a model
rewrite is a path rewrite (rewrite_path), which the extproc layer applies. The REST API accepts both
camelCase and snake_case field names (systemInstruction / system_instruction), and a single object where
a list is expected (the API's examples send "contents": {...}); both are read here.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from ._common import (
    event_json,
    OBJECT_KIND,
    ROLES,
    Slot,
    add_part,
    as_int,
    cap_tokens,
    dotted,
    dumps,
    encode_sse,
    error_message,
    first_key,
    get_dict,
    get_list,
    get_str,
    index_of,
    json_text,
    optional_int,
    require_object,
    rewrite_slots,
    slot_texts,
    sse_event,
    status_lookup,
    str_slot,
)
from .base import (
    JsonPath,
    LLMRequest,
    LLMResponse,
    RequestError,
    RequestRewrite,
    Route,
    SSEEvent,
    StreamText,
    TextPart,
    ToolCall,
    Usage,
)

# google.rpc.Code names, as the API reports them; google-genai raises ClientError / ServerError by status.
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}
_STATUS |= {409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL", 501: "UNIMPLEMENTED"}
_STATUS |= {503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
_MODEL_IN_PATH = re.compile(r"^(/v1(?:beta)?/models/)([^/:?]+)(?=:)")
_DECLARATIONS = ("functionDeclarations", "function_declarations")
_JSON_PATH_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_CRLF = b"\r\n"  # the API ends its SSE lines with \r\n
_OPEN_CALL = "open_call"  # stream_state: the arguments of a function call whose parts are still streaming


def rewrite_path(path: str, model: str) -> str:
    """The same call naming another model: /v1beta/models/{model}:generateContent[?query].

    A path that names no model is returned unchanged.
    """
    return _MODEL_IN_PATH.sub(lambda m: m.group(1) + model, path, count=1)


def _items(value: Any, path: JsonPath, what: str) -> list[tuple[int, JsonPath, Any]]:
    """(index, path, item) for a list, or for a single object where the API accepts one."""
    if isinstance(value, list):
        return [(i, (*path, i), item) for i, item in enumerate(value)]
    if isinstance(value, dict):
        return [(0, path, value)]
    if value is None:
        return []
    raise RequestError(f"'{what}' must be an array")


def _parts(parts: list[TextPart], content: Any, index: int, role: str, path: JsonPath) -> None:
    """A Content's parts: text, functionCall args, functionResponse response; blobs and files skipped."""
    content = require_object(content, dotted(path))
    for _, part_path, part in _items(content.get("parts"), (*path, "parts"), f"{dotted(path)}.parts"):
        part = require_object(part, dotted(part_path))
        if part.get("text") is not None:  # proto JSON: null is the same as absent
            add_part(parts, index, role, "text", part["text"], (*part_path, "text"))
        call_key = first_key(part, "functionCall", "function_call")
        if call_key:
            call = get_dict(part, call_key)
            args = call.get("args")
            if args is not None:
                text = json_text(args)
                add_part(parts, index, "assistant", "tool_call_arguments", text, (*part_path, call_key, "args"), call.get("name"))
        result_key = first_key(part, "functionResponse", "function_response")
        if result_key:
            result = get_dict(part, result_key).get("response")
            if result is not None:
                add_part(parts, index, "tool", "tool_result", json_text(result), (*part_path, result_key, "response"))


def _tool_names(tool: dict[str, Any]) -> list[str]:
    """A Tool object's function declaration names, plus the key of each built-in tool (googleSearch, ...)."""
    names: list[str] = []
    for key, value in tool.items():
        if key not in _DECLARATIONS:
            names.append(key)
            continue
        for declaration in value if isinstance(value, list) else ():
            name = get_str(declaration, "name")
            if name:
                names.append(name)
    return names


def _usage(meta: dict[str, Any]) -> Usage:
    """Thinking tokens are billed as output, so they count into output_tokens."""
    output = as_int(meta.get("candidatesTokenCount"))
    thoughts = as_int(meta.get("thoughtsTokenCount"))
    if thoughts is not None:
        output = (output or 0) + thoughts
    return Usage(as_int(meta.get("promptTokenCount")), output, as_int(meta.get("cachedContentTokenCount")))


class GeminiAdapter:
    """Gemini API (generativelanguage.googleapis.com) generateContent and streamGenerateContent."""

    name = "gemini"
    credential_headers: tuple[str, ...] = ("x-goog-api-key",)

    def parse_request(self, route: Route, body: dict[str, Any]) -> LLMRequest:
        """contents (user/model turns), systemInstruction (message_index -1), maxOutputTokens, tools."""
        if route.operation == "list_models":
            return LLMRequest(self.name, route.operation, None, False, None)
        body = require_object(body)
        model = route.model or get_str(body, "model")
        request = LLMRequest(self.name, route.operation, model, route.stream, None)
        config_key = first_key(body, "generationConfig", "generation_config")
        if config_key:
            config = require_object(body[config_key], config_key)
            limit_key = first_key(config, "maxOutputTokens", "max_output_tokens")
            request.max_output_tokens = optional_int(config, limit_key) if limit_key else None
        system_key = first_key(body, "systemInstruction", "system_instruction")
        if system_key and body[system_key] is not None:
            _parts(request.parts, body[system_key], -1, "system", (system_key,))
        if body.get("contents") is None:
            raise RequestError("'contents' is required")
        contents = _items(body["contents"], ("contents",), "contents")
        for i, path, content in contents:
            raw_role = content.get("role") if isinstance(content, dict) else None
            role = ROLES.get(raw_role, "user") if isinstance(raw_role, str) else "user"
            _parts(request.parts, content, i, role, path)
        request.message_count = len(contents)
        for _, path, tool in _items(body.get("tools"), ("tools",), "tools"):
            request.tools += _tool_names(require_object(tool, dotted(path)))
        return request

    def rewrite_request(self, route: Route, body: dict[str, Any], rewrite: RequestRewrite) -> bool:
        """Tool removal and the maxOutputTokens cap. The model lives in the path: see rewrite_path."""
        if not isinstance(body, dict):
            return False
        changed = False
        if rewrite.remove_tools:
            changed = self._remove_tools(body, rewrite.remove_tools)
        if rewrite.max_output_tokens is not None:
            config_key = first_key(body, "generationConfig", "generation_config") or "generationConfig"
            config = body.get(config_key)
            if not isinstance(config, dict):
                config = body[config_key] = {}
            keys = ("maxOutputTokens", "max_output_tokens")  # set in the same case style as the config object
            default = keys[0] if config_key == "generationConfig" else keys[1]
            changed |= cap_tokens(config, keys, default, rewrite.max_output_tokens)
        return changed

    @staticmethod
    def _remove_tools(body: dict[str, Any], removed: frozenset[str]) -> bool:
        """Drop named function declarations and built-in tools; drop a Tool left empty, and the
        allowedFunctionNames that name removed functions (with no tools left, the whole toolConfig)."""
        tools = body.get("tools")
        tools = [tools] if isinstance(tools, dict) else tools
        if not isinstance(tools, list):
            return False
        changed = False
        kept_tools = []
        for tool in tools:
            if not isinstance(tool, dict):
                kept_tools.append(tool)
                continue
            new_tool = {}
            for key, value in tool.items():
                if key in _DECLARATIONS and isinstance(value, list):
                    kept = [d for d in value if get_str(d, "name") not in removed]
                    changed |= len(kept) != len(value)
                    if kept:
                        new_tool[key] = kept
                elif key in removed:
                    changed = True
                else:
                    new_tool[key] = value
            if new_tool:
                kept_tools.append(new_tool)
        if not changed:
            return False
        config_key = first_key(body, "toolConfig", "tool_config")
        if not kept_tools:
            body.pop("tools", None)
            if config_key:
                del body[config_key]
            return True
        body["tools"] = kept_tools
        tool_config = get_dict(body, config_key) if config_key else {}
        calling_key = first_key(tool_config, "functionCallingConfig", "function_calling_config")
        calling = get_dict(tool_config, calling_key) if calling_key else {}
        names_key = first_key(calling, "allowedFunctionNames", "allowed_function_names")
        names = calling.get(names_key) if names_key else None
        if names_key and isinstance(names, list):
            kept_names = [n for n in names if not (isinstance(n, str) and n in removed)]
            if kept_names:
                calling[names_key] = kept_names
            else:
                del calling[names_key]
        return True

    def upstream_auth_headers(self, credential: str) -> dict[str, str]:
        return {"x-goog-api-key": credential}

    def rewrite_path(self, path: str, model: str) -> str | None:
        return rewrite_path(path, model)

    def parse_response(self, body: dict[str, Any], response: LLMResponse) -> None:
        """A GenerateContentResponse, a JSON array of them (streamGenerateContent without alt=sse), or an error."""
        for item in body if isinstance(body, list) else [body]:
            if isinstance(item, dict):
                _fold(item, response)

    def parse_stream_event(self, event: SSEEvent, response: LLMResponse) -> None:
        """Each event carries one GenerateContentResponse (a slice of the answer, cumulative usage)."""
        data = event_json(event)
        if data is not None:
            _fold(data, response)

    def stream_texts(self, event: SSEEvent) -> list[StreamText]:
        """Per candidate: text parts (channel candidate:<i>), thought parts (candidate:<i>:thought),
        functionCall args as JSON text (candidate:<i>:part:<k>) and streamed partialArgs string values
        (candidate:<i>:args:<jsonPath>)."""
        return slot_texts(event, _stream_slots)

    def rewrite_stream_event(self, event: SSEEvent, texts: list[str]) -> bytes:
        return rewrite_slots(event, texts, _stream_slots, _CRLF)

    def encode_event(self, event: SSEEvent) -> bytes:
        """data: ... lines ending in \r\n, as the API sends them."""
        return encode_sse(event, _CRLF)

    def error_body(self, status: int, message: str, code: str) -> bytes:
        """{"error": {code, message, status, details}}: google-genai raises ClientError / ServerError."""
        return dumps(_error(status, message, code))

    def stream_error_event(self, status: int, message: str, code: str) -> bytes:
        """A data event whose JSON starts with "error": google-genai raises it mid-stream by error.code."""
        return sse_event(_error(status, message, code))


def _stream_slots(data: dict[str, Any]) -> list[Slot]:
    slots: list[Slot] = []
    for position, candidate in enumerate(get_list(data, "candidates")):
        if not isinstance(candidate, dict):
            continue
        i = index_of(candidate, "index", position)
        clear = _logprobs_dropper(candidate)
        for k, part in enumerate(get_list(get_dict(candidate, "content"), "parts")):
            if not isinstance(part, dict):
                continue
            if part.get("thought"):
                str_slot(part, "text", f"candidate:{i}:thought", "thinking", slots, clear)
            else:
                str_slot(part, "text", f"candidate:{i}", "text", slots, clear)
            call = part.get("functionCall")
            if not isinstance(call, dict):
                continue
            if isinstance(call.get("args"), dict):
                slots.append(Slot(call, "args", f"candidate:{i}:part:{k}", OBJECT_KIND))
            for partial in get_list(call, "partialArgs"):
                path = get_str(partial, "jsonPath")
                if path:
                    str_slot(partial, "stringValue", f"candidate:{i}:args:{path}", "tool_call_argument_string", slots)
    return slots


def _logprobs_dropper(candidate: dict[str, Any]) -> Callable[[], None] | None:
    """A callback that drops a candidate's logprobsResult, whose tokens would repeat a rewritten text."""
    if "logprobsResult" not in candidate:
        return None

    def drop() -> None:
        candidate.pop("logprobsResult", None)

    return drop


def _fold(body: dict[str, Any], response: LLMResponse) -> None:
    """One GenerateContentResponse (or error body) into response."""
    if isinstance(body.get("error"), (dict, str)):
        response.error = error_message(body["error"]) or "error"
    model = get_str(body, "modelVersion")
    if model:
        response.model = model
    for position, candidate in enumerate(get_list(body, "candidates")):
        index = candidate.get("index", position) if isinstance(candidate, dict) else position
        for part in get_list(get_dict(candidate, "content"), "parts"):
            if not isinstance(part, dict):
                continue
            text = part.get("text")
            if isinstance(text, str) and text and not part.get("thought"):
                response.add_text(text, index if isinstance(index, int) and not isinstance(index, bool) else position)
            call = part.get("functionCall")
            if isinstance(call, dict):
                _function_call(call, response)
        reason = get_str(candidate, "finishReason")
        if reason:
            response.finish_reason = reason
            _close_call(response)
    blocked = get_str(get_dict(body, "promptFeedback"), "blockReason")
    if blocked:
        response.finish_reason = blocked
    meta = body.get("usageMetadata")
    if isinstance(meta, dict):
        response.usage.merge(_usage(meta))


def _function_call(call: dict[str, Any], response: LLMResponse) -> None:
    """A functionCall part. Vertex AI can stream one call over many parts: the name with willContinue opens
    it, parts with partialArgs (a jsonPath and a value) fill its arguments in, a part without willContinue
    closes it. Arguments are serialised once, on close, so a long call costs linear time."""
    name = get_str(call, "name")
    if name is not None:
        _close_call(response)
        tool = ToolCall(get_str(call, "id"), name, "")
        response.tool_calls.append(tool)
        if call.get("willContinue") is True:
            response.stream_state[_OPEN_CALL] = {}
        else:
            tool.arguments = json_text(call.get("args") or {})
        return
    args = response.stream_state.get(_OPEN_CALL)
    if args is None:
        return
    for partial in get_list(call, "partialArgs"):
        _apply_partial(args, partial)
    if call.get("willContinue") is not True:
        _close_call(response)


def _close_call(response: LLMResponse) -> None:
    args = response.stream_state.pop(_OPEN_CALL, None)
    if args is not None and response.tool_calls:
        response.tool_calls[-1].arguments = json_text(args)


def _apply_partial(args: dict[str, Any], partial: Any) -> None:
    """Set the value a partialArgs entry carries at its jsonPath ($.a.b[0].c); string pieces concatenate."""
    path = get_str(partial, "jsonPath")
    if not path or not path.startswith("$") or not isinstance(partial, dict):
        return
    key = first_key(partial, "stringValue", "numberValue", "boolValue", "nullValue")
    if key is None:
        return
    value = None if key == "nullValue" else partial[key]
    steps: list[Any] = [m[1] if m[1] is not None else int(m[2]) for m in _JSON_PATH_STEP.finditer(path, 1)]
    node: Any = args
    for step, following in zip(steps, steps[1:] + [None]):
        last = following is None
        if isinstance(step, int):
            if not isinstance(node, list) or step > len(node):  # only the next element may be created
                return
            if step == len(node):
                node.append(None)
        elif not isinstance(node, dict):
            return
        if last:
            current = node[step] if isinstance(step, int) else node.get(step)
            node[step] = current + value if isinstance(current, str) and isinstance(value, str) else value
        else:
            child = node[step] if isinstance(step, int) else node.get(step)
            if not isinstance(child, (dict, list)):
                child = [] if isinstance(following, int) else {}
                node[step] = child
            node = child


def _error(status: int, message: str, code: str) -> dict[str, Any]:
    reason = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": code.upper(), "domain": "ztgate"}
    status_name = status_lookup(_STATUS, status, "FAILED_PRECONDITION", "INTERNAL")
    return {"error": {"code": status, "message": message, "status": status_name, "details": [reason]}}

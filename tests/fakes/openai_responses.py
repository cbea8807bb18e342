"""OpenAI's Responses API (POST /v1/responses): its request reader and JSON/SSE answer shapes.

It shares OpenAI's dialect (credentials, errors, headers) but nothing of chat completions' wire
format: items instead of messages, and a typed, sequence-numbered event stream.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import orjson
from aiohttp import web

from .common import Answer, Conversation, Turn, fold, new_id, part_texts, plan
from .openai import OPENAI
from .sse import Events, sse_event
from .wire import json_body, prelude, reply


def read_responses(body: dict) -> Conversation:
    """instructions and input (a string or items); a function_call_output is a user-side tool result."""
    turns: list[Turn] = []
    instructions = body.get("instructions")
    items: list[Any] = []
    if isinstance(instructions, str):
        turns.append(([instructions], [], False))
    elif isinstance(instructions, list):
        items.extend(instructions)
    inp = body.get("input")
    if isinstance(inp, str):
        turns.append(([inp], [inp], True))
    elif isinstance(inp, list):
        items.extend(inp)
    for item in items:
        if not isinstance(item, dict):
            continue
        typ = item.get("type")
        if typ in ("function_call_output", "custom_tool_call_output"):
            turns.append((part_texts(item.get("output")), [], True))
        elif item.get("role") is not None and typ in (None, "message"):
            ts = part_texts(item.get("content"))
            turns.append((ts, ts, item.get("role") == "user"))
    tool = None
    for t in body.get("tools") or ():
        if isinstance(t, dict) and t.get("type") == "function" and t.get("name"):
            tool = (t["name"], t.get("parameters"))
            break
    return fold(turns, tool)


def _usage(a: Answer) -> dict:
    return {
        "input_tokens": a.input_tokens,
        "input_tokens_details": {"cached_tokens": a.cached_tokens},
        "output_tokens": a.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": a.input_tokens + a.output_tokens,
    }


def _response_object(
    a: Answer, rid: str, created: int, body: dict, *, status: str, output: list, usage: dict | None
) -> dict:
    """The response object; request settings are echoed back as the real API does."""
    return {
        "id": rid,
        "object": "response",
        "created_at": created,
        "status": status,
        "background": False,
        "completed_at": created if status == "completed" else None,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": None,
        "model": a.model,
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "prompt_cache_key": None,
        "reasoning": {"effort": None, "summary": None},
        "safety_identifier": None,
        "service_tier": "default",
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_logprobs": 0,
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": body.get("metadata") or {},
    }


def _items(a: Answer, item_id: str) -> tuple[dict, dict]:
    """(output item as first announced, output item when done)."""
    if a.is_tool:
        done = {
            "id": item_id,
            "type": "function_call",
            "status": "completed",
            "arguments": a.tool_args,
            "call_id": a.tool_id,
            "name": a.tool_name,
        }
        return {**done, "status": "in_progress", "arguments": ""}, done
    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": a.text}
    done = {"id": item_id, "type": "message", "status": "completed", "content": [part], "role": "assistant"}
    return {**done, "status": "in_progress", "content": []}, done


def render_json(a: Answer, rid: str, item_id: str, created: int, body: dict) -> bytes:
    _, done = _items(a, item_id)
    return orjson.dumps(_response_object(a, rid, created, body, status="completed", output=[done], usage=_usage(a)))


def render_sse(a: Answer, rid: str, item_id: str, created: int, body: dict) -> Events:
    seq = itertools.count()

    def ev(typ: str, **fields: Any) -> bytes:
        return sse_event(typ, {"type": typ, "sequence_number": next(seq), **fields})

    added, done = _items(a, item_id)
    in_progress = _response_object(a, rid, created, body, status="in_progress", output=[], usage=None)
    head = [
        ev("response.created", response=in_progress),
        ev("response.in_progress", response=in_progress),
        ev("response.output_item.added", output_index=0, item=added),
    ]
    loc: dict[str, Any] = {"item_id": item_id, "output_index": 0}
    if a.is_tool:
        body_events = [ev("response.function_call_arguments.delta", **loc, delta=p) for p in a.pieces]
        tail = [ev("response.function_call_arguments.done", **loc, arguments=a.tool_args)]
    else:
        empty_part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
        loc["content_index"] = 0
        head.append(ev("response.content_part.added", **loc, part=empty_part))
        body_events = [ev("response.output_text.delta", **loc, delta=p, logprobs=[]) for p in a.pieces]
        tail = [
            ev("response.output_text.done", **loc, text=a.text, logprobs=[]),
            ev("response.content_part.done", **loc, part=done["content"][0]),
        ]
    tail.append(ev("response.output_item.done", output_index=0, item=done))
    completed = _response_object(a, rid, created, body, status="completed", output=[done], usage=_usage(a))
    tail.append(ev("response.completed", response=completed))
    return head, body_events, tail


async def responses(request: web.Request) -> web.StreamResponse:
    """POST /v1/responses"""
    knobs = await prelude(request, OPENAI)
    body = json_body(request, "model")
    stream = bool(body.get("stream"))
    a = plan(read_responses(body), str(body["model"]), knobs, stream=stream)
    rid = new_id("resp_")
    if a.is_tool:
        a.tool_id = new_id("call_")
        item_id = new_id("fc_")
    else:
        item_id = new_id("msg_")
    created = int(time.time())
    return await reply(
        request,
        OPENAI,
        a,
        knobs,
        stream=stream,
        render_json=lambda: render_json(a, rid, item_id, created, body),
        render_events=lambda: render_sse(a, rid, item_id, created, body),
    )

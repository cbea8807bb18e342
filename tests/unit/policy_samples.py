"""Sample policy inputs shared by the engine tests (embedded and remote decide the same inputs)."""

from __future__ import annotations

from ztgate.identity.base import Identity
from ztgate.policy.http import HttpInfo
from ztgate.providers.base import LLMRequest, TextPart

HTTP = HttpInfo(id="r1", method="POST", path="/v1/chat/completions", host="api.openai.com", source_address="10.0.0.1:5000")


def request(model: str, *, max_tokens: int | None = None, tools: list[str] | None = None) -> LLMRequest:
    return LLMRequest(
        provider="openai",
        operation="chat_completions",
        model=model,
        stream=False,
        max_output_tokens=max_tokens,
        parts=[TextPart(0, "user", "text", "hello", ("messages", 0, "content"))],
        tools=tools or [],
        message_count=1,
    )


def person(*groups: str) -> Identity:
    return Identity(subject="alice", method="api_key", groups=groups, key_id="k1")

"""Token estimates when a provider reports no usage: exact for OpenAI models, a sane band otherwise."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ztgate.providers.base import LLMRequest, TextPart
from ztgate.usage import estimate
from ztgate.usage.estimate import approximate_tokens, encoding_for, estimate_request_tokens, estimate_tokens

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_the_exact_tokenizer_loads_offline() -> None:
    # bpe-openai's tables are inside the wheel: no download, so this works on a machine without network.
    assert estimate.preload()


# Counts tiktoken gives for these strings (OpenAI's cookbook examples and well-known ids).
@pytest.mark.parametrize(
    ("text", "model", "tokens"),
    [
        ("hello world", "gpt-4", 2),
        ("tiktoken is great!", "gpt-3.5-turbo", 6),
        ("antidisestablishmentarianism", "gpt-4", 6),
        ("お誕生日おめでとう", "gpt-4", 9),
        ("tiktoken is great!", "gpt-4o", 6),
        ("Hello, world!", "gpt-4o", 4),
        ("お誕生日おめでとう", "gpt-4o-mini", 8),
    ],
)
def test_openai_models_are_counted_like_tiktoken(text: str, model: str, tokens: int) -> None:
    assert estimate_tokens(text, model, "openai") == tokens


@pytest.mark.parametrize(
    ("model", "provider", "encoding"),
    [
        ("gpt-4o-2024-08-06", "openai", "o200k_base"),
        ("gpt-4.1-nano", "openai", "o200k_base"),
        ("o3-mini", None, "o200k_base"),
        ("gpt-5", "azure_openai", "o200k_base"),
        ("gpt-4", "openai", "cl100k_base"),
        ("gpt-4-turbo", "openai", "cl100k_base"),
        ("gpt-35-turbo", "azure_openai", "cl100k_base"),
        ("text-embedding-3-small", "openai", "cl100k_base"),
        ("llama3", "openai", "o200k_base"),  # a self-hosted OpenAI-compatible server: o200k as a stand-in
        ("claude-sonnet-4-5", "anthropic", None),
        ("claude-sonnet-4-5", "openai", None),  # through an OpenAI-shaped proxy
        ("gemini-2.5-pro", "gemini", None),
        (None, None, None),
    ],
)
def test_each_model_gets_its_tokenizer(model: str | None, provider: str | None, encoding: str | None) -> None:
    assert encoding_for(model, provider) == encoding


def test_anthropic_and_gemini_estimates_stay_in_a_sane_band_of_real_counts() -> None:
    prose = README[:4096]
    cjk = "東京は日本の首都であり、世界で最も人口の多い都市圏の一つです。" * 20
    russian = "Москва — столица России, крупнейший по численности населения город страны. " * 10
    for text in (prose, cjk, russian):
        real = estimate_tokens(text, "gpt-4o", "openai")  # a real modern BPE count as the yardstick
        for provider in ("anthropic", "gemini"):
            approx = estimate_tokens(text, None, provider)
            assert 0.8 * real <= approx <= 2.0 * real, (provider, text[:20], approx, real)


def test_the_approximation_counts_cjk_characters_one_each() -> None:
    assert approximate_tokens("a" * 35, "anthropic") == 10
    assert approximate_tokens("a" * 40, "gemini") == 10
    assert approximate_tokens("日本語", "anthropic") == 3
    assert approximate_tokens("x", "anthropic") == 1
    assert approximate_tokens("", "anthropic") == 0


def test_estimates_never_raise() -> None:
    for text in ("", "\ud800 a lone surrogate", "\x00" * 10, None, 42):
        assert estimate_tokens(text, "gpt-4o", "openai") >= 0  # type: ignore[arg-type]
        assert estimate_tokens(text, "claude-3-5-haiku", "anthropic") >= 0  # type: ignore[arg-type]
    assert estimate_tokens("hello", 3, "openai") >= 1  # type: ignore[arg-type]


def test_huge_texts_are_scaled_from_their_head_not_counted_whole() -> None:
    text = README[:4096] * 64  # 256 KB
    exact_head = estimate_tokens(text[: estimate.EXACT_MAX_CHARS], "gpt-4o", "openai")
    scaled = estimate_tokens(text, "gpt-4o", "openai")
    assert scaled == pytest.approx(exact_head * len(text) / estimate.EXACT_MAX_CHARS, rel=0.01)


def test_a_4kb_prompt_is_counted_well_under_half_a_millisecond() -> None:
    prompt = README[:4096]
    estimate_tokens(prompt, "gpt-4o", "openai")
    runs = 200
    best = float("inf")
    for _ in range(3):
        t0 = time.process_time()
        for _ in range(runs):
            estimate_tokens(prompt, "gpt-4o", "openai")
        best = min(best, (time.process_time() - t0) / runs)
    assert best < 0.0005, f"{best * 1e6:.0f} us"


def test_a_request_counts_its_texts_plus_message_and_tool_overhead() -> None:
    parts = [
        TextPart(-1, "system", "text", "You are a helpful assistant.", ("system",)),
        TextPart(0, "user", "text", "hello world", ("messages", 0, "content")),
        TextPart(1, "assistant", "tool_call_arguments", '{"q": "weather"}', ("messages", 1), name="search"),
    ]
    llm = LLMRequest("openai", "chat_completions", "gpt-4o", False, None, parts, ["search"], message_count=2)
    text_tokens = estimate_tokens("\n".join(p.text for p in parts), "gpt-4o", "openai")
    overhead = 3 * estimate.TOKENS_PER_MESSAGE + estimate.TOKENS_PER_REQUEST
    tool = estimate.TOKENS_PER_TOOL + estimate_tokens("search", "gpt-4o", "openai")
    assert estimate_request_tokens(llm) == text_tokens + overhead + tool
    empty = LLMRequest("anthropic", "messages", "claude-3-5-haiku", False, None)
    assert estimate_request_tokens(empty) == estimate.TOKENS_PER_REQUEST

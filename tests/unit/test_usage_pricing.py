"""Cost per exchange from the price table: what a user reads in the audit line and the usage report."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from ztgate.usage.pricing import Price, PriceTable


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.load()


def test_shipped_table_covers_the_current_models_of_each_provider(table: PriceTable) -> None:
    for model in (
        "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o3", "o3-mini", "o4-mini",
        "gpt-5", "gpt-5-mini", "gpt-5-nano",
        "claude-3-5-haiku", "claude-3-5-sonnet", "claude-3-7-sonnet", "claude-sonnet-4", "claude-opus-4",
        "claude-haiku-4-5", "claude-sonnet-4-5",
        "gemini-2.0-flash", "gemini-2.0-flash-lite", "gemini-1.5-pro", "gemini-1.5-flash",
        "gemini-2.5-pro", "gemini-2.5-flash",
    ):  # fmt: skip
        price = table.price(model)
        assert price is not None, model
        assert price.output >= price.input > 0, model


def test_shipped_table_says_where_it_comes_from() -> None:
    raw = json.loads(resources.files("ztgate.usage").joinpath("prices.json").read_text())
    assert "not authoritative" in raw["_source"]
    assert raw["_as_of"][:2] == "20"


def test_openai_cached_tokens_are_part_of_prompt_tokens(table: PriceTable) -> None:
    # gpt-4o: 2.50 input, 1.25 cached, 10.00 output per 1M. prompt_tokens=1M of which 400k cached.
    cost = table.cost("gpt-4o", "openai", input_tokens=1_000_000, output_tokens=100_000, cached_input_tokens=400_000)
    assert cost == pytest.approx(0.6 * 2.5 + 0.4 * 1.25 + 0.1 * 10.0)
    # Azure OpenAI reports the same way.
    assert table.cost("gpt-4o", "azure_openai", input_tokens=1_000_000, output_tokens=100_000,
                      cached_input_tokens=400_000) == pytest.approx(cost)  # fmt: skip


def test_anthropic_cache_reads_and_writes_are_billed_apart_from_input(table: PriceTable) -> None:
    # claude-sonnet-4-5: 3 input, 0.30 cache read, 3.75 cache write, 15 output per 1M.
    cost = table.cost(
        "claude-sonnet-4-5-20250929", "anthropic",
        input_tokens=1000, output_tokens=500, cached_input_tokens=10_000, cache_creation_input_tokens=2000,
    )  # fmt: skip
    assert cost == pytest.approx((1000 * 3 + 10_000 * 0.3 + 2000 * 3.75 + 500 * 15) / 1e6)


def test_gemini_cached_content_is_part_of_the_prompt_count(table: PriceTable) -> None:
    # gemini-2.0-flash: 0.10 input, 0.025 cached, 0.40 output per 1M.
    cost = table.cost("models/gemini-2.0-flash-001", "gemini", input_tokens=10_000, output_tokens=2000,
                      cached_input_tokens=8000)  # fmt: skip
    assert cost == pytest.approx((2000 * 0.1 + 8000 * 0.025 + 2000 * 0.4) / 1e6)


def test_long_prompts_are_billed_at_the_long_context_tier(table: PriceTable) -> None:
    short = table.cost("gemini-2.5-pro", "gemini", input_tokens=200_000, output_tokens=1000)
    long = table.cost("gemini-2.5-pro", "gemini", input_tokens=250_000, output_tokens=1000)
    assert short == pytest.approx((200_000 * 1.25 + 1000 * 10) / 1e6)
    assert long == pytest.approx((250_000 * 2.5 + 1000 * 15) / 1e6)


def test_without_a_provider_claude_is_billed_the_anthropic_way(table: PriceTable) -> None:
    anthropic = table.cost("claude-3-5-haiku", "anthropic", input_tokens=100, output_tokens=0, cached_input_tokens=100)
    assert table.cost("claude-3-5-haiku", None, input_tokens=100, output_tokens=0, cached_input_tokens=100) == anthropic
    assert anthropic == pytest.approx((100 * 0.8 + 100 * 0.08) / 1e6)


def test_missing_or_odd_counts_do_not_break_the_sum(table: PriceTable) -> None:
    assert table.cost("gpt-4o", "openai", input_tokens=None, output_tokens=None) == 0.0
    # More cached than prompt tokens (a confused server): cached capped at the prompt, never negative.
    assert table.cost("gpt-4o", "openai", input_tokens=10, output_tokens=0, cached_input_tokens=50) == pytest.approx(
        10 * 1.25 / 1e6
    )


@pytest.mark.parametrize(
    ("name", "provider", "like"),
    [
        ("gpt-4o-2024-08-06", "openai", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "openai", "gpt-4o-mini"),
        ("gpt-5-mini-2025-08-07", "openai", "gpt-5-mini"),
        ("o3-mini-2025-01-31", None, "o3-mini"),
        ("gpt-4-0613", "openai", "gpt-4"),
        ("claude-3-5-haiku-20241022", "anthropic", "claude-3-5-haiku"),
        ("claude-3-5-haiku-latest", "anthropic", "claude-3-5-haiku"),
        ("claude-haiku-4-5-20251001", "anthropic", "claude-haiku-4-5"),
        ("claude-sonnet-4-20250514", "anthropic", "claude-sonnet-4"),
        ("claude-3-5-sonnet-v2@20241022", None, "claude-3-5-sonnet"),  # Vertex AI
        ("anthropic.claude-3-5-sonnet-20241022-v2:0", None, "claude-3-5-sonnet"),  # Bedrock
        ("models/gemini-2.5-flash", "gemini", "gemini-2.5-flash"),
        ("gemini-1.5-flash-002", "gemini", "gemini-1.5-flash"),
        ("gemini-2.5-flash-lite-preview-06-17", "gemini", "gemini-2.5-flash-lite"),
        ("GPT-4o", "openai", "gpt-4o"),
        ("openai/gpt-4.1-mini", None, "gpt-4.1-mini"),
    ],
)
def test_snapshots_and_aliases_resolve_to_their_family(
    table: PriceTable, name: str, provider: str | None, like: str
) -> None:
    assert table.price(name, provider) == table.price(like)


def test_a_snapshot_priced_apart_keeps_its_own_price(table: PriceTable) -> None:
    assert table.price("gpt-4o-2024-05-13") == Price(input=5.0, output=15.0)
    assert table.price("gpt-4o-2024-05-13") != table.price("gpt-4o")
    assert table.price("gemini-2.5-flash-lite") != table.price("gemini-2.5-flash")


def test_unknown_models_have_no_price_rather_than_a_guess(table: PriceTable) -> None:
    # A newer version is not priced as its older sibling: the cost stays unknown until data says it.
    for name in ("gpt-5.9", "claude-opus-4-9", "llama-3.1-70b", "my-deployment", "", None):
        assert table.price(name) is None, name
    assert table.cost("llama-3.1-70b", "openai", input_tokens=100, output_tokens=100) is None


def test_overrides_from_policy_data_win_per_model() -> None:
    table = PriceTable.load(
        {
            "gpt-4o": {"input": 2.0, "output": 8.0},  # a negotiated price, no cache discount listed
            "acme-llm*": {"input": 1.0, "output": 2.0},
            "acme-llm-large*": {"input": 5.0, "output": 10.0},
            "azure_openai:gpt-4o-mini": {"input": 0.2, "output": 0.8},
            "gpt-4": None,
        }
    )
    assert table.price("gpt-4o-2024-08-06", "openai") == Price(2.0, 8.0)
    # An override replaces the entry whole: cached tokens now at the input price.
    assert table.cost("gpt-4o", "openai", input_tokens=100, output_tokens=0, cached_input_tokens=100) == pytest.approx(
        2e-4
    )
    assert table.price("acme-llm-7b") == Price(1.0, 2.0)
    assert table.price("acme-llm-large-v3") == Price(5.0, 10.0)  # the longest pattern wins
    assert table.price("gpt-4o-mini", "azure_openai") == Price(0.2, 0.8)
    assert table.price("gpt-4o-mini", "openai") == PriceTable.load().price("gpt-4o-mini")
    assert table.price("gpt-4") is None
    assert table.price("claude-3-5-haiku") is not None  # the other defaults stay


@pytest.mark.parametrize(
    "bad",
    [{"m": {"input": 1.0}}, {"m": {"input": -1, "output": 1}}, {"m": {"input": "1", "output": 1}}, {"m": [1, 2]},
     {"m": {"input": 1, "output": 1, "long_context": {"input": 2, "output": 2}}}],
)  # fmt: skip
def test_malformed_overrides_are_refused_with_the_model_named(bad: dict) -> None:
    with pytest.raises(ValueError, match="'m'"):
        PriceTable.load(bad)

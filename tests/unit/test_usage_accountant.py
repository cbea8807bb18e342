"""The accountant: limits from the decision become one atomic reservation, settled to what was used."""

from __future__ import annotations

import pytest

from ztgate.identity.base import Identity
from ztgate.providers.base import LLMRequest, LLMResponse, Usage
from ztgate.usage.accountant import Accountant, Admission, Refused
from ztgate.usage.anomaly import Baselines
from ztgate.usage.estimate import estimate_request_tokens
from ztgate.usage.memory_store import MemoryStore
from ztgate.usage.pricing import PriceTable
from ztgate.usage.store import Counter

IVAN = Identity(subject="ivan", method="api_key", groups=("interns",), key_id="k")
LLM = LLMRequest("openai", "chat_completions", "gpt-4o-mini", False, 100)
TOKENS = Counter("identity", "ivan", "day", "tokens")


def accountant() -> Accountant:
    return Accountant(MemoryStore(), PriceTable.load(), Baselines(), default_output_reserve=500)


async def test_limits_on_the_same_counter_charge_it_once_against_the_tightest() -> None:
    acc = accountant()
    limits = [
        {"name": "interns per person", "scope": "identity", "key": "ivan", "window": "day", "tokens": 100_000},
        {"name": "ivan's own", "scope": "identity", "key": "ivan", "window": "day", "tokens": 300},
    ]
    first = await acc.admit(LLM, limits, 100, 20)
    assert isinstance(first, Admission) and len(first.charges) == 1
    assert (await acc.store.read([TOKENS], first.at)) == [120.0]
    second = await acc.admit(LLM, limits, 100, 20)
    assert isinstance(second, Admission)
    third = await acc.admit(LLM, limits, 100, 20)
    assert isinstance(third, Refused) and third.limit == "ivan's own" and third.retry_after_s >= 1
    assert "240 of 300 tokens" in third.message


async def test_settlement_keeps_what_was_used_and_frees_the_slot() -> None:
    acc = accountant()
    limits = [
        {"name": "tokens", "scope": "identity", "key": "ivan", "window": "day", "tokens": 10_000},
        {"name": "streams", "scope": "identity", "key": "ivan", "concurrent": 1},
    ]
    admission = await acc.admit(LLM, limits, None, 40)
    assert isinstance(admission, Admission) and admission.output_reserve == 500
    assert isinstance(await acc.admit(LLM, limits, None, 40), Refused), "one stream at a time"
    settled = acc.account(LLM, LLMResponse(usage=Usage(input_tokens=35, output_tokens=12)), 40)
    assert not settled.estimated and settled.cost_usd and settled.cost_usd > 0
    await acc.settle(admission, settled, identity=IVAN, llm=LLM, findings={}, reached_provider=True)
    concurrent = Counter("identity", "ivan", "none", "concurrent")
    assert await acc.store.read([TOKENS, concurrent], admission.at) == [47.0, 0.0]
    rows = await acc.store.report("1970-01-01", "2999-12-31", "identity")
    assert rows[0]["key"] == "ivan" and rows[0]["input_tokens"] == 35 and rows[0]["requests"] == 1


async def test_an_exchange_that_never_reached_the_provider_releases_everything() -> None:
    acc = accountant()
    limits = [{"name": "requests", "scope": "identity", "key": "ivan", "window": "minute", "requests": 1}]
    admission = await acc.admit(LLM, limits, 100, 10)
    assert isinstance(admission, Admission)
    await acc.settle(admission, None, identity=IVAN, llm=LLM, findings={}, reached_provider=False)
    assert isinstance(await acc.admit(LLM, limits, 100, 10), Admission)


def test_missing_provider_usage_is_estimated_and_marked() -> None:
    settled = accountant().account(LLM, LLMResponse(text=["a few words of streamed output"]), 30)
    assert settled.estimated and settled.usage.input_tokens == estimate_request_tokens(LLM)
    assert settled.usage.output_tokens > 0


async def test_the_snapshot_shows_the_callers_counters_for_the_policy() -> None:
    acc = accountant()
    admission = await acc.admit(LLM, [{"scope": "group", "key": "interns", "window": "hour", "requests": 5}], 100, 10)
    assert isinstance(admission, Admission)
    usage = await acc.snapshot(IVAN, LLM, {})
    assert usage["groups"]["interns"]["hour"]["requests"] == 1.0
    assert usage["identity"]["day"]["tokens"] == 0.0 and usage["input_tokens_estimate"] > 0
    assert usage["anomaly"]["score"] == 0


@pytest.mark.parametrize("limit", [{"scope": "team", "key": "x", "window": "day", "tokens": 1}, {"scope": "identity", "key": "x", "window": "week", "tokens": 1}])
async def test_a_malformed_limit_is_ignored_not_fatal(limit: dict) -> None:
    assert isinstance(await accountant().admit(LLM, [limit], 100, 10), Admission)

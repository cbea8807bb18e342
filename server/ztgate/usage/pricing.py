"""What an exchange cost: a price table per model, and the arithmetic of each provider's usage fields.

The shipped table (prices.json beside this module) holds the providers' public list prices as best
known when it was written (its "_as_of"): defaults to be overridden, not an authoritative price list.
Operators override or add models in policy data, `data.ztgate.config.prices`, in the same shape:

    {"gpt-4o*": {"input": 2.5, "output": 10, "cached_input": 1.25},        # USD per 1M tokens
     "azure_openai:gpt-4o": {"input": 2.75, "output": 11},                  # this provider only
     "claude-sonnet-4": {"input": 3, "output": 15, "cached_input": 0.3, "cache_write": 3.75,
                         "long_context": {"above": 200000, "input": 6, "output": 22.5}},
     "gpt-4": null}                                                         # no price: cost unknown

An override replaces the default entry of the same key whole (a field it leaves out is not inherited:
an entry without cached_input bills cached tokens at the input price). Keys starting with "_" are notes.

How a model name finds its price (first hit wins; names are lower-cased, a path such as Gemini's
"models/" or a router's "openai/" and a Bedrock "anthropic." prefix are dropped first):
  1. the exact name, e.g. "gpt-4o-2024-05-13" (priced apart from later gpt-4o snapshots);
  2. the name without its snapshot suffix, repeatedly: "-2024-08-06" (OpenAI), "-20250929" (Anthropic),
     "@20241022" (Vertex), "-v2:0" (Bedrock), "-001" (Gemini), "-latest", "-preview[-05-20]", "-exp":
     "claude-sonnet-4-5-20250929" -> "claude-sonnet-4-5". A newer version such as "gpt-5.4" is NOT
     priced as "gpt-5": an unknown model costs None, which says "add a price", rather than a wrong number;
  3. the longest pattern ("acme-*") the raw name starts with.
A "provider:name" key is tried before a plain one at each step, so a provider can be priced apart.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

# Providers whose input count INCLUDES the cached tokens (OpenAI prompt_tokens with
# prompt_tokens_details.cached_tokens; Gemini promptTokenCount with cachedContentTokenCount); the rest
# of input is billed at the input price. Anthropic's input_tokens EXCLUDES cache_read_input_tokens and
# cache_creation_input_tokens, which are billed on their own.
_CACHED_INCLUDED = frozenset({"openai", "azure_openai", "gemini"})

_SNAPSHOT = re.compile(
    r"(?:-\d{4}-\d{2}-\d{2}|-\d{8}|@\d{8}|-v\d+(?::\d+)?|-\d{3,4}|-latest"
    r"|-preview(?:-\d{2}-\d{2,4})?|-exp(?:-\d{4})?)$"
)
_VENDOR_DOT = re.compile(r"^(?:(?:us|eu|apac|global)\.)?(?:anthropic|openai|google|meta)\.")
_CACHE_LIMIT = 4096  # resolved names remembered; model names in real traffic are few


@dataclass(frozen=True, slots=True)
class Price:
    """USD per 1M tokens. cached_input / cache_write None: billed at the input price."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None
    # Long-context tier (Gemini 2.5 Pro, Claude Sonnet 4 with 1M context): when the prompt (input incl.
    # cached tokens) exceeds long_context_above tokens, the whole exchange is billed at long_context.
    long_context_above: int | None = None
    long_context: Price | None = None

    @classmethod
    def from_json(cls, key: str, value: Any) -> Price:
        """One table entry; ValueError naming the key for anything that is not a sane price."""
        if not isinstance(value, Mapping):
            raise ValueError(f"price for {key!r}: expected an object, got {type(value).__name__}")

        def rate(name: str, required: bool) -> float | None:
            v = value.get(name)
            if v is None and not required:
                return None
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"price for {key!r}: {name} must be a non-negative number, got {v!r}")
            return float(v)

        inp, out = rate("input", True), rate("output", True)
        assert inp is not None and out is not None
        long_ctx, above = None, None
        if value.get("long_context") is not None:
            lc = value["long_context"]
            above = lc.get("above") if isinstance(lc, Mapping) else None
            if isinstance(above, bool) or not isinstance(above, int) or above <= 0:
                raise ValueError(f"price for {key!r}: long_context.above must be a positive integer")
            long_ctx = cls.from_json(key + " long_context", {k: v for k, v in lc.items() if k != "above"})
        return cls(inp, out, rate("cached_input", False), rate("cache_write", False), above, long_ctx)


def cached_included(provider: str | None, model: str | None) -> bool:
    """Whether this provider's input token count already includes its cached tokens (see _CACHED_INCLUDED).
    Without a provider, a "claude" model is taken for Anthropic's arithmetic and anything else for
    OpenAI's (what OpenAI-compatible servers report)."""
    if provider:
        return provider in _CACHED_INCLUDED
    return not normalise(model or "").startswith("claude")


def normalise(model: str) -> str:
    """The name a price is looked up by: lower case, without path ("models/", "openai/") or Bedrock prefix."""
    name = model.strip().lower()
    name = name.rsplit("/", 1)[-1]
    return _VENDOR_DOT.sub("", name)


class PriceTable:
    """Prices by model name; see the module docstring for the lookup rules. Immutable once loaded."""

    def __init__(self, entries: Mapping[str, Price]) -> None:
        self._exact: dict[str, Price] = {}
        patterns: list[tuple[str, Price]] = []
        for key, price in entries.items():
            key = key.strip().lower()
            if key.endswith("*"):
                patterns.append((key[:-1], price))
            else:
                self._exact[key] = price
        self._patterns = sorted(patterns, key=lambda p: len(p[0]), reverse=True)
        self._cache: dict[tuple[str, str | None], Price | None] = {}

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None) -> PriceTable:
        """The shipped defaults with overrides (same shape as prices.json) on top; overrides win per key,
        whole entries, and a null override removes a default. ValueError for a malformed entry."""
        text = resources.files("ztgate.usage").joinpath("prices.json").read_text(encoding="utf-8")
        raw: dict[str, Any] = json.loads(text)
        if overrides:
            if not isinstance(overrides, Mapping):
                raise ValueError("prices: expected an object of model -> price")
            lowered = {str(k).strip().lower(): v for k, v in overrides.items()}
            raw = {k: v for k, v in raw.items() if k.strip().lower() not in lowered}
            raw.update(lowered)
        return cls({k: Price.from_json(k, v) for k, v in raw.items() if not k.startswith("_") and v is not None})

    def __len__(self) -> int:
        return len(self._exact) + len(self._patterns)

    def price(self, model: str | None, provider: str | None = None) -> Price | None:
        """The price of a model (for a provider), or None when the table does not know it."""
        if not model or not isinstance(model, str):
            return None
        key = (model, provider)
        try:
            return self._cache[key]
        except KeyError:
            pass
        found = self._resolve(normalise(model), provider)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = found
        return found

    def _resolve(self, name: str, provider: str | None) -> Price | None:
        prefixes = (f"{provider.lower()}:", "") if provider else ("",)
        candidate = name
        while candidate:
            for p in prefixes:
                hit = self._exact.get(p + candidate)
                if hit is not None:
                    return hit
            shorter = _SNAPSHOT.sub("", candidate)
            if shorter == candidate:
                break
            candidate = shorter
        for p in prefixes:
            for pattern, price in self._patterns:
                if (p + name).startswith(pattern) and (p or ":" not in pattern):
                    return price
        return None

    def cost(
        self,
        model: str | None,
        provider: str | None,
        *,
        input_tokens: int | None,
        output_tokens: int | None,
        cached_input_tokens: int | None = 0,
        cache_creation_input_tokens: int | None = 0,
    ) -> float | None:
        """USD for one exchange, or None for a model without a price.

        Token counts are the provider's own usage fields as the adapters report them (providers.base.Usage):
          openai, azure_openai, gemini: input_tokens includes cached_input_tokens, so
              (input - cached) * input + cached * cached_input; cache_creation is not a thing there (ignored);
          anthropic: input_tokens excludes both cache counts, so
              input * input + cached * cached_input + cache_creation * cache_write.
        Output tokens (reasoning/thinking included, as the providers bill them) at the output price.
        """
        price = self.price(model, provider)
        if price is None:
            return None
        inp, out = max(input_tokens or 0, 0), max(output_tokens or 0, 0)
        cached, created = max(cached_input_tokens or 0, 0), max(cache_creation_input_tokens or 0, 0)
        if cached_included(provider, model):
            cached = min(cached, inp)
            inp, created = inp - cached, 0
        prompt = inp + cached + created
        if (
            price.long_context is not None
            and price.long_context_above is not None
            and prompt > price.long_context_above
        ):
            price = price.long_context
        usd = (
            inp * price.input
            + cached * (price.input if price.cached_input is None else price.cached_input)
            + created * (price.input if price.cache_write is None else price.cache_write)
            + out * price.output
        ) / 1_000_000
        return round(usd, 10)

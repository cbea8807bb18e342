"""Token counts when the provider reports none (an aborted stream, a server without usage), and before
the answer (what a request will cost at least).

OpenAI-family models are counted exactly with the `bpe-openai` package: the Rust bpe-openai crate, whose
cl100k/o200k tables ship inside the wheel (no download at run time, unlike tiktoken), giving tiktoken's
counts. o200k_base for gpt-4o, gpt-4.1, gpt-4.5, the o-series and gpt-5; cl100k_base for gpt-4 /
gpt-3.5 / the embeddings; o200k_base for any other model of an OpenAI-shaped provider (self-hosted
servers: their own tokenizer differs, o200k is a stand-in of the right order).

Anthropic and Gemini publish no offline tokenizer, so their counts are an approximation (and so is
every count when bpe-openai is not importable):
    ASCII text           1 token per 3.5 characters (Anthropic; unknown providers) or 4 (Gemini, and
                         OpenAI without bpe-openai: the providers' own rules of thumb); English prose
                         measures ~4-5 characters per o200k token (markdown and code ~3.6), so this
                         leans high, the safe side for budgets
    CJK, kana, Hangul    1 token per character (also Indic and Thai scripts, emoji)
    other non-ASCII      1 token per 3 characters (accented Latin, Cyrillic, Greek, Arabic, Hebrew)
The result is marked estimated by the caller (audit line), never passed off as the provider's count.

Cost (measured, 2-core machine): the Rust counter takes 60-220 us for a 4 KB prompt (plain prose to
markdown/code) and ~200 us for 4 KB of base64-like text; the approximation ~1-12 us. Texts longer than
EXACT_MAX_CHARS are counted exactly on their first EXACT_MAX_CHARS characters and scaled by length, so
one call stays under ~2 ms of event-loop time whatever the size. The tokenizer loads lazily, on the
first exact estimate: ~70 ms and ~100 MB resident for both encodings (the extension module's own
tables; see _load_bindings for why not `import bpe_openai`). Call preload() at start-up, or set_exact(False) before any estimate to do without.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import logging
import math
import os
import sys
from typing import Any

from ztgate.providers.base import LLMRequest

log = logging.getLogger(__name__)

EXACT_MAX_CHARS = 32_768
# OpenAI's chat format wraps each message in a few tokens (<|start|>role ... <|end|>): 3 per message
# plus 3 priming the reply (OpenAI cookbook, "counting tokens for chat completions"); Anthropic and
# Gemini are similar in size. Each offered tool costs at least its name and a little structure; its
# JSON schema, which LLMRequest does not carry, is not counted, so tool-heavy requests are under-counted.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_REQUEST = 3
TOKENS_PER_TOOL = 8

_CHARS_PER_TOKEN = {"gemini": 4.0, "openai": 4.0, "azure_openai": 4.0}
_DEFAULT_CHARS_PER_TOKEN = 3.5
_OPENAI_PROVIDERS = frozenset({"openai", "azure_openai"})
_CL100K_PREFIXES = ("gpt-4-", "gpt-3.5", "gpt-35", "text-embedding-3", "text-embedding-ada")

_counters: dict[str, Any] = {}
_exact_enabled = True
_broken = False


def preload() -> bool:
    """Load both exact tokenizers now (start-up), not on the first estimate; True when exact counting works."""
    return _counter("o200k_base") is not None and _counter("cl100k_base") is not None


def set_exact(enabled: bool) -> None:
    """Turn exact OpenAI counting off (approximation only): saves the tokenizer tables' memory."""
    global _exact_enabled
    _exact_enabled = enabled
    if not enabled:
        _counters.clear()


def encoding_for(model: str | None, provider: str | None) -> str | None:
    """The tiktoken encoding an OpenAI-family model uses; None for Anthropic, Gemini and unknown providers."""
    name = model.strip().lower().rsplit("/", 1)[-1] if isinstance(model, str) else ""
    if name.startswith(("claude", "gemini")):  # through an OpenAI-shaped proxy: still not OpenAI's tokenizer
        return None
    if provider in _OPENAI_PROVIDERS or (provider is None and name.startswith(("gpt-", "o1", "o3", "o4", "chatgpt"))):
        if name == "gpt-4" or name.startswith(_CL100K_PREFIXES):
            return "cl100k_base"
        return "o200k_base"
    return None


def _counter(encoding: str) -> Any:
    global _broken
    if encoding in _counters:
        return _counters[encoding]
    if _broken or not _exact_enabled:
        return None
    try:
        _counters[encoding] = _load_bindings().tokenizer_for_encoding(encoding)
    except Exception:  # any failure means: approximate instead
        log.warning("bpe-openai tokenizer %s unavailable; token estimates are approximations", encoding, exc_info=True)
        _broken = True
        return None
    return _counters[encoding]


def _load_bindings() -> Any:
    """bpe-openai's Rust extension module alone. `import bpe_openai` runs the package's tiktoken-compatible
    wrapper, which decodes every token table into Python dicts at import (~0.5 s, ~65 MB resident) that
    counting never uses: the extension has its own tables compiled in. Registered under its own name, so
    a later `import bpe_openai` elsewhere reuses it."""
    name = "bpe_openai._bindings"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec("bpe_openai")  # finds, does not run, the package
    for folder in (spec.submodule_search_locations or []) if spec else []:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "_bindings" + suffix)
            ext = importlib.util.spec_from_file_location(name, path) if os.path.isfile(path) else None
            if ext is not None and ext.loader is not None:
                module = importlib.util.module_from_spec(ext)
                ext.loader.exec_module(module)
                sys.modules[name] = module
                return module
    from bpe_openai import _bindings  # type: ignore[import-untyped]  # the ordinary, slower way

    return _bindings


def approximate_tokens(text: str, provider: str | None = None) -> int:
    """The character-class approximation documented above (never 0 for a non-empty text). Classes come
    from UTF-8 lengths, in C: 2-byte characters are the alphabets (accented Latin, Cyrillic, Greek,
    Arabic, Hebrew), 3- and 4-byte ones CJK, kana, Hangul, Indic and Thai scripts, emoji."""
    if not text:
        return 0
    per = _CHARS_PER_TOKEN.get(provider or "", _DEFAULT_CHARS_PER_TOKEN)
    if text.isascii():
        return math.ceil(len(text) / per)
    ascii_chars = len(text.encode("ascii", "ignore"))
    rest = len(text) - ascii_chars
    rest_bytes = len(text.encode("utf-8", "surrogatepass")) - ascii_chars
    wide = min(max(rest_bytes - 2 * rest, 0), rest)
    return max(1, math.ceil(ascii_chars / per + wide + (rest - wide) / 3))


def estimate_tokens(text: str, model: str | None, provider: str | None) -> int:
    """Tokens the model would count for text: exact for OpenAI-family models, approximate otherwise.
    Never raises; an empty or non-string text is 0."""
    if not text or not isinstance(text, str):
        return 0
    encoding = encoding_for(model, provider)
    counter = _counter(encoding) if encoding is not None else None
    if counter is None:
        return approximate_tokens(text, provider)
    try:
        if len(text) <= EXACT_MAX_CHARS:
            return int(counter.count(text))
        head = text[:EXACT_MAX_CHARS]
        return math.ceil(int(counter.count(head)) * len(text) / len(head))
    except Exception:  # noqa: BLE001 - e.g. text the tokenizer refuses: approximate
        return approximate_tokens(text, provider)


def estimate_request_tokens(llm: LLMRequest, *, exact: bool = True) -> int:
    """Input tokens of a request: every text part (system, messages, tool results, tool-call arguments)
    counted as one text, plus TOKENS_PER_MESSAGE per message (a top-level system/instructions field
    counts as one), TOKENS_PER_REQUEST, and TOKENS_PER_TOOL plus the name for each offered tool.
    Images, audio and files are not counted. exact=False uses the approximation for every model: what
    a reservation needs, at a few microseconds instead of a tokenizer pass over the whole prompt."""
    text = "\n".join(p.text for p in llm.parts if p.text)
    if not text:
        tokens = 0
    elif exact:
        tokens = estimate_tokens(text, llm.model, llm.provider)
    else:
        tokens = approximate_tokens(text, llm.provider)
    messages = llm.message_count + (1 if any(p.message_index < 0 for p in llm.parts) else 0)
    tokens += TOKENS_PER_MESSAGE * messages + TOKENS_PER_REQUEST
    for tool in llm.tools:
        tokens += TOKENS_PER_TOOL + estimate_tokens(tool, llm.model, llm.provider)
    return tokens

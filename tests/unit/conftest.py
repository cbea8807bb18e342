"""Fixtures for the provider adapter tests (all prefixed providers_ to stay out of other tests' way)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import pytest

from ztgate.providers.base import LLMResponse, ProviderAdapter, SSEEvent
from ztgate.providers.sse import SSEDecoder

# Third-party recorded provider traffic lives beside the repository, never inside it.
_CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "corpora" / "provider"


@pytest.fixture(scope="session")
def providers_corpus() -> Path:
    """The recorded provider traffic (see ../shared/corpora/README.md); skips when it is not there."""
    if not _CORPORA.is_dir():
        pytest.skip(f"provider corpora not found at {_CORPORA}")
    return _CORPORA


def decode_chunks(chunks: Iterable[bytes]) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    return events + decoder.close()


def fold_stream(adapter: ProviderAdapter, chunks: Iterable[bytes]) -> tuple[list[SSEEvent], LLMResponse]:
    """Decode a stream delivered as chunks and fold every event into one LLMResponse."""
    events = decode_chunks(chunks)
    response = LLMResponse()
    for event in events:
        adapter.parse_stream_event(event, response)
    return events, response


def summary(response: LLMResponse) -> tuple:
    """What must not depend on how the stream was chunked."""
    calls = [(c.id, c.name, c.arguments) for c in response.tool_calls]
    return (response.model, response.output_text, calls, response.usage, response.finish_reason, response.error)


@pytest.fixture(scope="session")
def providers_stream_invariance() -> Callable[[ProviderAdapter, bytes], LLMResponse]:
    """Check a recorded stream folds to the same result however it is chunked: split in two at every
    byte boundary, and one byte at a time. Returns the unsplit result for further assertions."""

    def check(adapter: ProviderAdapter, raw: bytes) -> LLMResponse:
        whole_events, whole = fold_stream(adapter, [raw])
        expected = summary(whole)
        for i in range(1, len(raw)):
            events, response = fold_stream(adapter, [raw[:i], raw[i:]])
            assert events == whole_events, f"events differ when split at byte {i}"
            assert summary(response) == expected, f"result differs when split at byte {i}"
        events, response = fold_stream(adapter, [raw[i : i + 1] for i in range(len(raw))])
        assert events == whole_events and summary(response) == expected, "byte-by-byte feed differs"
        return whole

    return check


@pytest.fixture(scope="session")
def providers_fold() -> Callable[[ProviderAdapter, bytes], LLMResponse]:
    """Fold a whole recorded stream (one chunk) into an LLMResponse."""

    def fold(adapter: ProviderAdapter, raw: bytes) -> LLMResponse:
        return fold_stream(adapter, [raw])[1]

    return fold


# Odd JSON values a client (or a fuzzer) may send: parse_request must answer RequestError or a result.
ODD_VALUES: list = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    10**30,
    "",
    "x",
    [],
    [None],
    [[]],
    {},
    {"": None},
    [1, "a", {}],
    {"a": {"b": {"c": [1, {"d": None}]}}},
    "\u0000",
    "\ud7ff\ue000",
    [{"role": None}],
]


def odd_bodies(valid: dict) -> list:
    """Every odd value at the top level, and in place of each top-level field of a valid body, and in place
    of each field of the first object in each list field (messages[0].content, contents[0].parts, ...)."""
    bodies: list = list(ODD_VALUES)
    for key, value in valid.items():
        for odd in ODD_VALUES:
            bodies.append({**valid, key: odd})
        if isinstance(value, list) and value and isinstance(value[0], dict):
            for inner in value[0]:
                for odd in ODD_VALUES:
                    bodies.append({**valid, key: [{**value[0], inner: odd}, *value[1:]]})
    return bodies


@pytest.fixture(scope="session")
def providers_odd_bodies() -> Callable[[dict], list]:
    return odd_bodies

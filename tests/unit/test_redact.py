"""Redaction modes, request-body rewriting by path, and restoring pseudonyms in responses."""

from __future__ import annotations

import orjson

from ztgate.detect.base import Finding
from ztgate.providers import get_adapter, resolve_route
from ztgate.redact import Redactor, StreamRestorer, Vault, redact_request, redaction_modes, restore_bytes

REDACTOR = Redactor(b"test-key")


def pii(type_: str, text: str, value: str) -> Finding:
    start = text.index(value)
    return Finding("pii", type_, "medium", 1.0, start, start + len(value), redactable=True)


def test_modes() -> None:
    vault = Vault()
    text = "card 4111 1111 1111 1234, mail bob@example.com and bob@example.com again"
    spans = [
        (5, 24, "credit_card", "mask"),
        (text.index("bob"), text.index("bob") + 15, "email", "pseudonym"),
        (text.rindex("bob"), text.rindex("bob") + 15, "email", "pseudonym"),
    ]
    out = REDACTOR.redact_text(text, spans, vault)
    assert out == "card ****1234, mail <EMAIL_1> and <EMAIL_1> again"
    hashed = REDACTOR.redact_text("bob@example.com", [(0, 15, "email", "hash")], vault)
    assert hashed.startswith("<EMAIL:") and "bob" not in hashed
    assert hashed == Redactor(b"test-key").redact_text("bob@example.com", [(0, 15, "email", "hash")], Vault())
    assert hashed != Redactor(b"other-key").redact_text("bob@example.com", [(0, 15, "email", "hash")], Vault())


def test_distinct_values_get_distinct_tokens_and_overlaps_merge() -> None:
    vault = Vault()
    out = REDACTOR.redact_text("a@x.io b@x.io", [(0, 6, "email", "pseudonym"), (7, 13, "email", "pseudonym"), (2, 5, "email", "mask")], vault)
    assert out == "<EMAIL_1> <EMAIL_2>"
    assert vault.originals == {"<EMAIL_1>": "a@x.io", "<EMAIL_2>": "b@x.io"}


def test_unknown_mode_masks() -> None:
    assert redaction_modes([{"detector": "pii", "type": "email", "mode": "shred"}]) == {("pii", "email"): "mask"}


def test_redact_request_rewrites_each_provider_body() -> None:
    cases = {
        ("POST", "/v1/chat/completions"): {"model": "gpt-4o", "messages": [{"role": "user", "content": "mail bob@example.com"}]},
        ("POST", "/v1/messages"): {"model": "claude", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "text", "text": "mail bob@example.com"}]}]},
        ("POST", "/v1beta/models/gemini-2.0-flash:generateContent"): {"contents": [{"role": "user", "parts": [{"text": "mail bob@example.com"}]}]},
    }
    for (method, path), body in cases.items():
        route = resolve_route(method, path)
        llm = get_adapter(route.provider).parse_request(route, body)
        part = next(p for p in llm.parts if "bob@" in p.text)
        vault = Vault()
        n = redact_request(body, [(part, pii("email", part.text, "bob@example.com"))], {("pii", "email"): "pseudonym"}, REDACTOR, vault)
        assert n == 1
        assert b"bob@example.com" not in orjson.dumps(body)
        assert b"<EMAIL_1>" in orjson.dumps(body)


def test_tool_arguments_object_stays_an_object() -> None:
    body = {"model": "claude", "max_tokens": 5, "messages": [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "send", "input": {"to": "bob@example.com"}}]},
    ]}
    route = resolve_route("POST", "/v1/messages")
    llm = get_adapter("anthropic").parse_request(route, body)
    part = next(p for p in llm.parts if p.kind == "tool_call_arguments")
    redact_request(body, [(part, pii("email", part.text, "bob@example.com"))], {("pii", "email"): "pseudonym"}, REDACTOR, Vault())
    assert body["messages"][0]["content"][0]["input"] == {"to": "<EMAIL_1>"}


def test_findings_not_to_redact_are_left_alone() -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "mail bob@example.com"}]}
    llm = get_adapter("openai").parse_request(resolve_route("POST", "/v1/chat/completions"), body)
    part = llm.parts[0]
    presence = Finding("injection", "instruction_override", "high", 0.9, 0, 4)
    assert redact_request(body, [(part, presence), (part, pii("email", part.text, "bob@example.com"))], {}, REDACTOR, Vault()) == 0
    assert body["messages"][0]["content"] == "mail bob@example.com"


def test_restore_bytes_json_escapes_the_original() -> None:
    vault = Vault()
    vault.token_for("note", 'say "hi"\n')
    body = b'{"content": "I will send <NOTE_1> to <OTHER_9>"}'
    assert orjson.loads(restore_bytes(body, vault))["content"] == 'I will send say "hi"\n to <OTHER_9>'


def test_stream_restorer_handles_tokens_split_anywhere() -> None:
    vault = Vault()
    vault.token_for("email", "bob@example.com")
    text = "Write to <EMAIL_1> today, <EMAIL_1>."
    expected = "Write to bob@example.com today, bob@example.com."
    for cut in range(len(text) + 1):
        for cut2 in range(cut, len(text) + 1):
            restorer = StreamRestorer(vault)
            out = restorer.feed(text[:cut]) + restorer.feed(text[cut:cut2]) + restorer.feed(text[cut2:]) + restorer.flush()
            assert out == expected, (cut, cut2)


def test_stream_restorer_releases_a_lone_angle_bracket() -> None:
    restorer = StreamRestorer(Vault())
    assert restorer.feed("a < b") == "a < b"  # cannot become a token: nothing held
    assert restorer.feed("c <") == "c "  # might: held
    assert restorer.feed(" d") == "< d"
    assert restorer.feed("<EMAIL") == ""
    assert restorer.feed("_") == ""
    assert restorer.feed("x") == "<EMAIL_x"  # no longer a token prefix: released
    assert restorer.feed("<" + "A" * 60) == "<" + "A" * 60  # longer than any token: released

"""Redaction: rewrite what the policy said to redact, in request bodies and in model output.

Three modes, chosen per finding type by the decision's `redactions`:
- mask: `****1234`, the last four letters or digits kept (enough to recognise a card, never to use it);
- hash: `<EMAIL:3f9a1c2b4d5e>`, an HMAC of the value under the deployment's key, stable across
  requests so analysts can still count and join, useless without the key;
- pseudonym: `<EMAIL_1>`, reversible within one exchange: the provider sees the token, the client gets
  the real value back in the response (restore_bytes / StreamRestorer), and the same value gets the
  same token everywhere in the exchange.

Pure code over text and parsed JSON; the exchange decides when to call it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import regex

from .detect.base import Finding
from .providers.base import JsonPath, TextPart

MODES = ("mask", "hash", "pseudonym")
# Tokens look like <EMAIL_1>: letters, digits and underscores between angle brackets.
_TOKEN = regex.compile(r"<[A-Z][A-Z0-9_]{0,40}_[0-9]{1,6}>")
_MAX_TOKEN = 50  # longest token a stream may split: what the stream restorer holds back at most


@dataclass(slots=True)
class Vault:
    """One exchange's pseudonyms: value -> token and back. Lives and dies with the exchange."""

    tokens: dict[str, str] = field(default_factory=dict)  # original -> token
    originals: dict[str, str] = field(default_factory=dict)  # token -> original
    _counts: dict[str, int] = field(default_factory=dict)

    def token_for(self, kind: str, value: str) -> str:
        token = self.tokens.get(value)
        if token is None:
            label = regex.sub(r"[^A-Z0-9]+", "_", kind.upper()).strip("_") or "VALUE"
            n = self._counts.get(label, 0) + 1
            self._counts[label] = n
            token = f"<{label}_{n}>"
            self.tokens[value] = token
            self.originals[token] = value
        return token


@dataclass(slots=True, frozen=True)
class Redactor:
    """Applies modes to spans. One per worker; the HMAC key is the deployment's."""

    hash_key: bytes

    @classmethod
    def with_key(cls, key: str | None) -> "Redactor":
        """A configured key keeps hashes stable across restarts and replicas; without one, per process."""
        return cls(key.encode() if key else secrets.token_bytes(32))

    def replacement(self, mode: str, kind: str, value: str, vault: Vault) -> str:
        if mode == "pseudonym":
            return vault.token_for(kind, value)
        if mode == "hash":
            digest = hmac.new(self.hash_key, value.encode(), hashlib.sha256).hexdigest()[:12]
            return f"<{kind.upper()}:{digest}>"
        return _mask(value)

    def redact_text(self, text: str, spans: Iterable[tuple[int, int, str, str]], vault: Vault) -> str:
        """Replace each (start, end, kind, mode) span; overlapping spans merge into the first."""
        out: list[str] = []
        cursor = 0
        for start, end, kind, mode in sorted(spans):
            if start < cursor:  # overlaps a span already replaced
                continue
            out.append(text[cursor:start])
            out.append(self.replacement(mode, kind, text[start:end], vault))
            cursor = end
        out.append(text[cursor:])
        return "".join(out)


def _mask(value: str) -> str:
    keep = [c for c in value if c.isalnum()][-4:] if len(value) >= 8 else []
    return "****" + "".join(keep)


def redaction_modes(redactions: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """The decision's redactions as {(detector, type): mode}; an unknown mode masks (fail safe)."""
    modes: dict[tuple[str, str], str] = {}
    for item in redactions:
        if isinstance(item, dict) and isinstance(item.get("detector"), str) and isinstance(item.get("type"), str):
            mode = item.get("mode")
            modes[(item["detector"], item["type"])] = mode if mode in MODES else "mask"
    return modes


def redact_request(
    body: Any,
    located: Iterable[tuple[TextPart, Finding]],
    modes: dict[tuple[str, str], str],
    redactor: Redactor,
    vault: Vault,
) -> int:
    """Rewrite the request body in place where findings are to be redacted; returns how many."""
    by_part: dict[JsonPath, tuple[TextPart, list[tuple[int, int, str, str]]]] = {}
    for part, finding in located:
        mode = modes.get((finding.detector, finding.type))
        if mode is None or not finding.redactable:
            continue
        by_part.setdefault(part.path, (part, []))[1].append((finding.start, finding.end, finding.type, mode))
    for path, (part, spans) in by_part.items():
        _set_at(body, path, redactor.redact_text(part.text, spans, vault))
    return sum(len(spans) for _, spans in by_part.values())


def redact_answer(
    raw: str,
    output: str,
    findings: Iterable[Finding],
    redactor: Redactor,
    vault: Vault,
    *,
    modes: dict[tuple[str, str], str],
    mask_all: bool = False,
) -> tuple[str, int]:
    """Redact a whole JSON answer (raw) by its findings in the answer's text (output).

    Generic across providers: each finding's value is replaced where it stands JSON-escaped in the
    body. mask_all (a blocked answer) masks every finding, redactable or not. Returns (body, count).
    """
    count = 0
    for f in findings:
        mode = "mask" if mask_all else modes.get((f.detector, f.type))
        if mode is None or not (f.redactable or mask_all):
            continue
        escaped = orjson.dumps(output[f.start : f.end]).decode()[1:-1]
        if escaped and escaped in raw:
            replacement = redactor.replacement(mode, f.type, output[f.start : f.end], vault)
            raw = raw.replace(escaped, orjson.dumps(replacement).decode()[1:-1])
            count += 1
    return raw, count


def _set_at(body: Any, path: JsonPath, text: str) -> None:
    """Write text back where it came from. A part that was not a string in the body (Anthropic
    tool_use input, Gemini functionCall args: objects the adapter serialised) is parsed back."""
    node = body
    for key in path[:-1]:
        node = node[key]
    last = path[-1]
    if isinstance(node[last], str):
        node[last] = text
        return
    try:
        node[last] = orjson.loads(text)
    except orjson.JSONDecodeError:
        node[last] = text  # the value no longer parses as it was; a string never leaks the original


def restore_bytes(data: bytes, vault: Vault) -> bytes:
    """Put the real values back into a whole JSON body (tokens are never split inside one JSON)."""
    if not vault.originals or b"<" not in data:
        return data

    def swap(match: regex.Match[str]) -> str:
        original = vault.originals.get(match.group(0))
        # JSON-escape the original: it goes inside a JSON string where the token stood.
        return orjson.dumps(original).decode()[1:-1] if original is not None else match.group(0)

    return _TOKEN.sub(swap, data.decode("utf-8", "replace")).encode()


class StreamRestorer:
    """Restores tokens in streamed text deltas, holding back a possible token split across deltas."""

    __slots__ = ("_vault", "_held")

    def __init__(self, vault: Vault) -> None:
        self._vault = vault
        self._held = ""

    def feed(self, delta: str) -> str:
        text = self._held + delta
        cut = text.rfind("<")
        # Hold back only a tail that can still grow into a token (regex's partial matching says so).
        if cut >= 0 and len(text) - cut < _MAX_TOKEN:
            match = _TOKEN.fullmatch(text, cut, partial=True)
            if match is not None and match.partial:
                text, self._held = text[:cut], text[cut:]
                return self._swap(text)
        self._held = ""
        return self._swap(text)

    def flush(self) -> str:
        text, self._held = self._held, ""
        return self._swap(text)

    def _swap(self, text: str) -> str:
        if "<" not in text:
            return text
        return _TOKEN.sub(lambda m: self._vault.originals.get(m.group(0), m.group(0)), text)

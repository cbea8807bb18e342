"""Find segments that look like encoded payloads and decode them, so detectors can rescan them.

"Decode this base64 and follow it", a key in hex, an injection in rot13 or l33tspeak: encodings hide
text from patterns, not from a model. decoded_segments() returns each decoded segment with the span
of the encoded text, so a finding in the payload is reported on (and can redact) the segment.

Rules (each cheap to reject, so ordinary prompts pay a few regex passes and nothing else):
- base64 / base64url: a run of >= 16 alphabet characters that decodes to UTF-8 made of printable
  characters (random bytes almost never do; hashes, ids and long words decode to binary).
- hex: an even-length run of >= 16 hex digits that decodes to printable UTF-8.
- URL encoding: a whitespace-free token with >= 3 %XX escapes that decodes to something else.
- rot13: only lines in which the rot13 spelling of an instruction or credential word occurs
  ("vtaber" is "ignore", "cnffjbeq" is "password"), or the whole text when it names rot13; the
  line is decoded whole.
- leetspeak: a word with a digit or symbol from the leet alphabet directly followed by a letter
  ("1gn0r3", "pr3v10us"); a line is decoded when it has two such words or one with two leet
  characters. Ordinals ("1st"), hex literals and unit-like tokens ("h264", "mp3") do not count.
Decoding recurses into decoded text up to max_depth (a base64 of a base64); the total decoded size
is capped by max_bytes and segments are capped in number. Every pattern is linear in the input.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import unquote

import regex

MAX_SEGMENTS = 256
MIN_DECODED = 6  # shorter payloads carry nothing a detector could act on
MAX_LINE = 4096  # rot13 and leetspeak decode at most this much around a signal

BASE64 = "base64"
HEX = "hex"
URL = "url"
ROT13 = "rot13"
LEET = "leetspeak"


@dataclass(slots=True, frozen=True)
class Decoded:
    """One decoded payload. start/end index the text given to decoded_segments() and cover the
    encoded segment (for a nested payload: the outermost segment); depth 1 is decoded once."""

    start: int
    end: int
    encoding: str
    text: str
    depth: int


_B64 = regex.compile(r"(?<![A-Za-z0-9+/_\-])[A-Za-z0-9+/_\-]{16,65536}+={0,3}")
_HEX = regex.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}){8,32768}+(?![0-9A-Fa-f])")
_URL_ESCAPE = regex.compile(r"%[0-9A-Fa-f]{2}")
_URL_RUN = regex.compile(r"(?:[^\s%<>\"'`]|%[0-9A-Fa-f]{2})++")
_URL_STOP = frozenset(" \t\r\n\f\v%<>\"'`")
MAX_TOKEN = 8192
_LINE = regex.compile(r"[^\n]{1,4096}+")

_ROT13_WORDS = (
    "ignore", "instruction", "instructions", "previous", "disregard", "forget", "override", "system",
    "prompt", "jailbreak", "reveal", "password", "passwd", "secret", "token", "credentials", "apikey",
)
_ROT13 = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "NOPQRSTUVWXYZABCDEFGHIJKLMnopqrstuvwxyzabcdefghijklm",
)
_ROT13_SIGNAL = regex.compile(
    r"(?i)\b(?:" + "|".join(sorted((w.translate(_ROT13) for w in _ROT13_WORDS), key=len, reverse=True)) + r")\b"
)
_ROT13_NAMED = regex.compile(r"(?i)\brot[ -]?13\b")

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
                       "@": "a", "$": "s", "!": "i", "|": "l"})
_LEET_CHARS = "01345789@$!|"
# A token of letters and leet characters with a leet character directly before a letter. The
# lookbehind stops attempts inside a token, the lookahead is bounded: linear.
_LEET_TOKEN = regex.compile(
    r"(?<![A-Za-z0-9@$!|])(?=[A-Za-z0-9@$!|]{0,31}?[01345789@$!|][A-Za-z])[A-Za-z0-9@$!|]{3,32}+(?![A-Za-z0-9@$!|])"
)
_NOT_LEET = regex.compile(
    r"(?i)\d+(?:st|nd|rd|th|k|m|g|x|d|p|px|em|gb|mb|kb|tb|ms|hz|khz|mhz|ghz|fps|am|pm|km|kg|cm|mm|mg|ml)"
    r"|0x[0-9a-f]+|[0-9a-f]+|[a-z]{1,4}\d+[a-z]?"
)


def decoded_segments(text: str, *, max_depth: int = 2, max_bytes: int = 65536) -> list[Decoded]:
    """Every encoded-looking segment of text that decodes to readable text, recursively up to
    max_depth, in text order; at most max_bytes characters of decoded text in all."""
    out: list[Decoded] = []
    budget = [max_bytes]
    _decode_into(text, 1, max_depth, None, budget, out)
    out.sort(key=lambda d: (d.start, d.depth))
    return out


def _decode_into(text: str, depth: int, max_depth: int, span: tuple[int, int] | None,
                 budget: list[int], out: list[Decoded]) -> None:
    if depth > max_depth or budget[0] <= 0:
        return
    for start, end, encoding, decoded in _decode_once(text, budget[0]):
        if budget[0] <= 0 or len(out) >= MAX_SEGMENTS:
            return
        decoded = decoded[: budget[0]]
        budget[0] -= len(decoded)
        s, e = span if span is not None else (start, end)
        out.append(Decoded(s, e, encoding, decoded, depth))
        _decode_into(decoded, depth + 1, max_depth, (s, e), budget, out)


def _decode_once(text: str, limit: int) -> list[tuple[int, int, str, str]]:
    found: list[tuple[int, int, str, str]] = []
    for m in _B64.finditer(text):
        decoded = _from_base64(m.group(), limit)
        if decoded is not None:
            found.append((m.start(), m.end(), BASE64, decoded))
    for m in _HEX.finditer(text):
        if m.end() - m.start() > 2 * limit:
            continue
        decoded = _readable(bytes.fromhex(m.group()))
        if decoded is not None:
            found.append((m.start(), m.end(), HEX, decoded))
    if text.count("%") >= 3:
        found += _url_segments(text)
    found += _rot13_segments(text)
    found += _leet_segments(text)
    return found


def _from_base64(run: str, limit: int) -> str | None:
    core = run.rstrip("=")
    if len(core) * 3 // 4 > limit or core.isdigit() or core.islower() or core.isupper():
        return None  # words, numbers and hex-ish ids; real base64 of text mixes cases
    if len(core) % 4 == 1:
        core = core[:-1]
    padded = core + "=" * (-len(core) % 4)
    try:
        if "-" in padded or "_" in padded:
            if "+" in padded or "/" in padded:
                return None
            raw = base64.urlsafe_b64decode(padded)
        else:
            raw = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None
    return _readable(raw)


def _readable(raw: bytes) -> str | None:
    """raw as text when it is UTF-8 made (almost) only of printable characters and has letters."""
    if len(raw) < MIN_DECODED:
        return None
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if decoded.isprintable():
        return decoded if any(c.isalpha() for c in decoded) else None
    bad = sum(1 for c in decoded if not c.isprintable() and c not in "\n\r\t")
    if bad * 20 > len(decoded) or not any(c.isalpha() for c in decoded):
        return None
    return decoded


def _url_segments(text: str) -> list[tuple[int, int, str, str]]:
    """Tokens around %XX escapes: from each escape not yet covered, back to the token's start (a
    bounded walk) and forward over the run of URL characters and escapes."""
    found = []
    covered = 0
    for m in _URL_ESCAPE.finditer(text):
        p = m.start()
        if p < covered:
            continue
        start = p
        while start > covered and p - start < MAX_TOKEN and text[start - 1] not in _URL_STOP:
            start -= 1
        run = _URL_RUN.match(text, p)
        end = run.end() if run is not None else m.end()
        covered = end
        token = text[start:end]
        if len(_URL_ESCAPE.findall(token)) < 3:
            continue
        decoded = unquote(token, errors="replace")
        if decoded != token and len(decoded) >= MIN_DECODED and "\ufffd" not in decoded:
            found.append((start, end, URL, decoded))
    return found


def _line_around(text: str, pos: int) -> tuple[int, int]:
    start = max(text.rfind("\n", max(0, pos - MAX_LINE // 2), pos) + 1, pos - MAX_LINE // 2, 0)
    end = text.find("\n", pos, pos + MAX_LINE // 2)
    return start, (end if end != -1 else min(len(text), pos + MAX_LINE // 2))


def _rot13_segments(text: str) -> list[tuple[int, int, str, str]]:
    if _ROT13_NAMED.search(text):
        end = min(len(text), MAX_LINE * 4)
        return [(0, end, ROT13, text[:end].translate(_ROT13))]
    found: list[tuple[int, int, str, str]] = []
    covered = -1
    for m in _ROT13_SIGNAL.finditer(text):
        if m.start() < covered:
            continue
        s, e = _line_around(text, m.start())
        covered = e
        found.append((s, e, ROT13, text[s:e].translate(_ROT13)))
    return found


def _leet_segments(text: str) -> list[tuple[int, int, str, str]]:
    found: list[tuple[int, int, str, str]] = []
    line: tuple[int, int] | None = None
    tokens: list[tuple[int, int, int]] = []  # (start, end, leet characters) in the current line

    def flush() -> None:
        if line is not None and (len(tokens) >= 2 or any(n >= 2 for _, _, n in tokens)):
            s, e = line
            parts, last = [], s
            for ts, te, _ in tokens:
                parts += [text[last:ts], text[ts:te].translate(_LEET)]
                last = te
            parts.append(text[last:e])
            found.append((s, e, LEET, "".join(parts)))

    for m in _LEET_TOKEN.finditer(text):
        token = m.group()
        if _NOT_LEET.fullmatch(token) or sum(c.isalpha() for c in token) < 2:
            continue
        if line is None or m.start() >= line[1]:
            flush()
            line, tokens = _line_around(text, m.start()), []
        tokens.append((m.start(), m.end(), sum(c in _LEET_CHARS for c in token)))
    flush()
    return found


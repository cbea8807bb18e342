"""Find segments that look like encoded payloads and decode them, so detectors can rescan them.

"Decode this base64 and follow it", a key in hex, an injection in rot13 or l33tspeak: encodings hide
text from patterns, not from a model. decoded_segments() returns each decoded segment with the span
of the encoded text, so a finding in the payload is reported on (and can redact) the segment.

Rules (each cheap to reject, so ordinary prompts pay a few C-level scans and nothing else):
- base64 / base64url: a run of >= 16 alphabet characters that decodes to UTF-8 made of printable
  characters (random bytes almost never do; hashes, ids and long words decode to binary).
- hex: an even-length run of >= 16 hex digits that decodes to printable UTF-8.
- URL encoding: a whitespace-free token with >= 3 %XX escapes that decodes to something else.
- rot13: the cheap signal is the rot13 spelling of an instruction or credential word ("vtaber" is
  "ignore", "cnffjbeq" is "password", "vafgehpg" is "instruct") found with `in` on the lowercased
  text; each line holding one is decoded whole. A text that names rot13 is decoded whole (capped).
- leetspeak: a word with a leet character (0 1 3 4 5 7 8 9 @ $ ! |) directly before a letter
  ("1gn0r3", "pr3v10us"), at most 15 characters, without the digits 2 and 6 (no letter looks like
  them), not after "%" (URL escapes), not an ordinal, unit, hex number or version ("1st", "4K",
  "h264"); a line is decoded when it has two such words or one with two leet
  characters, the words translated and the rest of the line kept.
Decoding recurses into decoded text up to max_depth (a base64 of a base64); the total decoded size
is capped by max_bytes and segments are capped in number. Candidate runs are found with
bytes.translate + bytes.find on a one-byte-per-character copy of the text (the regex module scans a
multi-range character class at tens of nanoseconds per character); patterns then match where a run
starts. Every step is linear in the input.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from urllib.parse import unquote

import regex

from .base import KeywordIndex

MAX_SEGMENTS = 256
MIN_DECODED = 6  # shorter payloads carry nothing a detector could act on
MAX_LINE = 4096  # rot13 and leetspeak decode at most this much around a signal
MAX_LEET_TOKEN = 15
MAX_TOKEN = 8192  # longest URL-encoded token looked at
MAX_TOKENS = 2048  # URL-encoded or leetspeak tokens looked at per text (adversarial input)

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


# Class maps over text.encode("ascii", "replace") (one byte per character, offsets unchanged).
_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-")
_MAP_B64 = bytes(ord("a") if b in _B64_ALPHABET else ord(" ") for b in range(256))
_MAP_HEX = bytes(ord("h") if chr(b) in "0123456789abcdefABCDEF" else ord(" ") for b in range(256))
_LEET_CHARS = "01345789@$!|"
_MAP_LEET = bytes(  # leet character -> "1", letter -> "a", other digit -> "d", anything else -> " "
    ord("1") if chr(b) in _LEET_CHARS else ord("a") if chr(b).isascii() and chr(b).isalpha()
    else ord("d") if chr(b).isdigit() else ord(" ")
    for b in range(256)
)

_LINE_BREAKS = str.maketrans("", "", "\n\r\t")  # allowed in decoded text (not "printable")
_URL_ESCAPE = regex.compile(r"%[0-9A-Fa-f]{2}")
_URL_RUN = regex.compile(r"(?:[^\s%<>\"'`]|%[0-9A-Fa-f]{2})++")
_URL_STOP = frozenset(" \t\r\n\f\v%<>\"'`")

_ROT13 = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "NOPQRSTUVWXYZABCDEFGHIJKLMnopqrstuvwxyzabcdefghijklm",
)
_ROT13_WORDS = ("ignore", "instruct", "previous", "disregard", "prompt", "password", "secret", "system",
                "jailbreak")
_ROT13_STEMS = tuple(w.translate(_ROT13).encode() for w in _ROT13_WORDS)
# What the rot13 signal looks for, as words for a shared keyword index (see decoder_for).
KEYWORDS = frozenset(stem.decode() for stem in _ROT13_STEMS) | {"rot", "13"}
_LEET_HIT = re.compile(rb"1a")  # the re module finds a literal faster than bytes.find finds 2 bytes
_ROT13_NAMED = regex.compile(r"(?i)\brot[ -]?13\b")

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
                       "@": "a", "$": "s", "!": "i", "|": "l"})
# Tokens that mix digits and letters without being leetspeak: ordinals, units, hex, versions.
_NOT_LEET = regex.compile(
    r"(?i)\d+(?:st|nd|rd|th|k|m|g|x|d|p|px|em|gb|mb|kb|tb|ms|hz|khz|mhz|ghz|fps|am|pm|km|kg|cm|mm|mg|ml)"
    r"|0x[0-9a-f]+|[0-9a-f]+|[a-z]{1,4}\d+[a-z]?|v?\d+(?:\.\d+)+[a-z]?"
)


def decoded_segments(
    text: str, *, max_depth: int = 2, max_bytes: int = 65536, keywords: KeywordIndex | None = None
) -> list[Decoded]:
    """Every encoded-looking segment of text that decodes to readable text, recursively up to
    max_depth, in text order; at most max_bytes characters of decoded text in all. `keywords`: a
    keyword index holding KEYWORDS (see decoder_for), whose pass over the text the detectors have
    already paid for."""
    out: list[Decoded] = []
    budget = [max_bytes]
    rot13 = None
    if keywords is not None and max_depth >= 1:
        found = {word for _, word in keywords.hits(text)[1] if word in KEYWORDS}
        rot13 = ("rot" in found and "13" in found) or any(w not in ("rot", "13") for w in found)
    _decode_into(text, 1, max_depth, None, budget, out, rot13)
    out.sort(key=lambda d: (d.start, d.depth))
    return out


def decoder_for(keywords: KeywordIndex) -> Callable[..., list[Decoded]]:
    """decoded_segments with its rot13 words in the scanner's shared keyword index: the text is then
    not read once more for them (nine substring searches, ~15 us on 4 KB)."""
    keywords.add(KEYWORDS)
    return partial(decoded_segments, keywords=keywords)


def _decode_into(text: str, depth: int, max_depth: int, span: tuple[int, int] | None,
                 budget: list[int], out: list[Decoded], rot13: bool | None = None) -> None:
    if depth > max_depth or budget[0] <= 0:
        return
    for start, end, encoding, decoded in _decode_once(text, budget[0], rot13):
        if budget[0] <= 0 or len(out) >= MAX_SEGMENTS:
            return
        decoded = decoded[: budget[0]]
        budget[0] -= len(decoded)
        s, e = span if span is not None else (start, end)
        out.append(Decoded(s, e, encoding, decoded, depth))
        _decode_into(decoded, depth + 1, max_depth, (s, e), budget, out)


def _decode_once(text: str, limit: int, rot13: bool | None = None) -> list[tuple[int, int, str, str]]:
    """One level of decoding. rot13: whether the rot13 signal is in the text, when already known."""
    codes = text.encode("ascii", "replace")  # one byte per character: offsets are the text's
    found: list[tuple[int, int, str, str]] = []
    if len(text) >= 16:
        runs = codes.translate(_MAP_B64)
        i = runs.find(b"a" * 16)
        hexes = codes.translate(_MAP_HEX) if i != -1 else b""
        while i != -1 and len(found) < MAX_SEGMENTS:
            j = runs.find(b" ", i)
            j = len(text) if j == -1 else min(j, i + 65536)
            end = j + len(text[j:j + 3]) - len(text[j:j + 3].lstrip("="))  # padding
            decoded = _from_base64(text[i:end], limit)
            if decoded is not None:
                found.append((i, end, BASE64, decoded))
            if hexes.find(b"h" * 16, i, j) != -1:  # every hex run is inside a base64-alphabet run
                found += _hex_in(text, codes, hexes, i, j, limit)
            i = runs.find(b"a" * 16, j)
    if codes.count(b"%") >= 3:
        found += _url_segments(text)
    low = codes.lower()
    if rot13 is None:
        rot13 = (b"rot" in low and b"13" in low) or any(stem in low for stem in _ROT13_STEMS)
    if rot13:
        found += _rot13_segments(text, low)
    leet = codes.translate(_MAP_LEET)
    hit = _LEET_HIT.search(leet)
    if hit is not None:
        found += _leet_segments(text, leet, hit.start())
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


def _hex_in(text: str, codes: bytes, hexes: bytes, start: int, end: int,
            limit: int) -> list[tuple[int, int, str, str]]:
    """Even-length runs of >= 16 hex digits in text[start:end] that decode to readable text (mostly
    ASCII: three quarters of the bytes in 0x20-0x7f, which a hash or an id never is)."""
    found = []
    i = hexes.find(b"h" * 16, start, end)
    while i != -1:
        j = hexes.find(b" ", i, end)
        j = end if j == -1 else j
        high = codes[i:j:2]  # the high digit of every byte
        if (j - i) % 2 == 0 and j - i <= 2 * limit and 4 * len(high.translate(None, b"234567")) <= len(high):
            decoded = _readable(bytes.fromhex(text[i:j]))
            if decoded is not None:
                found.append((i, j, HEX, decoded))
        i = hexes.find(b"h" * 16, j, end)
    return found


def _readable(raw: bytes) -> str | None:
    """raw as text when it is UTF-8 made (almost) only of printable characters and has letters."""
    if len(raw) < MIN_DECODED:
        return None
    decoded = raw.decode("utf-8", errors="replace")  # no exception to pay for on binary input
    if "\ufffd" in decoded:
        return None
    if decoded.isprintable() or decoded.translate(_LINE_BREAKS).isprintable():  # C-level checks first
        return decoded if any(c.isalpha() for c in decoded) else None
    bad = sum(1 for c in decoded if not c.isprintable() and c not in "\n\r\t")
    if bad * 20 > len(decoded) or not any(c.isalpha() for c in decoded):
        return None
    return decoded


def _url_segments(text: str) -> list[tuple[int, int, str, str]]:
    """Tokens around %XX escapes: from each escape not yet covered, back to the token's start (a
    bounded walk) and forward over the run of URL characters and escapes."""
    found = []
    covered = looked = 0
    for m in _URL_ESCAPE.finditer(text):
        p = m.start()
        if p < covered:
            continue
        looked += 1
        if looked > MAX_TOKENS:
            break
        start = p
        while start > covered and p - start < MAX_TOKEN and text[start - 1] not in _URL_STOP:
            start -= 1
        run = _URL_RUN.match(text, p, p + MAX_TOKEN)
        end = run.end() if run is not None else m.end()
        covered = end
        token = text[start:end]
        if len(_URL_ESCAPE.findall(token)) < 3:
            continue
        decoded = unquote(token, errors="replace")
        if decoded != token and len(decoded) >= MIN_DECODED and "\ufffd" not in decoded:
            found.append((start, end, URL, decoded))
        if len(found) >= MAX_SEGMENTS:
            break
    return found


def _line_around(text: str, pos: int) -> tuple[int, int]:
    """The line holding pos, at most MAX_LINE characters of it."""
    lo = max(0, pos - MAX_LINE // 2)
    start = text.rfind("\n", lo, pos) + 1 or lo
    end = text.find("\n", pos, pos + MAX_LINE // 2)
    return start, (end if end != -1 else min(len(text), pos + MAX_LINE // 2))


def _rot13_segments(text: str, low: bytes) -> list[tuple[int, int, str, str]]:
    if _ROT13_NAMED.search(text):
        end = min(len(text), MAX_LINE * 4)
        return [(0, end, ROT13, text[:end].translate(_ROT13))]
    found: list[tuple[int, int, str, str]] = []
    upcoming = {stem: low.find(stem) for stem in _ROT13_STEMS}  # next occurrence of each stem
    pos = 0
    while len(found) < MAX_SEGMENTS:
        for stem, i in upcoming.items():
            while i != -1 and (i < pos or (i > 0 and low[i - 1:i].isalpha())):  # a word start, ahead
                i = low.find(stem, max(i + 1, pos))
            upcoming[stem] = i
        hits = [i for i in upcoming.values() if i != -1]
        if not hits:
            break
        s, e = _line_around(text, min(hits))
        found.append((s, e, ROT13, text[s:e].translate(_ROT13)))
        pos = max(e, min(hits) + 1)
    return found


def _leet_segments(text: str, leet: bytes, i: int) -> list[tuple[int, int, str, str]]:
    """Lines with leetspeak words, the words translated (see the module docstring for the rule); i is
    where the first candidate ("1a" in leet) is."""
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

    looked = 0
    while i != -1 and len(found) < MAX_SEGMENTS and looked < MAX_TOKENS:
        looked += 1
        ts = leet.rfind(b" ", 0, i) + 1
        te = leet.find(b" ", i)
        te = len(leet) if te == -1 else te
        token = text[ts:te]
        if (te - ts <= MAX_LEET_TOKEN and not _NOT_LEET.fullmatch(token) and "2" not in token
                and "6" not in token and text[ts - 1:ts] != "%" and sum(c.isalpha() for c in token) >= 2):
            if line is None or ts >= line[1]:
                flush()
                line, tokens = _line_around(text, ts), []
            tokens.append((ts, te, sum(c in _LEET_CHARS for c in token)))
        hit = _LEET_HIT.search(leet, te)
        i = -1 if hit is None else hit.start()
    flush()
    return found

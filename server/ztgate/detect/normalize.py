"""Text normalisation before scanning, with an offset map back to the original text.

Detectors match patterns; attackers hide the same text from patterns without changing what a model
or a human reads: zero-width characters inside words, bidi controls, Unicode tag characters (an
invisible copy of ASCII), variation-selector byte payloads, Cyrillic/Greek look-alikes, fullwidth
or mathematical letters, terminal escape sequences. normalize() undoes all of that so detectors see
one canonical text, reports each technique as a "smuggling" finding (using one is itself a signal
for the policy), and keeps a map from the normalised text back to the original, because redaction
rewrites the original.

Three stages, each with its own map: (1) remove invisible characters and escape sequences, (2) NFKC,
(3) map look-alike letters (same length, no map). Pure ASCII without an escape character (the
common case) returns the text itself with an identity map after two C-level checks.

Speed: the regex module scans a character class of one range fast but a class of many ranges (or
an alternation) at tens of nanoseconds per character, so invisible characters are found with
str.find per character, mixed scripts with bytes.translate + bytes.find, and patterns are used to
match at known positions. Dense adversarial input degrades to coarser maps, never to quadratic time.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from typing import NamedTuple

import orjson
import regex

from .base import Finding

DETECTOR = "smuggling"
MAX_FINDINGS_PER_TYPE = 16  # the policy needs the technique and where, not every occurrence
MAX_HIDDEN_CHARS = 65536  # decoded tag/variation-selector text kept for rescanning
MAX_NFKC_PIECES = 4096  # beyond this many NFKC rewrites, the rest of the text is one map block

# --- What gets removed --------------------------------------------------------------------------
_KIND: dict[str, str] = {}
for _c in "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e":
    _KIND[_c] = "zw"
for _c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f":
    _KIND[_c] = "bidi"
_BMP_INVISIBLE = tuple(_KIND)
_JOINERS = "\u200c\u200d"  # legitimate inside Arabic, Persian, Indic words and emoji sequences
_BIDI_MARKS = "\u200e\u200f"  # LRM/RLM: ordinary in right-to-left text
_RTL_LETTER = regex.compile(r"[\u0590-\u08ff]")
# Variation selectors (FE00-FE0F, E0100-E01EF) and tag characters (E0000-E007F): found with a
# one-range seek, then the run is matched where it starts.
_VS_SEEK = (regex.compile(r"[\ufe00-\ufe0f]"), regex.compile(r"[\U000e0100-\U000e01ef]"))
_VS_RUN = regex.compile(r"[\ufe00-\ufe0f\U000e0100-\U000e01ef]++")
_TAG_SEEK = regex.compile(r"[\U000e0000-\U000e007f]")
_TAG_RUN = regex.compile(r"[\U000e0000-\U000e007f]++")
_ASTRAL = regex.compile(r"[\U00010000-\U0010ffff]")

# ANSI/VT escape sequences: CSI (ESC [ or the C1 byte 0x9b), OSC (ESC ] or 0x9d, up to BEL or ST),
# other escapes. Literal-led, bounded and possessive: linear on any input.
_ANSI = regex.compile(
    r"(?:\x1b\[|\x9b)(?P<csi_p>[0-?]{0,64}+)[ -/]{0,16}+(?P<csi_f>[@-~])?"
    r"|(?:\x1b\]|\x9d)(?P<osc>[^\x07\x1b\x9c]{0,4096}+)(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]{0,4}+[0-~]?"
)
_CSI_REWRITES = frozenset("ABCDEFGHJKSTfnsu")  # cursor movement, erase, scroll: rewrite the screen

# Characters NFKC may change (quick check No or Maybe).
_NFKC_SEEK = regex.compile(r"[\p{NFKC_QC=N}\p{NFKC_QC=M}]")
_NFKC_RUN = regex.compile(r"[\p{NFKC_QC=N}\p{NFKC_QC=M}]++")

_SEVERITY = {"unicode_tags": "high", "variation_selectors": "high", "bidi_control": "medium",
             "zero_width": "medium", "homoglyphs": "medium", "ansi_escape": "medium"}
_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


class Hidden(NamedTuple):
    """Text decoded from invisible characters (tag characters, variation-selector bytes) that the
    scanner must scan as well. start/end index the ORIGINAL text (the invisible run)."""

    start: int
    end: int
    text: str


@dataclass(slots=True)
class Normalized:
    """The normalised text and the way back to the original.

    _removed: for every removed character k (in order), its original index minus k, i.e. where it
    would sit in the text without removals; _blocks: NFKC rewrites (start, start in the text after
    removal, length, length there). Both empty: the identity."""

    text: str
    hidden: list[Hidden] = field(default_factory=list)
    _removed: list[int] = field(default_factory=list, repr=False)
    _blocks: list[tuple[int, int, int, int]] = field(default_factory=list, repr=False)
    _starts: list[int] = field(default_factory=list, repr=False)
    _mid_len: int = 0
    _orig_len: int = 0

    @property
    def is_identity(self) -> bool:
        return not self._removed and not self._blocks

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that [start, end) of the normalised text came from.

        A span that starts or ends inside a rewritten piece (an NFKC expansion such as "ﬁ" -> "fi")
        widens to the whole piece; characters removed inside the span (a zero-width space in the
        middle of a key) are covered, those just outside it are not."""
        if not self._removed and not self._blocks:
            return start, end
        n = len(self.text)
        start = min(max(start, 0), n)
        end = min(max(end, start), n)
        if start == end:
            mid = self._mid_start(start) if start < n else self._mid_len
            o = self._orig(mid) if mid < self._mid_len else self._orig_len
            return o, o
        return self._orig(self._mid_start(start)), self._orig(self._mid_end(end) - 1) + 1

    def _orig(self, i: int) -> int:
        return i + bisect_right(self._removed, i) if self._removed else i

    def _mid_start(self, i: int) -> int:
        k = bisect_right(self._starts, i) - 1
        if k < 0:
            return i
        ns, ms, nl, ml = self._blocks[k]
        return ms if i < ns + nl else i - (ns + nl) + (ms + ml)

    def _mid_end(self, j: int) -> int:
        i = j - 1
        k = bisect_right(self._starts, i) - 1
        if k < 0:
            return j
        ns, ms, nl, ml = self._blocks[k]
        return ms + ml if i < ns + nl else i - (ns + nl) + (ms + ml) + 1


class _Findings:
    """Findings with a cap per (type, severity), so adversarial input costs no more than the cap."""

    def __init__(self) -> None:
        self.items: list[Finding] = []
        self.count: Counter[tuple[str, str]] = Counter()

    def add(self, kind: str, start: int, end: int, severity: str | None = None) -> None:
        severity = severity or _SEVERITY[kind]
        if self.count[(kind, severity)] < MAX_FINDINGS_PER_TYPE:
            self.count[(kind, severity)] += 1
            self.items.append(Finding(DETECTOR, kind, severity, 0.9, start, end))

    def capped(self) -> list[Finding]:
        """At most MAX_FINDINGS_PER_TYPE per type, the most severe first, in text order."""
        by_type: dict[str, list[Finding]] = {}
        for f in self.items:
            by_type.setdefault(f.type, []).append(f)
        kept: list[Finding] = []
        for group in by_type.values():
            group.sort(key=lambda f: -_RANK[f.severity])
            kept += group[:MAX_FINDINGS_PER_TYPE]
        kept.sort(key=lambda f: (f.start, f.end))
        return kept


# --- Homoglyphs ---------------------------------------------------------------------------------


def _homoglyph_table() -> dict[int, str]:
    """Non-Latin letters that look like an ASCII letter, from Unicode's confusables (via the
    confusable-homoglyphs package), built once at import. Latin-script letters (ı, ɑ) are left
    alone so Turkish or IPA text is not rewritten; fullwidth and mathematical letters are NFKC's job.
    Only single-letter targets are kept so the mapping never changes the text's length."""
    raw = resources.files("confusable_homoglyphs").joinpath("confusables.json").read_bytes()
    table: dict[int, str] = {}
    for char, entries in orjson.loads(raw).items():
        if len(char) != 1 or char.isascii() or not unicodedata.category(char).startswith("L"):
            continue
        if unicodedata.name(char, "").startswith(("LATIN", "MATHEMATICAL", "FULLWIDTH", "DOUBLE-STRUCK")):
            continue
        if unicodedata.normalize("NFKC", char).isascii():
            continue
        targets = [e["c"] for e in entries if len(e["c"]) == 1 and e["c"].isascii() and e["c"].isalpha()]
        if targets:
            same_case = [t for t in targets if t.isupper() == char.isupper()]
            table[ord(char)] = (same_case or targets)[0]
    return table


_HOMOGLYPHS = _homoglyph_table()
_WORD_LIMIT = 64  # a "word" longer than this is not a word; stop looking for its edges
# One byte per character (text.encode("ascii", "replace")): ASCII letters -> "a", digits and "_"
# -> "d", non-ASCII -> "u" (and the real "?", told apart by looking at the text), else " ".
# Mixed-script words show up as "au"/"ua" pairs, found with bytes.find at memory speed.
_SCRIPT_MAP = bytes(
    ord("a") if chr(b).isascii() and chr(b).isalpha() else ord("d") if chr(b).isdigit() or b == ord("_")
    else ord("u") if b == ord("?") else ord(" ")
    for b in range(256)
)


# --- normalize ----------------------------------------------------------------------------------


def normalize(text: str) -> tuple[Normalized, list[Finding]]:
    """Normalise text for scanning: remove invisible and control characters (decoding tag-character
    and variation-selector payloads into Normalized.hidden), NFKC, map look-alike letters in
    mixed-script words to ASCII. Returns the normalised text with its offset map, and one
    "smuggling" finding per technique occurrence (original spans, capped per type)."""
    if text.isascii() and "\x1b" not in text:
        return Normalized(text, _orig_len=len(text)), []
    findings = _Findings()
    norm = Normalized(text, _orig_len=len(text))
    mid = _remove_invisible(text, norm, findings)
    norm._mid_len = len(mid)
    out = mid
    if not mid.isascii():
        if not unicodedata.is_normalized("NFKC", mid):
            out = _nfkc(mid, norm)
        norm.text = out
        if not out.isascii():
            out = _map_homoglyphs(out, norm, findings)
    norm.text = out
    return norm, findings.capped()


def _remove_invisible(text: str, norm: Normalized, findings: _Findings) -> str:
    """Stage 1: drop escape sequences and invisible characters, classify each run, decode payloads."""
    runs: list[tuple[int, int, str, regex.Match[str] | None]] = []
    if "\x1b" in text or "\x9b" in text or "\x9d" in text:
        runs += [(m.start(), m.end(), "ansi", m) for m in _ANSI.finditer(text)]
    if not text.isascii():
        positions: list[int] = []
        for char in _BMP_INVISIBLE:
            i = text.find(char)
            while i != -1:
                positions.append(i)
                i = text.find(char, i + 1)
        if positions:
            positions.sort()
            start = prev = positions[0]
            kind = _KIND[text[start]]
            for i in positions[1:]:
                k = _KIND[text[i]]
                if i != prev + 1 or k != kind:
                    runs.append((start, prev + 1, kind, None))
                    start, kind = i, k
                prev = i
            runs.append((start, prev + 1, kind, None))
        seeks = [(_VS_SEEK[0], _VS_RUN, "vs")]
        if _ASTRAL.search(text):
            seeks += [(_VS_SEEK[1], _VS_RUN, "vs"), (_TAG_SEEK, _TAG_RUN, "tags")]
        for seek, run, kind in seeks:  # a run found twice (mixed FE0x/E01xx) is skipped below
            m = seek.search(text)
            while m is not None:
                r = run.match(text, m.start())
                assert r is not None
                runs.append((r.start(), r.end(), kind, None))
                m = seek.search(text, r.end())
    if not runs:
        return text
    runs.sort(key=lambda r: (r[0], -r[1]))
    pieces: list[str] = []
    removed: list[int] = []
    last = 0
    rtl: list[bool] = []
    for s, e, kind, m in runs:
        if s < last:  # a run inside one already removed (BMP selectors inside a mixed payload)
            continue
        _classify(text, s, e, kind, m, norm, findings, rtl)
        pieces.append(text[last:s])
        base = s - len(removed)
        removed.extend([base] * (e - s))
        last = e
    pieces.append(text[last:])
    norm._removed = removed
    return "".join(pieces)


def _classify(text: str, s: int, e: int, kind: str, m: regex.Match[str] | None, norm: Normalized,
              findings: _Findings, rtl: list[bool]) -> None:
    """The finding (and hidden payload) for one removed run, if the run is suspicious."""
    if kind == "tags":
        payload = "".join(chr(ord(c) - 0xE0000) for c in text[s:e] if 0xE0020 <= ord(c) <= 0xE007E)
        # A subdivision flag (England, Scotland, Wales) is black flag + lowercase tag letters + cancel.
        if s > 0 and text[s - 1] == "\U0001f3f4" and payload.isalnum() and payload.islower() and len(payload) <= 7:
            return
        findings.add("unicode_tags", s, e)
        _hide(norm, s, e, payload)
    elif kind == "vs":
        if e - s < 2:  # one selector after a base character is ordinary emoji/CJK presentation
            return
        findings.add("variation_selectors", s, e)
        data = bytes((o - 0xFE00) if o <= 0xFE0F else (o - 0xE0100 + 16) for o in map(ord, text[s:e]))
        _hide(norm, s, e, data.decode("utf-8", errors="replace"))
    elif kind == "zw":
        run = text[s:e]
        if s == 0 and run == "\ufeff":
            return  # byte-order mark
        if e - s >= 8:
            findings.add("zero_width", s, e, "high")  # long runs carry bits, not formatting
        elif 0 < s and e < len(text) and text[s - 1].isalnum() and text[e].isalnum():
            if run.strip(_JOINERS) or (text[s - 1].isascii() and text[e].isascii()):
                findings.add("zero_width", s, e)  # not ZWJ/ZWNJ inside Persian, Indic or emoji
    elif kind == "bidi":
        run = text[s:e]
        if run.strip(_BIDI_MARKS) == "":
            if not rtl:
                rtl.append(_RTL_LETTER.search(text) is not None)
            if not rtl[0]:
                findings.add("bidi_control", s, e, "low")
            return
        findings.add("bidi_control", s, e, "high" if ("\u202d" in run or "\u202e" in run) else "medium")
    elif kind == "ansi" and m is not None:
        findings.add("ansi_escape", s, e, _ansi_severity(m))


def _hide(norm: Normalized, s: int, e: int, payload: str) -> None:
    used = sum(len(h.text) for h in norm.hidden)
    if payload.strip() and used < MAX_HIDDEN_CHARS:
        norm.hidden.append(Hidden(s, e, payload[: MAX_HIDDEN_CHARS - used]))


def _ansi_severity(m: regex.Match[str]) -> str:
    """Escapes that move the cursor, erase, conceal or write the clipboard can hide or rewrite what
    a terminal shows; colours are merely noise."""
    final = m.group("csi_f")
    if final is not None:
        if final in _CSI_REWRITES:
            return "high"
        if final == "m" and "8" in (m.group("csi_p") or "").split(";"):
            return "high"  # SGR 8: concealed text
        return "low"
    osc = m.group("osc")
    if osc is not None:
        return "high" if osc.startswith("52;") else "medium"  # OSC 52 sets the clipboard
    return "low"


def _nfkc(mid: str, norm: Normalized) -> str:
    """Stage 2: NFKC, one map block per rewritten character (with the combining marks around it),
    so "ﬁ" -> "fi" and "e" + U+0301 -> "é" keep exact spans. Past MAX_NFKC_PIECES rewrites the rest
    of the text becomes a single block."""
    pieces: list[str] = []
    blocks: list[tuple[int, int, int, int]] = []
    last = npos = 0
    m = _NFKC_SEEK.search(mid)
    while m is not None:
        run = _NFKC_RUN.match(mid, m.start())
        assert run is not None
        s, e = run.span()
        if s > last and unicodedata.combining(mid[s]):
            s -= 1  # the character a combining mark composes with
        if len(blocks) >= MAX_NFKC_PIECES:
            s, e = max(s, last), len(mid)
        repl = unicodedata.normalize("NFKC", mid[s:e])
        if repl != mid[s:e]:
            pieces += [mid[last:s], repl]
            npos += s - last
            blocks.append((npos, s, len(repl), e - s))
            npos += len(repl)
            last = e
        m = _NFKC_SEEK.search(mid, e) if e < len(mid) else None
    if not blocks:
        return mid
    pieces.append(mid[last:])
    norm._blocks = blocks
    norm._starts = [b[0] for b in blocks]
    return "".join(pieces)


def _map_homoglyphs(text: str, norm: Normalized, findings: _Findings) -> str:
    """Stage 3: map look-alike letters to ASCII in words that mix them with ASCII letters
    ("pаssword" with a Cyrillic а), and, in text that is mostly ASCII, in words made only of
    look-alikes ("рау" in an English sentence). Words of a script's own text ("сор" in a Russian
    sentence) stay as they are. The mapping keeps the length."""
    codes = text.encode("ascii", "replace").translate(_SCRIPT_MAP)
    hits: list[int] = []
    for pair, offset in ((b"au", 1), (b"ua", 0)):
        i = codes.find(pair)
        while i != -1:
            if ord(text[i + offset]) in _HOMOGLYPHS:
                hits.append(i + offset)
            i = codes.find(pair, i + 1)
    non_ascii = codes.count(b"u") - text.count("?")
    if 0 < non_ascii and 3 * non_ascii <= codes.count(b"a"):  # mostly ASCII: every look-alike word
        i = codes.find(b"u")
        while i != -1:
            if ord(text[i]) in _HOMOGLYPHS:
                hits.append(i)
            i = codes.find(b"u", i + 1)
    if not hits:
        return text
    hits.sort()
    chars: list[str] | None = None
    done = -1
    for p in hits:
        if p < done:
            continue
        ws = max(codes.rfind(b" ", max(0, p - _WORD_LIMIT), p) + 1, p - _WORD_LIMIT, 0)
        we = codes.find(b" ", p, p + _WORD_LIMIT)
        we = min(len(text), p + _WORD_LIMIT) if we == -1 else we
        done = we
        word = text[ws:we]
        if codes.find(b"a", ws, we) == -1:
            # Only look-alikes: a homoglyph word if every letter has an ASCII twin and the words
            # around it are ASCII.
            letters = [c for c in word if c.isalpha()]
            if len(letters) < 2 or any(ord(c) not in _HOMOGLYPHS for c in letters):
                continue
            window = codes[max(0, ws - 48):ws] + codes[we:we + 48]
            if window.count(b"a") < 4 or window.count(b"a") <= 2 * window.count(b"u"):
                continue
        if chars is None:
            chars = list(text)
        chars[ws:we] = word.translate(_HOMOGLYPHS)
        findings.add("homoglyphs", *norm.to_original(ws, we))
    return "".join(chars) if chars is not None else text

"""Text normalisation before scanning, with an offset map back to the original text.

Detectors match patterns; attackers hide the same text from patterns without changing what a model
or a human reads: zero-width characters inside words, bidi controls, Unicode tag characters (an
invisible copy of ASCII), variation-selector byte payloads, Cyrillic/Greek look-alikes, fullwidth
or mathematical letters, terminal escape sequences. normalize() undoes all of that so detectors see
one canonical text, reports each technique as a "smuggling" finding (using one is itself a signal
for the policy), and keeps a map from the normalised text back to the original, because redaction
rewrites the original.

Three stages, each with its own map: (1) remove invisible characters and escape sequences, (2) NFKC,
(3) map look-alike letters (detect/homoglyphs.py; same length, no map). Pure ASCII without an escape character (the
common case) returns the text itself with an identity map after two C-level checks; text with
nothing beyond Latin-1 (German, French, Spanish without typographic quotes) skips the scans for
invisible characters (but U+00AD) and look-alike letters, none of which is in Latin-1.

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
from typing import NamedTuple

import regex

from .base import Finding
from .homoglyphs import map_homoglyphs

DETECTOR = "smuggling"
MAX_FINDINGS_PER_TYPE = 16  # the policy needs the technique and where, not every occurrence
MAX_HIDDEN_CHARS = 65536  # decoded tag/variation-selector text kept for rescanning
MAX_RUNS = 512  # per stage; past it the rest of the text is rewritten in one piece (coarse map)

# --- What gets removed --------------------------------------------------------------------------
_KIND: dict[str, str] = {}
for _c in "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e":
    _KIND[_c] = "zw"
for _c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f":
    _KIND[_c] = "bidi"
_JOINERS = "\u200c\u200d"  # legitimate inside Arabic, Persian, Indic words and emoji sequences
_BIDI_MARKS = "\u200e\u200f"  # LRM/RLM: ordinary in right-to-left text
_RTL_LETTER = regex.compile(r"[\u0590-\u08ff]")
# Where a suspicious run starts. Each seek is one range or literal (scanned fast) with lookarounds
# checked only where it hits, so the glue of ordinary text is passed over inside the regex engine:
# ZWJ/ZWNJ not touching an ASCII letter or digit (👩‍💻, Persian), one variation selector after a
# symbol (❤️), LRM/RLM in right-to-left text. Those stay in the text; they hide nothing.
_GATE = regex.compile(r"[\u200b-\u206f]")  # one range: is any of the next six worth a look?
_SEEKS_GATED = tuple(regex.compile(p) for p in (
    r"\u200b", r"[\u2060-\u2064]", r"[\u202a-\u202e]", r"[\u2066-\u2069]",
    r"[\u200c-\u200d](?:(?<=[0-9A-Za-z].)|(?=[0-9A-Za-z]))",
))
_SEEK_MARKS = regex.compile(r"[\u200e-\u200f]")  # only in text without right-to-left letters
_SEEKS_SINGLE = {c: regex.compile(c) for c in "\ufeff\u00ad\u180e"}  # looked for when `in` text
_SEEK_VS = regex.compile(r"[\ufe00-\ufe0f](?:(?<=[0-9A-Za-z].)|(?=[\ufe00-\ufe0f\U000e0100-\U000e01ef]))")
_SEEKS_ASTRAL = (regex.compile(r"[\U000e0000-\U000e007f]"), regex.compile(r"[\U000e0100-\U000e01ef]"))
_ASTRAL = regex.compile(r"[\U00010000-\U0010ffff]")
_RUN = regex.compile(
    r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad\u180e\ufe00-\ufe0f"
    r"\U000e0000-\U000e007f\U000e0100-\U000e01ef]++"
)
_TAG_RUN = regex.compile(r"[\U000e0000-\U000e007f]++")
_NOT_TAG = regex.compile(r"[^\U000e0000-\U000e007f]++")
_KIND_RUN = {
    "zw": regex.compile(r"[\u200b-\u200d\u2060-\u2064\ufeff\u00ad\u180e]++"),
    "bidi": regex.compile(r"[\u200e\u200f\u202a-\u202e\u2066-\u2069]++"),
    "vs": regex.compile(r"[\ufe00-\ufe0f\U000e0100-\U000e01ef]++"),
    "tags": _TAG_RUN,
}
# Tag characters spell ASCII (U+E0041 is "A"); variation selectors carry one byte each (VS1-VS16
# are 0-15, VS17-VS256 are 16-255): decoded with str.translate, not a loop.
_TAG_TEXT = {**{o: None for o in range(0xE0000, 0xE0080)}, **{0xE0000 + b: chr(b) for b in range(0x20, 0x7F)}}
_VS_BYTES = {**{0xFE00 + b: chr(b) for b in range(16)}, **{0xE0100 + b: chr(16 + b) for b in range(240)}}
_DELETE = {**{ord(c): None for c in _KIND}, **{o: None for o in range(0xFE00, 0xFE10)},
           **{o: None for o in range(0xE0000, 0xE0080)}, **{o: None for o in range(0xE0100, 0xE01F0)}}


def _kind(c: str) -> str:
    if c in _KIND:
        return _KIND[c]
    return "tags" if "\U000e0000" <= c <= "\U000e007f" else "vs"


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
_NFKC_MAYBE = regex.compile(r"\p{NFKC_QC=M}")  # may compose with the character before

_SEVERITY = {"unicode_tags": "high", "variation_selectors": "high", "bidi_control": "medium",
             "zero_width": "medium", "homoglyphs": "medium", "ansi_escape": "medium"}
_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


class Hidden(NamedTuple):
    """Text decoded from invisible characters (tag characters, variation-selector bytes) that the
    scanner must scan as well. start/end index the ORIGINAL text (the invisible run)."""

    start: int
    end: int
    text: str


class _Map:
    """How one stage's output maps to its input: blocks (out_start, in_start, out_len, in_len) for
    every place the text changed, in order; between blocks the texts run in step."""

    __slots__ = ("blocks", "starts", "out_len", "in_len")

    def __init__(self, blocks: list[tuple[int, int, int, int]], out_len: int, in_len: int) -> None:
        self.blocks = blocks
        self.starts = [b[0] for b in blocks]
        self.out_len = out_len
        self.in_len = in_len

    def start(self, i: int) -> int:
        """The input index where output index i (a start, or an empty span) comes from."""
        if i >= self.out_len:
            return self.in_len
        k = bisect_right(self.starts, i) - 1
        if k < 0:
            return i
        os_, is_, ol, il = self.blocks[k]
        return is_ if i < os_ + ol else i - (os_ + ol) + (is_ + il)

    def end(self, j: int) -> int:
        """The input index where an output span ending (exclusively) at j ends."""
        i = j - 1
        k = bisect_right(self.starts, i) - 1
        if k < 0:
            return j
        os_, is_, ol, il = self.blocks[k]
        return is_ + il if i < os_ + ol else i - (os_ + ol) + (is_ + il) + 1


@dataclass(slots=True)
class Normalized:
    """The normalised text and the way back to the original (one _Map per stage that changed it;
    none is the identity)."""

    text: str
    hidden: list[Hidden] = field(default_factory=list)
    _maps: list[_Map] = field(default_factory=list, repr=False)
    _hidden_done: int = field(default=0, repr=False)  # characters in hidden[:-1]

    @property
    def is_identity(self) -> bool:
        return not self._maps

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that [start, end) of the normalised text came from.

        A span that starts or ends inside a rewritten piece (an NFKC expansion such as "ﬁ" -> "fi")
        widens to the whole piece; characters removed inside the span (a zero-width space in the
        middle of a key) are covered, those just outside it are not."""
        if not self._maps:
            return start, end
        n = len(self.text)
        start = min(max(start, 0), n)
        end = min(max(end, start), n)
        for m in reversed(self._maps):
            if start == end:
                start = end = m.start(start)
            else:
                start, end = m.start(start), m.end(end)
        return start, end


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


# --- normalize ----------------------------------------------------------------------------------


def normalize(text: str) -> tuple[Normalized, list[Finding]]:
    """Normalise text for scanning: remove invisible and control characters (decoding tag-character
    and variation-selector payloads into Normalized.hidden), NFKC, map look-alike letters in
    mixed-script words to ASCII. Returns the normalised text with its offset map, and one
    "smuggling" finding per technique occurrence (original spans, capped per type)."""
    if text.isascii() and "\x1b" not in text:
        return Normalized(text), []
    findings = _Findings()
    norm = Normalized(text)
    wide = _latin1(text) is None
    out = _remove_invisible(text, norm, findings, wide)
    if not out.isascii():
        latin = _latin1(out)
        # Latin-1 has no combining mark to compose: it is NFKC when no character is one NFKC rewrites.
        stable = latin is not None and not latin.translate(None, _NFKC_STABLE)
        if not stable and not unicodedata.is_normalized("NFKC", out):
            out = _nfkc(out, norm)
            latin = _latin1(out)
        norm.text = out
        if latin is None:  # no look-alike letter is in Latin-1
            out, words = map_homoglyphs(out, MAX_RUNS)
            for start, end in words:
                findings.add("homoglyphs", *norm.to_original(start, end))
    norm.text = out
    return norm, findings.capped()


def _latin1(text: str) -> bytes | None:
    """The text in Latin-1 when every character is below U+0100 (a memory copy for such a text):
    then none of the invisible characters but U+00AD, and no look-alike letter, can be in it, and
    the scans for them (tens of microseconds on a 4 KB text of German or French) are skipped."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return None


# The Latin-1 characters NFKC leaves alone (it rewrites NBSP, "ª", "²", "½", "µ"...).
_NFKC_STABLE = bytes(b for b in range(256) if unicodedata.normalize("NFKC", chr(b)) == chr(b))


def _remove_invisible(text: str, norm: Normalized, findings: _Findings, wide: bool = True) -> str:
    """Stage 1: drop escape sequences and invisible characters, classify each run, decode payloads.
    Past MAX_RUNS runs the rest of the text is cleaned in one C-level pass (coarse map). `wide`:
    the text may hold characters beyond Latin-1 (else only U+00AD is looked for)."""
    runs: list[tuple[int, int, str, regex.Match[str] | None]] = []
    cut = len(text)  # where fine-grained handling stops
    if "\x1b" in text or "\x9b" in text or "\x9d" in text:
        for m in _ANSI.finditer(text):
            if len(runs) >= MAX_RUNS:
                cut = min(cut, m.start())
                break
            runs.append((m.start(), m.end(), "ansi", m))
    seeks: list[regex.Pattern[str]] = []
    if not wide:
        if "\u00ad" in text:
            seeks.append(_SEEKS_SINGLE["\u00ad"])
    elif not text.isascii():
        seeks = [_SEEK_VS] + [seek for c, seek in _SEEKS_SINGLE.items() if c in text]
        if _GATE.search(text):
            seeks += _SEEKS_GATED
            if not _RTL_LETTER.search(text):
                seeks.append(_SEEK_MARKS)
        if _ASTRAL.search(text):
            seeks += _SEEKS_ASTRAL
    budget = MAX_RUNS
    for seek in seeks:  # runs found twice (mixed kinds) are skipped below
        m = seek.search(text, 0, cut)
        while m is not None:
            if budget <= 0:
                cut = min(cut, m.start())
                break
            budget -= 1
            r = _RUN.match(text, m.start())
            assert r is not None
            i = r.start()
            while i < r.end():  # one run per kind
                kind = _kind(text[i])
                k = _KIND_RUN[kind].match(text, i, r.end())
                assert k is not None
                runs.append((i, k.end(), kind, None))
                i = k.end()
            m = seek.search(text, r.end(), cut)
    if not runs and cut == len(text):
        return text
    runs.sort(key=lambda r: (r[0], -r[1]))
    if len(runs) > MAX_RUNS:
        cut = min(cut, runs[MAX_RUNS][0])
    pieces: list[str] = []
    blocks: list[tuple[int, int, int, int]] = []
    last = npos = 0
    rtl: list[bool] = []
    for s, e, kind, m in runs:
        if s < last or s >= cut:  # inside a run already removed, or past the cut
            continue
        e = min(e, cut)
        _classify(text, s, e, kind, m, norm, findings, rtl)
        pieces.append(text[last:s])
        npos += s - last
        blocks.append((npos, s, 0, e - s))
        last = e
    if cut < len(text):
        tail = text[max(cut, last):]
        clean = _ANSI.sub("", tail) if "\x1b" in tail or "\x9b" in tail or "\x9d" in tail else tail
        clean = clean.translate(_DELETE)
        _tail_findings(tail, clean, max(cut, last), norm, findings)
        pieces += [text[last:max(cut, last)], clean]
        npos += max(cut, last) - last
        blocks.append((npos, max(cut, last), len(clean), len(tail)))
        last = len(text)
    else:
        pieces.append(text[last:])
    out = "".join(pieces)
    norm._maps.append(_Map(blocks, len(out), len(text)))
    return out


def _tail_findings(tail: str, clean: str, offset: int, norm: Normalized, findings: _Findings) -> None:
    """Findings and hidden text for the part of a dense adversarial input handled in one piece."""
    if _SEEKS_ASTRAL[0].search(tail):
        tags = _NOT_TAG.sub("", tail)
        findings.add("unicode_tags", offset, offset + len(tail))
        _hide(norm, offset, offset + len(tail), tags[:MAX_HIDDEN_CHARS].translate(_TAG_TEXT))
    if len(clean) != len(tail):
        findings.add("zero_width", offset, offset + len(tail), "high")


def _classify(text: str, s: int, e: int, kind: str, m: regex.Match[str] | None, norm: Normalized,
              findings: _Findings, rtl: list[bool]) -> None:
    """The finding (and hidden payload) for one removed run, if the run is suspicious."""
    if kind == "tags":
        payload = text[s:min(e, s + MAX_HIDDEN_CHARS)].translate(_TAG_TEXT)
        # A subdivision flag (England, Scotland, Wales) is black flag + lowercase tag letters + cancel.
        if s > 0 and text[s - 1] == "\U0001f3f4" and payload.isalnum() and payload.islower() and len(payload) <= 7:
            return
        findings.add("unicode_tags", s, e)
        _hide(norm, s, e, payload)
    elif kind == "vs":
        if e - s < 2:  # one selector: ordinary presentation, unless it splits a word
            if 0 < s and e < len(text) and text[s - 1].isalnum() and text[e].isalnum():
                findings.add("variation_selectors", s, e, "medium")
            return
        findings.add("variation_selectors", s, e)
        data = text[s:min(e, s + MAX_HIDDEN_CHARS)].translate(_VS_BYTES).encode("latin-1")
        _hide(norm, s, e, data.decode("utf-8", errors="replace"))
    elif kind == "zw":
        run = text[s:e]
        if s == 0 and run == "\ufeff":
            return  # byte-order mark
        if e - s >= 8:
            findings.add("zero_width", s, e, "high")  # long runs carry bits, not formatting
        elif 0 < s and e < len(text) and not text[s - 1].isspace() and not text[e].isspace():
            before, after = text[s - 1], text[e]
            if run.strip(_JOINERS) or (before.isascii() and after.isascii()):
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
    """Keep a decoded payload for rescanning. Payloads less than 256 characters apart are one
    message split around visible text (a tag character after every letter): they are joined."""
    joined = bool(norm.hidden) and s - norm.hidden[-1].end <= 256
    if not payload or (not joined and not payload.strip()):
        return
    used = sum(len(h.text) for h in norm.hidden[-1:]) + norm._hidden_done
    if used >= MAX_HIDDEN_CHARS:
        return
    payload = payload[: MAX_HIDDEN_CHARS - used]
    if joined:
        prev = norm.hidden.pop()
        norm.hidden.append(Hidden(prev.start, e, prev.text + payload))
    else:
        if norm.hidden:
            norm._hidden_done += len(norm.hidden[-1].text)
        norm.hidden.append(Hidden(s, e, payload))


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
    """Stage 2: NFKC, rewriting each changed character with the combining marks around it, so
    "ﬁ" -> "fi" and "e" + U+0301 -> "é" keep exact spans (length-preserving rewrites such as
    fullwidth letters need no map block). Past MAX_RUNS rewrites the rest is one block."""
    # Characters that map to one character (fullwidth forms, circled digits, mathematical
    # letters): replaced in C (str.replace, or one translate when there are many), no map block;
    # what is left goes piece by piece.
    one_to_one = {}
    for char in set(_NFKC_SEEK.findall(mid)):
        repl = unicodedata.normalize("NFKC", char)
        if len(repl) == 1 and not unicodedata.combining(char) and not unicodedata.combining(repl):
            one_to_one[ord(char)] = repl
    if len(one_to_one) > 32:
        mid = mid.translate(one_to_one)
    else:
        for code, repl in one_to_one.items():
            mid = mid.replace(chr(code), repl)
    if unicodedata.is_normalized("NFKC", mid):
        return mid
    pieces: list[str] = []
    blocks: list[tuple[int, int, int, int]] = []
    last = npos = changed = 0
    for m in _NFKC_RUN.finditer(mid):
        s, e = m.span()
        if s < last:
            continue
        if s > last and _NFKC_MAYBE.match(mid, s):
            s -= 1  # the character a combining mark or Hangul vowel composes with
        coarse = changed >= MAX_RUNS
        if coarse:
            s, e = last, len(mid)
        repl = unicodedata.normalize("NFKC", mid[s:e])
        if repl == mid[s:e]:
            if coarse:
                break
            continue
        changed += 1
        pieces += [mid[last:s], repl]
        npos += s - last
        if len(repl) != e - s or e - s > 1:  # only a 1:1 rewrite keeps every offset
            blocks.append((npos, s, len(repl), e - s))
        npos += len(repl)
        last = e
        if e == len(mid):
            break
    if not pieces:
        return mid
    pieces.append(mid[last:])
    out = "".join(pieces)
    if blocks:
        norm._maps.append(_Map(blocks, len(out), len(mid)))
    return out

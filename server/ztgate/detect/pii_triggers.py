"""Where the PII recognizers can match: cheap passes over a text that find candidate windows.

In Python every regex pass over a 4 KB prompt costs tens of microseconds, so the detector
(detect/pii.py) runs each recognizer only inside the windows its `scope` names (pii_rules.py):

- "digits": runs of 4+ digits (one regex pass), each with its shape (digits, the numbers it can
  hold, longest group of digits in a row, separators), so a rule runs only near runs it can match;
- "token": maximal runs of ASCII letters and digits of a given length, found with bytes.translate
  + bytes.find on a one-byte-per-character copy (a regex scans a multi-range class at tens of
  nanoseconds per character);
- "hexsep": colon/dash/dot-separated hex groups (IPv6, MAC), on the same copy with hex digits as "h";
- "near": around the rule's `requires` literals, taken from the keyword index's hits.

Every function here is linear in the text.
"""

from __future__ import annotations

import re

import ahocorasick
import regex

MAX_GROUPS = 12  # groups of digits in a run looked at one by one (see digit_runs)
RUN_SEPARATOR_CHARS = " -./()"  # what may join the digits of one run (at most two in a row)
RUN_SEPARATORS = str.maketrans("", "", RUN_SEPARATOR_CHARS)  # deletes them

_DIGIT_RUN = regex.compile(r"[0-9](?:[ \-./()]{0,2}[0-9]){3,255}")
_SEPARATORS = re.compile(r"[ \-./()]+")  # ASCII only: the stdlib engine starts a split faster
_SEPARATOR_SET = frozenset(RUN_SEPARATOR_CHARS)
# IPv6 and MAC candidates, matched on a one-byte-per-character copy of the text where hex digits are
# "h" and ":", "-", "." themselves. Each trigger starts with a literal, which the regex engine skips
# to quickly (an alternation of them would be tried at every position: ten times slower); windows
# reach this far before/after a trigger.
_HEX_MAP = bytes(
    ord("h") if chr(b) in "0123456789abcdefABCDEF" else b if chr(b) in ":-." else ord(" ") for b in range(256)
)
_HEXSEP = (re.compile(rb":h{0,4}:"), re.compile(rb"-hh-hh-"), re.compile(rb"\.hhhh\.hhhh"))
_HEXSEP_MARGINS = (45, 50)
_ALNUM = bytes(ord("a") if chr(b).isascii() and chr(b).isalnum() else ord(" ") for b in range(256))
TOKEN_MIN = 16  # shortest token alnum_tokens reports

Span = tuple[int, int]


Shape = tuple[int, tuple[int, ...] | None, int, str]  # see digit_runs


def digit_runs(text: str) -> list[tuple[int, int, Shape]]:
    """(start, end, shape) of each run of 4+ digits joined by at most two of " -./()". The shape:
    number of digits; the digit counts of the numbers the run can hold (None: any up to all of them);
    the longest group of digits in a row; the separators in it.

    A run may be several numbers: spaces join any ("4111 1111 1111 1111 4012 8888 8888 1881"), and
    "192.168.1.10(0611725555" is an address and a phone number. So the numbers it can hold are its
    consecutive groups; a run with a space can hold any, one with more than MAX_GROUPS groups is taken
    as one number (else dense runs of short groups would make every rule run everywhere).
    A run of more than 40 digits with no separator cannot hold an entity (each needs a non-digit on
    both sides, and none is that long), so it is dropped: a 64 KB string of digits costs one pass."""
    runs = []
    for m in _DIGIT_RUN.finditer(text):
        run = m.group()
        if run.isdigit():
            if len(run) <= 40:
                runs.append((*m.span(), (len(run), (len(run),), len(run), "")))
            continue
        groups = [len(g) for g in _SEPARATORS.split(run) if g]
        digits = sum(groups)
        sums: tuple[int, ...] | None
        if " " in run:
            sums = None  # spaces join any numbers
        elif len(groups) <= MAX_GROUPS:
            sums = tuple(sorted({sum(groups[i:j]) for i in range(len(groups)) for j in range(i + 1, len(groups) + 1)}))
        else:  # "1.2.3.4(5" x 1000: too many to look at one by one; taken as one number
            sums = (digits,)
        seps = "".join(sorted(_SEPARATOR_SET.intersection(run)))
        runs.append((*m.span(), (digits, sums, max(groups), seps)))
    return runs


def ascii_codes(text: str) -> bytes:
    """One byte per character (anything beyond ASCII is "?"): offsets are the text's."""
    return text.encode("ascii", "replace")


def alnum_tokens(codes: bytes) -> list[Span]:
    """[start, end) of each maximal run of TOKEN_MIN+ ASCII letters and digits (in ascii_codes of
    the text): the only places a fixed-length token (bounded by non-word characters) can be."""
    runs = codes.translate(_ALNUM)
    out = []
    i = runs.find(b"a" * TOKEN_MIN)
    while i != -1:
        j = runs.find(b" ", i)
        j = len(runs) if j == -1 else j
        out.append((i, j))
        i = runs.find(b"a" * TOKEN_MIN, j)
    return out


def hexsep_windows(codes: bytes) -> list[Span]:
    """Merged windows around colon/dash/dot-separated hex groups (in ascii_codes of the text)."""
    hexes = codes.translate(_HEX_MAP)
    spans = [m.span() for trigger in _HEXSEP for m in trigger.finditer(hexes)]
    return merge(spans, *_HEXSEP_MARGINS, len(codes))


def literal_starts(hits: list[tuple[int, str]], mine: frozenset[str]) -> dict[str, list[int]]:
    """literal -> start offsets, for the detector's literals among a keyword index's hits."""
    seen: dict[str, list[int]] = {}
    for end, lit in hits:
        if lit in mine:
            seen.setdefault(lit, []).append(end - len(lit) + 1)
    return seen


def near_windows(seen: dict[str, list[int]], literals: frozenset[str], near: Span, n: int) -> list[Span]:
    """Merged windows reaching near = (before, after) around each occurrence of the literals."""
    starts = [i for lit in literals for i in seen.get(lit, ())]
    return merge([(i, i + 1) for i in starts], near[0], near[1], n)


def merge(spans: list[Span], before: int, after: int, n: int) -> list[Span]:
    """The spans widened by before/after (within [0, n]), overlapping ones joined, in order."""
    merged: list[Span] = []
    for s, e in sorted(spans):
        s, e = max(0, s - before), min(n, e + after)
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def automaton(words: set[str]) -> ahocorasick.Automaton:
    """An Aho-Corasick automaton whose values are the words themselves."""
    found = ahocorasick.Automaton()
    for word in words:
        found.add_word(word, word)
    found.make_automaton()
    return found

"""Look-alike letters: Cyrillic, Greek and other letters that read as ASCII ("pаssword" with a
Cyrillic а). Used by detect/normalize.py as its last stage, after NFKC has folded fullwidth and
mathematical letters.

A word is rewritten to its ASCII skeleton when it mixes look-alikes with ASCII letters, or, in
text that is mostly ASCII, when it is made only of look-alikes set between ASCII words ("рау" in
an English sentence). Words of a script's own text ("сор" in a Russian sentence, "Цена 5кг")
stay as they are, or every Russian prompt would be rewritten. The mapping keeps the text's length,
so it needs no offset map.
"""

from __future__ import annotations

import unicodedata
from importlib import resources

import orjson


def _homoglyph_table() -> dict[int, str]:
    """Non-Latin letters that look like an ASCII letter, from Unicode's confusables (via the
    confusable-homoglyphs package), built once at import. Latin-script letters (ı, ɑ) are left
    alone so Turkish or IPA text is not rewritten; fullwidth and mathematical letters are NFKC's job.
    Only single-letter targets are kept so the mapping never changes the text's length; a target
    of the same case is preferred (Cyrillic І -> I, not l)."""
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


HOMOGLYPHS = _homoglyph_table()
WORD_LIMIT = 64  # a "word" longer than this is not a word; stop looking for its edges
# One byte per character (text.encode("latin-1", "replace")): Latin letters -> "a", digits and "_"
# -> "d", characters beyond Latin-1 -> "u" (and the real "?", told apart by looking at the text),
# anything else -> " ". Mixed-script words show up as "au"/"ua" pairs, found with bytes.find at
# memory speed; accented Latin words (café, naïve) do not, no Latin letter being a look-alike here.
_SCRIPT_MAP = bytes(
    ord("a") if chr(b).isalpha() else ord("d") if chr(b).isdigit() or b == ord("_")
    else ord("u") if b == ord("?") else ord(" ")
    for b in range(256)
)


def map_homoglyphs(text: str, max_words: int = 1024) -> tuple[str, list[tuple[int, int]]]:
    """text with look-alike letters mapped to ASCII where they disguise ASCII words, and the spans
    (in text) of the words rewritten. Past max_words words (dense adversarial input) the rest of
    the text is mapped wholesale and reported as one span."""
    codes = text.encode("latin-1", "replace").translate(_SCRIPT_MAP)
    hits: list[int] = []
    for pair, offset in ((b"au", 1), (b"ua", 0)):
        i = codes.find(pair)
        while i != -1 and len(hits) <= 2 * max_words:
            if ord(text[i + offset]) in HOMOGLYPHS:
                hits.append(i + offset)
            i = codes.find(pair, i + 1)
    non_ascii = codes.count(b"u") - text.count("?")
    if 0 < non_ascii and 3 * non_ascii <= codes.count(b"a"):  # mostly Latin: every look-alike word
        i = codes.find(b"u")
        while i != -1 and len(hits) <= 3 * max_words:
            if ord(text[i]) in HOMOGLYPHS:
                hits.append(i)
            i = codes.find(b"u", i + 1)
    if not hits:
        return text, []
    hits.sort()
    chars: list[str] | None = None
    words: list[tuple[int, int]] = []
    done = -1
    for p in hits:
        if p < done:
            continue
        if len(words) >= max_words:
            chars = chars if chars is not None else list(text)
            chars[p:] = text[p:].translate(HOMOGLYPHS)
            words.append((p, len(text)))
            break
        ws, we = _word_at(text, codes, p)
        done = we
        word = text[ws:we]
        if codes.find(b"a", ws, we) == -1 and not _lone_lookalike_word(word, codes, ws, we):
            continue
        if chars is None:
            chars = list(text)
        chars[ws:we] = word.translate(HOMOGLYPHS)
        words.append((ws, we))
    return ("".join(chars) if chars is not None else text), words


def _word_at(text: str, codes: bytes, p: int) -> tuple[int, int]:
    """The word around p: between separators, at most WORD_LIMIT characters each way."""
    ws = max(codes.rfind(b" ", max(0, p - WORD_LIMIT), p) + 1, p - WORD_LIMIT, 0)
    we = codes.find(b" ", p, p + WORD_LIMIT)
    we = min(len(text), p + WORD_LIMIT) if we == -1 else we
    ws = max(ws, text.rfind("?", ws, p) + 1)  # a real "?" is coded like a non-Latin letter
    q = text.find("?", p, we)
    return ws, (we if q == -1 else q)


def _lone_lookalike_word(word: str, codes: bytes, ws: int, we: int) -> bool:
    """A word with no ASCII letter is a disguise only if every letter has an ASCII twin and the
    words around it are ASCII."""
    letters = [c for c in word if c.isalpha()]
    if len(letters) < 2 or any(ord(c) not in HOMOGLYPHS for c in letters):
        return False
    window = codes[max(0, ws - 48):ws] + codes[we:we + 48]
    return window.count(b"a") >= 4 and window.count(b"a") > 2 * window.count(b"u")

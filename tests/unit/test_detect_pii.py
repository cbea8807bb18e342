"""PII detector: positives and look-alikes per type, checksums, context, custom patterns, spans, speed."""

from __future__ import annotations

import time

import pytest

from ztgate.detect.base import SEVERITIES, Finding
from ztgate.detect.pii import PiiDetector
from ztgate.detect.pii_checks import bitcoin_bech32, ethereum, keccak256

from timing import assert_linear_on_64k


@pytest.fixture(scope="module")
def pii() -> PiiDetector:
    return PiiDetector()


def found(detector: PiiDetector, text: str, typ: str | None = None) -> list[str]:
    """The matched substrings (of one type, if given): checks the offsets at the same time."""
    return [text[f.start : f.end] for f in detector.scan(text, "input") if typ is None or f.type == typ]


def only(detector: PiiDetector, text: str) -> Finding:
    findings = detector.scan(text, "input")
    assert len(findings) == 1, findings
    return findings[0]


# --- the contract --------------------------------------------------------------------------------


def test_findings_follow_the_detector_contract(pii: PiiDetector) -> None:
    text = "Mail jane.doe@example.com or call +1 415 555 0132."
    findings = pii.scan(text, "output")
    assert pii.name == "pii"
    assert [(f.type, text[f.start : f.end]) for f in findings] == [
        ("email", "jane.doe@example.com"),
        ("phone_number", "+1 415 555 0132"),
    ]
    for f in findings:
        assert f.detector == "pii" and f.redactable and f.encoding is None
        assert f.severity in SEVERITIES and 0 < f.score <= 1


def test_empty_and_plain_text(pii: PiiDetector) -> None:
    assert pii.scan("", "input") == []
    assert pii.scan("The quick brown fox jumps over the lazy dog in 2024, twice.", "input") == []


def test_span_offsets_are_exact_in_unicode_text(pii: PiiDetector) -> None:
    text = "Grüße — Kärtchen: 4111 1111 1111 1111, Mail: jürgen@exämple.de 🙂 IBAN DE89370400440532013000"
    assert found(pii, text) == ["4111 1111 1111 1111", "jürgen@exämple.de", "DE89370400440532013000"]
    f = pii.scan(text, "input")[0]
    assert (f.start, f.end) == (text.index("4111"), text.index("4111") + 19)


# --- email, phone --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("my email address is info@presidio.site", ["info@presidio.site"]),
        ("try info@presidio.site or anotherinfo@presidio.site", ["info@presidio.site", "anotherinfo@presidio.site"]),
        ("user@xn--80ak6aa92e.com", ["user@xn--80ak6aa92e.com"]),
        ("Write to a.b+tag@mail.example.co.uk.", ["a.b+tag@mail.example.co.uk"]),
        ("my email is info@presidio.", []),
        ("this is not an email: hello-world here, nor is @handle or a@b", []),
    ],
)
def test_email(pii: PiiDetector, text: str, expected: list[str]) -> None:
    assert found(pii, text, "email") == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("My US number is (415) 555-0132.", ["(415) 555-0132"]),
        ("intl: +1 415 555 0132", ["+1 415 555 0132"]),
        ("UK office +44 20 7946 0958", ["+44 20 7946 0958"]),
        ("Call me at 020 7946 0958 tomorrow", ["020 7946 0958"]),  # national GB, second region
        ("Desk: 345-899-3560x4587", ["345-899-3560x4587"]),
        ("Phone: 60-56-85-91", ["60-56-85-91"]),  # libphonenumber rejects it; phone context accepts it
        ("US: 415-555-0132 2 times", ["415-555-0132"]),  # a following number is not swallowed
    ],
)
def test_phone_positive(pii: PiiDetector, text: str, expected: list[str]) -> None:
    assert found(pii, text, "phone_number") == expected


@pytest.mark.parametrize(
    "text",
    [
        "Date: 2015-12-22 04:05:06",  # timestamps pass some regions' numbering plans
        "invoice 60-56-85-91 is paid",  # no phone context, not a valid number
        "we shipped 1,234,567 units",
        "PO 4500012345 is open",  # bare digits need context even when the shape is valid
        "ratio is415-555-0132",  # glued to a word
    ],
)
def test_phone_negative(pii: PiiDetector, text: str) -> None:
    assert found(pii, text, "phone_number") == []


def test_phone_regions_are_configurable() -> None:
    text = "Mein Anschluss: 030 1234567"
    assert found(PiiDetector(phone_regions=("US",)), text, "phone_number") == []
    assert found(PiiDetector(phone_regions=("US", "DE")), text, "phone_number") == ["030 1234567"]


# --- cards, IBAN, SSN ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "4111 1111 1111 1111",  # Visa
        "4012-8888-8888-1881",
        "5555555555554444",  # Mastercard
        "2223 0031 2200 3222",  # Mastercard 2-series
        "3782 822463 10005",  # Amex 4-6-5
        "6011111111111117",  # Discover
        "3530111333300000",  # JCB
        "3056 930902 5904",  # Diners 4-6-4
        "6200000000000005",  # UnionPay
    ],
)
def test_credit_card_positive(pii: PiiDetector, number: str) -> None:
    f = only(pii, f"card: {number}, thanks")
    assert (f.type, f.severity, f.score) == ("credit_card", "high", 1.0)
    assert f.end - f.start == len(number)


@pytest.mark.parametrize(
    "text",
    [
        "my credit card number is 4012-8888-8888-1882",  # Luhn fails
        "card 9111111111111110",  # Luhn passes, no issuer starts with 9
        "card 4111 1111-1111 1111",  # two separator kinds: two numbers glued
        "card 4111111111111",  # Visa length but Luhn fails
        "id 41111111111111111111111",  # too long
    ],
)
def test_credit_card_negative(pii: PiiDetector, text: str) -> None:
    assert found(pii, text, "credit_card") == []


def test_credit_card_trailing_group_is_dropped(pii: PiiDetector) -> None:
    assert found(pii, "pay with 4111 1111 1111 1111 2 times", "credit_card") == ["4111 1111 1111 1111"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("IBAN DE89 3704 0044 0532 0130 00 please", "DE89 3704 0044 0532 0130 00"),
        ("to GB82 WEST 1234 5698 7654 32.", "GB82 WEST 1234 5698 7654 32"),
        ("my iban is gb42nawi04454264788619", "gb42nawi04454264788619"),
        ("NL91ABNA0417164300 Bank", "NL91ABNA0417164300"),
    ],
)
def test_iban_positive(pii: PiiDetector, text: str, expected: str) -> None:
    f = only(pii, text)
    assert (f.type, f.score, text[f.start : f.end]) == ("iban", 1.0, expected)


@pytest.mark.parametrize(
    "text",
    [
        "IBAN DE88 3704 0044 0532 0130 00",  # check digits wrong
        "IBAN DE89 3704 0044 0532 0130 0",  # German IBANs have 22 characters
        "IBAN XX89 3704 0044 0532 0130 00",  # no such country
    ],
)
def test_iban_negative(pii: PiiDetector, text: str) -> None:
    assert found(pii, text, "iban") == []


@pytest.mark.parametrize("ssn", ["078-05-1123", "078 05 1123", "078.05.1123", "460-89-9847"])
def test_ssn_formatted(pii: PiiDetector, ssn: str) -> None:
    assert found(pii, f"record {ssn} on file", "us_ssn") == [ssn]
    plain, boosted = only(pii, f"record {ssn}").score, only(pii, f"Here's my SSN: {ssn}").score
    assert plain < boosted


@pytest.mark.parametrize(
    "ssn",
    [
        "000-12-3456",  # area 000
        "666-12-3456",  # area 666
        "912-12-3456",  # area 900-999
        "123-00-4567",  # group 00
        "123-45-0000",  # serial 0000
        "078-05-1120",  # the Woolworth wallet card
        "123-45-6789",  # a well-known fake
        "111-11-1111",
        "693-09.4444",  # mixed separators
    ],
)
def test_ssn_invalid_ranges(pii: PiiDetector, ssn: str) -> None:
    assert found(pii, f"my ssn is {ssn}", "us_ssn") == []


def test_ssn_unformatted_needs_context(pii: PiiDetector) -> None:
    assert found(pii, "tracking 078051121", "us_ssn") == []
    assert found(pii, "my social security number is 078051121", "us_ssn") == ["078051121"]


# --- network ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("from 8.8.8.8 today", ["8.8.8.8"]),
        ("subnet 192.168.1.0/24,", ["192.168.1.0/24"]),
        ("v6 2001:db8::1 and fe80::1%eth0", ["2001:db8::1", "fe80::1%eth0"]),
        ("mapped ::ffff:192.0.2.1", ["::ffff:192.0.2.1"]),
        ("Connect to [2001:db8::1]:8080", ["2001:db8::1"]),
        ("256.1.1.1 1.2.3 12:34:56 std::cout 1:2:3:4 2001::db8::1 text192.168.1.1", []),
    ],
)
def test_ip_address(pii: PiiDetector, text: str, expected: list[str]) -> None:
    assert found(pii, text, "ip_address") == expected


def test_private_ips_are_kept_with_a_lower_score(pii: PiiDetector) -> None:
    public, private, loopback = pii.scan("8.8.8.8 / 10.0.0.1 / 127.0.0.1", "input")
    assert public.score > private.score == loopback.score >= pii.min_score
    assert public.severity == "low"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("MAC 00:1A:2B:3C:4D:5E", ["00:1A:2B:3C:4D:5E"]),
        ("hw AA-BB-CC-DD-EE-FF", ["AA-BB-CC-DD-EE-FF"]),
        ("Cisco 0012.3456.789A", ["0012.3456.789A"]),
        ("Broadcast FF:FF:FF:FF:FF:FF, zero 00:00:00:00:00:00, short 00:1A:2B:3C:4D", []),
        ("mixed 10:2F:33-AC-29-C3", []),
    ],
)
def test_mac_address(pii: PiiDetector, text: str, expected: list[str]) -> None:
    assert found(pii, text, "mac_address") == expected


# --- dates of birth ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("She was born on 2/8/1935.", "2/8/1935"),
        ("DOB: 1985-03-12", "1985-03-12"),
        ("Date of birth: March 3rd, 1985", "March 3rd, 1985"),
        ("geboren am 3. März 1985", "3. März 1985"),
        ("né le 3 mars 1985 à Lyon", "3 mars 1985"),
        ("fecha de nacimiento: 3 de marzo de 1985", "3 de marzo de 1985"),
    ],
)
def test_date_of_birth_in_birth_context(pii: PiiDetector, text: str, expected: str) -> None:
    assert found(pii, text, "date_of_birth") == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "The meeting is on 12/03/1985.",  # a date, but not a birth date
        "born on 31/02/1985",  # no such day
        "born in the year 2999-01-01",  # the future
    ],
)
def test_date_of_birth_negative(pii: PiiDetector, text: str) -> None:
    assert found(pii, text, "date_of_birth") == []


# --- national ids, passports ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("DNI 12345678Z", "12345678Z"),  # Spain, mod-23 letter
        ("Mi NIE es X9613851N", "X9613851N"),
        ("codice fiscale RSSMRA85T10A562S", "RSSMRA85T10A562S"),  # Italy
        ("Steuer-ID 36574261809", "36574261809"),  # Germany
        ("NIR 2 95 10 99 126 111 93", "2 95 10 99 126 111 93"),  # France, 97-key
        ("PESEL 44051401458", "44051401458"),  # Poland
        ("hetu 131052-308T", "131052-308T"),  # Finland
        ("henkilötunnus 010594Y9032", "010594Y9032"),  # Finland, 2023 century sign
        ("My BSN is 111222333.", "111222333"),  # Netherlands, 11-proof (weak: context needed)
        ("NHS number 401 023 2137", "401 023 2137"),  # UK, mod 11 (weak: context needed)
        ("Aadhaar 3123 4567 8909", "3123 4567 8909"),  # India, Verhoeff
        ("my ITIN is 911-70-1234", "911-70-1234"),  # US ITIN: only with context
    ],
)
def test_national_ids(pii: PiiDetector, text: str, expected: str) -> None:
    f = only(pii, text)
    assert (f.type, f.severity, text[f.start : f.end]) == ("national_id", "high", expected)


@pytest.mark.parametrize(
    "text",
    [
        "NIE X9613851Q",  # wrong control letter
        "DNI 12345678A",
        "codice fiscale AAAAAA00B11C333N",  # wrong check character
        "PESEL 44051401459",
        "nhs 401 023 2138",  # mod 11 fails
        "reference 111222333",  # a valid BSN without context is just a number
        "order 401 023 2137",  # a valid NHS number without context likewise
        "ticket 911-70-1234",  # ITIN shape without context
        "11111111111",  # repeated digits pass several checksums; never issued
    ],
)
def test_national_id_negatives(pii: PiiDetector, text: str) -> None:
    assert found(pii, text, "national_id") == []


def test_passport_only_with_context(pii: PiiDetector) -> None:
    assert found(pii, "Passport number: A12803456", "passport") == ["A12803456"]
    assert found(pii, "Part number: A12803456", "passport") == []


# --- crypto wallets ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "16Yeky6GMjeNkAiNcBY7ZhrLoMSgg1BoyZ",  # P2PKH, base58check
        "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",  # P2SH
        "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",  # bech32
        "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297",  # bech32m (taproot)
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",  # EIP-55
    ],
)
def test_crypto_wallet_positive(pii: PiiDetector, address: str) -> None:
    f = only(pii, f"send it to {address} today")
    assert (f.type, f.score, f.end - f.start) == ("crypto_wallet", 1.0, len(address))


@pytest.mark.parametrize(
    "address",
    [
        "16Yeky6GMjeNkAiNcBY7ZhrLoMSgg1BoyZ2",  # one character too many
        "16Yeky6GMjeNkAiNcBY7ZhrLoMSgg1BoyY",  # checksum fails
        "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdr",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",  # EIP-55 checksum fails
        "8f953371d3e85eddb89b05ed6b9e680791055315c73e1025ab5dba7bb2aee189",  # a hash
    ],
)
def test_crypto_wallet_negative(pii: PiiDetector, address: str) -> None:
    assert found(pii, f"send it to {address} today", "crypto_wallet") == []


def test_unchecksummed_ethereum_scores_lower(pii: PiiDetector) -> None:
    assert only(pii, "to 0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").score < 1.0


def test_checksum_primitives() -> None:
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert ethereum("0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359")
    assert bitcoin_bech32("BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ")  # all upper case is allowed
    assert not bitcoin_bech32("bc1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ")  # mixed case is not


# --- cheap coverage without NER -------------------------------------------------------------------


def test_names_addresses_and_postal_codes_with_cues(pii: PiiDetector) -> None:
    text = "My name is John Smith and I live at 1600 Pennsylvania Avenue, zip 20500"
    assert [(f.type, text[f.start : f.end]) for f in pii.scan(text, "input")] == [
        ("person_name", "John Smith"),
        ("street_address", "1600 Pennsylvania Avenue"),
        ("postal_code", "20500"),
    ]
    assert found(pii, "Die Adresse ist Hauptstraße 5 in Berlin", "street_address") == ["Hauptstraße 5"]
    assert found(pii, "Send to postcode EC2A 1NT please", "postal_code") == ["EC2A 1NT"]
    assert found(pii, "We sold 20500 units to John Smith", None) == []


# --- scores, overlaps ------------------------------------------------------------------------------


def test_min_score_filters_weak_candidates() -> None:
    lenient = PiiDetector(min_score=0.0)
    assert found(lenient, "reference 111222333", "national_id") == ["111222333"]
    strict = PiiDetector(min_score=0.9)
    assert found(strict, "see (415) 555-0132", "phone_number") == []
    assert found(strict, "card 4111111111111111", "credit_card") == ["4111111111111111"]


def test_overlapping_candidates_resolve_to_one_finding(pii: PiiDetector) -> None:
    # The card's digits also form phone and id candidates; only the card is reported.
    assert [f.type for f in pii.scan("card 4111 1111 1111 1111", "input")] == ["credit_card"]
    # An IPv4 inside an IPv4-mapped IPv6 address is not reported twice.
    assert found(pii, "::ffff:192.0.2.1") == ["::ffff:192.0.2.1"]


# --- where the recognizers run ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("my AHV is 74(756.9217.0769.85 ok", [("ch_ahv", "756.9217.0769.85")]),  # "(" glues two numbers
        ("server 192.168.1.10(0611725555)", [("ip_address", "192.168.1.10")]),
        ("code 811228-9874-192.168.1.10", [("ip_address", "192.168.1.10")]),
        ("ship to 12 Main Way\nSpringfield", [("street_address", "12 Main Way")]),  # a street word at a line end
        ("ids: 3307847  7050+1373054300607263(", []),  # no id cut out of a longer number
        ("order 4155550132 shipped", []),  # a bare number with no phone word near it
        ("call 4155550132 now", [("phone_number", "4155550132")]),
    ],
)
def test_numbers_are_looked_at_whole_and_in_parts(pii: PiiDetector, text: str, expected: list) -> None:
    assert [(label, text[f.start : f.end]) for label, f in pii.matches(text)] == expected


def test_context_words_are_whole_words_in_any_case(pii: PiiDetector) -> None:
    assert found(pii, "PASSPORT: 123456789", "passport") == ["123456789"]
    assert found(pii, "passports 123456789", "passport") == ["123456789"]
    assert found(pii, "mypassport 123456789", "passport") == []  # glued to a word: not context
    assert found(pii, "passport\nno 123456789", "passport") == ["123456789"]
    assert found(pii, "social\nsecurity 078-05-1120", "us_ssn") == []  # the phrase is "social security"


# --- custom patterns from policy data ----------------------------------------------------------


def test_custom_patterns() -> None:
    detector = PiiDetector(
        custom=[
            {"type": "employee_id", "pattern": r"EMP-\d{6}", "severity": "medium", "score": 0.4, "context": ["employee"]},
            {"type": "ticket", "pattern": r"\bTKT[0-9]{4}\b"},
        ]
    )
    text = "employee EMP-123456 opened TKT1234 yesterday, and later on EMP-654321 did too"
    got = [(f.type, f.severity, f.score, text[f.start : f.end]) for f in detector.scan(text, "input")]
    assert got == [
        ("employee_id", "medium", 0.75, "EMP-123456"),  # 0.4 + context
        ("ticket", "medium", 0.8, "TKT1234"),  # defaults: medium, 0.8
    ]  # EMP-654321 has no context: 0.4 is below min_score
    assert all(f.redactable for f in detector.scan(text, "input"))


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"type": "x", "pattern": "EMP-(\\d{6}"}, "bad regex"),
        ({"type": "x", "pattern": "a*"}, "empty string"),
        ({"type": "x", "pattern": "a", "severity": "urgent"}, "severity"),
        ({"type": "x", "pattern": "a", "score": 2}, "score"),
        ({"type": "x", "pattern": "a", "context": "employee"}, "context"),
        ({"type": "", "pattern": "a"}, "type"),
        ({"type": "x", "pattern": "a", "regex": "b"}, "unknown keys"),
        ("EMP-\\d{6}", "expected an object"),
    ],
)
def test_custom_pattern_errors_name_the_entry(entry: object, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        PiiDetector(custom=[{"type": "ok", "pattern": "OK-[0-9]{3}"}, entry])  # type: ignore[list-item]
    assert "#1" in str(err.value)


# --- cost ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "7" * 65536,  # one endless number
        ("a" * 60 + "@") * 1074,  # local parts that never find a domain
        "a." * 32767 + "@b.com",  # a dotted local part far too long
        "ab:" * 21845,  # hex groups that never close an IPv6 address
        ".abcd" * 13107,  # Cisco-style MAC groups that never end
        "1a" * 32768,  # digits glued to letters
        "x" * 65536,
        "My name is " * 5957,
    ],
    ids=["digits", "at", "dotted-at", "hex-colon", "hex-dot", "glued", "letters", "name-cue"],
)
def test_64kb_adversarial_input_is_linear(pii: PiiDetector, text: str) -> None:
    best = min(_cpu_seconds(pii, text) for _ in range(3))
    assert best < 0.050, f"{best * 1000:.1f} ms"


@pytest.mark.parametrize(
    "text",
    [
        "1.2.3.4(5" * 7282,  # runs of many short groups
        "ABCDEFGHIJKLMNOP " * 3856,  # 16-character tokens (a codice fiscale's length)
        "1BoatSLRHtKNngkdXEeobR76b53LETtpyX " * 1875,  # base58-looking tokens
        "id 1234 was given, we then moved on. " * 1772,  # numbers whose neighbourhood is searched for context
        "Calle Rue Via Place Street " * 2428,  # street words
    ],
    ids=["glued-groups", "tokens", "base58", "context-words", "street-words"],
)
def test_64kb_trigger_inputs_are_linear(pii: PiiDetector, text: str) -> None:
    assert_linear_on_64k(lambda t: pii.scan(t, "input"), text, text[:20])


def _cpu_seconds(detector: PiiDetector, text: str) -> float:
    start = time.thread_time()
    detector.scan(text, "input")
    return time.thread_time() - start

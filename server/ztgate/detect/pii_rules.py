"""The PII recognizers as data: pattern, validator, base score, context words, where to look.

Modelled on Presidio's pattern recognizers. A rule's `score` is what a validated match is worth with
no context; context words within a short window before (or just after) the match add CONTEXT_BOOST,
and the detector reports only findings that reach its min_score (0.5 by default). So the score tiers
below decide behaviour:

- 1.0  checksum that random look-alikes almost never pass, or a distinctive format plus a checksum
       (cards: issuer range + length + Luhn; IBAN mod-97; Bitcoin base58check/bech32; EIP-55; codice
       fiscale; DNI/NIE letter; Finnish HETU; Swiss AHV).
- 0.6-0.85  checksum passed by roughly 1 in 100-1000 random digit strings of that length (PESEL,
       TC Kimlik, Steuer-ID, personnummer, RRN, CPF when unformatted) or a pattern with range checks
       (SSN 3-2-4, IP, MAC): reported, raised by context.
- 0.3-0.45 weak evidence: a single mod-10/11 check digit over a bare 9-12 digit number (BSN, SIN,
       TFN, NHS, Aadhaar: about 1 in 10 random numbers pass), an unformatted SSN, or no checksum at
       all (passport, ITIN, dates of birth, postal codes): reported only with context.

`scope` says which candidate windows a rule runs in (see detect/pii.py): "digits" near runs of 4+
digits, "token" on runs of ASCII letters and digits of the rule's length (TOKEN_CHARS), "hexsep" near
colon/dash/dot-separated hex groups (IPv6, MAC), "near" around occurrences of the rule's `requires`
literals (lowercase: "0x", "bc1", street words...), "text" the whole text (only patterns that start
with a literal the regex engine skips to, like "@").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import pii_checks as checks

CONTEXT_BOOST = 0.35  # Presidio's context similarity factor
CONTEXT_BEFORE = 40  # characters before a match searched for context words (about five words)
CONTEXT_AFTER = 20  # characters after ("416 60 039 office", "Z8078221M en mi NIE")


@dataclass(frozen=True, slots=True)
class Rule:
    """One recognizer. `label` names the recognizer (several rules may share one, and national ids
    share the type "national_id"); `type` is what findings report."""

    label: str
    type: str
    severity: str
    pattern: str
    score: float  # the highest base score this rule gives (score_of may give less)
    validator: Callable[[str], bool] | None = None
    context: tuple[str, ...] = ()
    scope: str = "digits"
    requires: tuple[str, ...] = ()
    shrink: bool = False  # when validation fails, retry without the last separated group
    score_of: Callable[[str], float] | None = None  # base score from the value (IP: public vs private)
    refine: str | None = None  # "phone": candidates are confirmed by libphonenumber
    group: str | None = None  # report the span of this named group instead of the whole match
    # (a group named "lead", captured in a lookbehind, moves the start back: patterns start at a digit,
    # which the regex engine finds fast, and look behind for the letters before it)
    near: tuple[int, int] = (0, 0)  # scope "near": chars before/after each `requires` literal to search


# How many digits a run (the "digits" trigger: 4+ digits joined by at most two of " -./()") must hold
# for a rule to run near it. The upper bound applies only to runs without spaces, which hold one
# number; spaces may join several ("4111 1111 1111 1111 4012 8888 8888 1881"). Default: (4, 255).
RUN_DIGITS: dict[str, tuple[int, int]] = {
    "credit_card": (12, 19), "us_ssn": (9, 9), "us_itin": (9, 9), "phone_number": (7, 15), "es_dni": (7, 8),
    "es_nie": (7, 7), "de_tax_id": (11, 11), "fr_nir": (13, 15), "nl_bsn": (9, 9), "in_aadhaar": (12, 12),
    "uk_nhs": (10, 10), "pl_pesel": (11, 11), "fi_hetu": (6, 10), "se_personnummer": (10, 12), "ca_sin": (9, 9),
    "au_tfn": (8, 9), "za_id": (13, 13), "tr_national_id": (11, 11), "kr_rrn": (13, 13), "br_cpf": (11, 11),
    "ch_ahv": (13, 13), "passport": (6, 9), "iban": (8, 34), "ip_address": (4, 15), "date_of_birth": (4, 8),
    "postal_code": (4, 9),
}  # fmt: skip
# The longest group of digits without a separator such a run must hold: each of these patterns needs
# that many digits in a row ("1234567" for a DNI), and 4+ digits in a row are always inside a run.
RUN_GROUP: dict[str, int] = {
    "credit_card": 4, "us_ssn": 4, "us_itin": 4, "es_dni": 7, "es_nie": 7, "nl_bsn": 4, "in_aadhaar": 4,
    "uk_nhs": 4, "pl_pesel": 11, "fi_hetu": 6, "se_personnummer": 6, "za_id": 13, "tr_national_id": 11,
    "kr_rrn": 7, "ch_ahv": 4, "passport": 6,
}  # fmt: skip
# A separator such a run must hold (an IPv4 address is dotted).
RUN_CHARS: dict[str, str] = {"ip_address": "."}
# Scope "token": the length of the maximal run of ASCII letters and digits the whole match is (the
# pattern is bounded by non-word characters on both sides). At least pii_triggers.TOKEN_MIN (16).
TOKEN_CHARS: dict[str, tuple[int, int]] = {"crypto_wallet": (26, 35), "it_fiscal_code": (16, 16)}
# Characters before/after such a run a rule's match may extend to (letters of an IBAN or a NIE, the
# month name of a date, an extension). Rules not listed: 4 before, 12 after.
DIGIT_MARGINS: dict[str, tuple[int, int]] = {"iban": (24, 24), "date_of_birth": (32, 8)}

# --- context words (lowercase; matched as whole words, case-insensitively) -----------------------

CARD_CTX = ("card", "credit", "debit", "visa", "mastercard", "amex", "cc", "cvv", "expiry", "kreditkarte",
            "karte", "carte", "tarjeta", "carta", "payment", "pan")  # fmt: skip
IBAN_CTX = ("iban", "bank", "account", "transfer", "wire", "konto", "compte", "cuenta", "conto", "sepa")
SSN_CTX = ("ssn", "ssns", "social security", "social", "security number", "ss#", "ss #")
IP_CTX = ("ip", "ip address", "ipv4", "ipv6", "address", "host", "server", "client", "source", "src",
          "dst", "gateway", "subnet", "route", "connect", "connecting", "from")  # fmt: skip
MAC_CTX = ("mac", "mac address", "hardware address", "physical address", "ethernet", "bssid", "wifi",
           "wi-fi", "nic", "macs")  # fmt: skip
PHONE_CTX = ("phone", "telephone", "tel", "mobile", "cell", "cellphone", "fax", "desk", "call", "text me",
             "sms", "whatsapp", "contact", "reach", "dial", "office", "hotline", "landline", "messages",
             "telefon", "handy", "rufnummer", "mobil", "téléphone", "portable", "tél", "teléfono", "móvil",
             "celular", "telefono", "cellulare", "ring", "answering", "answer")  # fmt: skip
EMAIL_CTX = ("email", "e-mail", "mail", "contact", "address")
CRYPTO_CTX = ("wallet", "bitcoin", "btc", "ethereum", "eth", "crypto", "address", "send", "usdt")
DOB_CTX = ("born", "dob", "d.o.b", "date of birth", "birth date", "birthdate", "birthday", "geboren",
           "geb", "geburtsdatum", "geburtstag", "né le", "née le", "né", "née", "date de naissance",
           "fecha de nacimiento", "nacido el", "nacida el", "nació", "data di nascita", "nato il",
           "nata il")  # fmt: skip
PASSPORT_CTX = ("passport", "passports", "passport no", "passport number", "travel document", "passeport",
                "reisepass", "pasaporte", "passaporto", "paspoort")  # fmt: skip
POSTAL_CTX = ("zip", "zip code", "zipcode", "postal code", "postcode", "post code", "plz", "postleitzahl",
              "code postal", "código postal", "cap", "postnummer", "postal")  # fmt: skip
ITIN_CTX = ("itin", "taxpayer", "tax id", "tax identification", "individual taxpayer", "tin")

# --- fragments ---------------------------------------------------------------------------------

_B = r"(?<![\w.,-])"  # a number starts here: not inside a word or a longer number
_E = r"(?![\w]|[.,-][0-9])"  # and ends here
_OCT = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_HEX = r"[0-9A-Fa-f]"
_MONTH = r"(?i:" + "|".join(sorted(checks.MONTHS, key=len, reverse=True)) + r")"


def _card_score(value: str) -> float:
    return 0.6 if len(checks.digits_only(value)) == 12 else 1.0  # 12-digit Maestro: weaker evidence


def _ip_score(value: str) -> float:
    return 0.85 if checks.ip_is_personal(value) else 0.5


def _grouped(strong: float, weak: float) -> Callable[[str], float]:
    """Formatted the way the issuer prints it (separators) is stronger evidence than a bare run."""

    def score(value: str) -> float:
        return strong if any(c in value for c in " -.+") else weak

    return score


def _eth_score(value: str) -> float:
    body = value[2:]
    return 0.8 if body in (body.lower(), body.upper()) else 1.0  # mixed case carries EIP-55


def _nid(label: str, pattern: str, score: float, context: tuple[str, ...], **kw: object) -> Rule:
    return Rule(label, "national_id", "high", pattern, score, checks.NATIONAL_ID_VALIDATORS[label],
                context + ("id", "identity", "national id", "id number", "identification"), **kw)  # type: ignore[arg-type]


RULES: tuple[Rule, ...] = (
    Rule("email", "email", "medium",  # starts at "@" (found fast), looks back for the local part
         r"@(?<=(?<![\w.+%-])(?P<lead>[\w+%-][\w.+%-]{0,63})@)(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.){1,8}"
         r"(?:[^\W\d_]{2,24}|xn--[\w-]{1,59})(?![\w-]|\.[^\W_])",
         0.9, None, EMAIL_CTX, scope="text"),
    Rule("credit_card", "credit_card", "high",
         r"[0-9](?<![\w.,-][0-9])[0-9]{3}(?:[ -]?[0-9]){8,15}" + _E, 1.0, checks.credit_card, CARD_CTX, shrink=True,
         score_of=_card_score),
    Rule("iban", "iban", "high",
         r"[0-9]{2}(?<=(?<![\w])(?P<lead>[A-Za-z]{2})[0-9]{2})(?:[ -]?[A-Za-z0-9]{4}){2,7}(?:[ -]?[A-Za-z0-9]{1,4})?"
         r"(?![\w])",
         1.0, checks.iban, IBAN_CTX, shrink=True),
    Rule("us_ssn", "us_ssn", "high", _B + r"[0-9]{3}([ .-])[0-9]{2}\1[0-9]{4}" + _E, 0.6, checks.us_ssn, SSN_CTX),
    Rule("us_ssn", "us_ssn", "high", _B + r"(?:[0-9]{9}|[0-9]{3}[ .-][0-9]{6}|[0-9]{5}[ .-][0-9]{4})" + _E,
         0.3, checks.us_ssn, SSN_CTX),
    Rule("ip_address", "ip_address", "low",
         r"(?<![\w.])" + _OCT + r"(?:\." + _OCT + r"){3}(?:/(?:3[0-2]|[12][0-9]|[0-9])(?![0-9]))?(?![\w]|\.[0-9])",
         0.85, checks.ip_address, IP_CTX, score_of=_ip_score),
    Rule("ip_address", "ip_address", "low",
         r"(?<![\w:.])(?:" + _HEX + r"{0,4}:){2,7}(?:(?:[0-9]{1,3}\.){3}[0-9]{1,3}|" + _HEX + r"{1,4})?"
         r"(?:%[0-9A-Za-z]{1,15})?(?:/[0-9]{1,3}(?![0-9]))?(?![\w:]|\.[0-9])",
         0.85, checks.ip_address, IP_CTX, scope="hexsep", score_of=_ip_score),
    Rule("mac_address", "mac_address", "low",
         r"(?<![\w:.-])(?:" + _HEX + r"{2}([:-])" + _HEX + r"{2}(?:\1" + _HEX + r"{2}){4}|"
         + _HEX + r"{4}\." + _HEX + r"{4}\." + _HEX + r"{4})(?![\w:-]|\.[0-9A-Fa-f])",
         0.6, checks.mac_address, MAC_CTX, scope="hexsep"),
    Rule("phone_number", "phone_number", "medium",
         r"[0-9](?<![\w.-][0-9])(?<![0-9],[0-9])[0-9]{0,14}(?:(?:[ ]?[.\-/][ ]?|[ ]{1,2}|[ ]?\)[ ]?|[ ]?\()[0-9]{1,15}){0,7}"
         r"(?:[ ]?(?:x|ext\.?|extension)[ ]?[0-9]{1,6})?(?![\w]|[.,-][0-9])",
         0.7, None, PHONE_CTX, refine="phone"),
    Rule("crypto_wallet", "crypto_wallet", "high", r"(?<![\w])[13][1-9A-HJ-NP-Za-km-z]{25,34}(?![\w])", 1.0,
         checks.crypto_wallet, CRYPTO_CTX, scope="token"),
    Rule("crypto_wallet", "crypto_wallet", "high", r"(?<![\w])(?:bc1|tb1|BC1|TB1)[0-9A-Za-z]{8,87}(?![\w])", 1.0,
         checks.crypto_wallet, CRYPTO_CTX, scope="near", requires=("bc1", "tb1"), near=(1, 95)),
    Rule("crypto_wallet", "crypto_wallet", "high", r"(?<![\w])0[xX][0-9A-Fa-f]{40}(?![\w])", 1.0,
         checks.crypto_wallet, CRYPTO_CTX, scope="near", requires=("0x",), near=(1, 45), score_of=_eth_score),
    # National identifiers (type "national_id"); labels name the scheme.
    _nid("es_dni", _B + r"[0-9]{7,8}[ -]?[A-Za-z](?![\w])", 1.0, ("dni", "nif", "documento nacional")),
    _nid("es_nie", _B + r"[XYZxyz][ -]?[0-9]{7}[ -]?[A-Za-z](?![\w])", 1.0, ("nie", "extranjero")),
    _nid("de_tax_id", _B + r"[1-9][0-9](?: ?[0-9]{3}){3}" + _E, 0.7,
         ("steuer-id", "steuerid", "idnr", "steueridentifikationsnummer", "identifikationsnummer", "tax id")),
    _nid("fr_nir", _B + r"[12] ?[0-9]{2} ?[0-9]{2} ?(?:[0-9]{2}|2[ABab]) ?[0-9]{3} ?[0-9]{3} ?[0-9]{2}" + _E,
         0.85, ("nir", "insee", "sécurité sociale", "securite sociale", "numéro de sécurité sociale")),
    _nid("it_fiscal_code", r"[A-Z](?<![\w][A-Z])[A-Z]{5}[0-9LMNPQRSTUV]{2}[A-EHLMPR-T][0-9LMNPQRSTUV]{2}[A-Z]"
         r"[0-9LMNPQRSTUV]{3}[A-Z](?![\w])", 1.0,
         ("codice fiscale", "cf", "fiscal code", "tessera sanitaria"), scope="token"),
    _nid("nl_bsn", _B + r"[0-9]{4}[ .]?[0-9]{2}[ .]?[0-9]{3}" + _E, 0.4,
         ("bsn", "burgerservicenummer", "sofinummer", "sofi-nummer", "persoonsnummer")),
    _nid("in_aadhaar", _B + r"[2-9][0-9]{3}([ :-]?)[0-9]{4}\1[0-9]{4}" + _E, 0.6,
         ("aadhaar", "aadhar", "uidai", "uid"), score_of=_grouped(0.6, 0.4)),
    _nid("uk_nhs", _B + r"[0-9]{3}([ -]?)[0-9]{3}\1[0-9]{4}" + _E, 0.4, ("nhs", "national health", "health service")),
    _nid("pl_pesel", _B + r"[0-9]{11}" + _E, 0.6, ("pesel",)),
    _nid("fi_hetu", _B + r"[0-9]{6}[-+A-FU-Ya-fu-y][0-9]{3}[0-9A-Ya-y](?![\w])", 1.0,
         ("hetu", "henkilötunnus", "personal identity code", "finnish id")),
    _nid("se_personnummer", _B + r"[0-9]{6}(?:[0-9]{2})?[-+]?[0-9]{4}" + _E, 0.85,
         ("personnummer", "personnr", "samordningsnummer"), score_of=_grouped(0.85, 0.6)),
    _nid("ca_sin", _B + r"[0-9]{3}([ -]?)[0-9]{3}\1[0-9]{3}" + _E, 0.4,
         ("sin", "social insurance", "assurance sociale", "nas")),
    _nid("au_tfn", _B + r"[0-9]{3}([ ]?)[0-9]{3}\1[0-9]{2,3}" + _E, 0.4, ("tfn", "tax file number", "tax file")),
    _nid("za_id", _B + r"[0-9]{13}" + _E, 0.85, ("south african id", "rsa id", "id no")),
    _nid("tr_national_id", _B + r"[1-9][0-9]{10}" + _E, 0.6, ("tc kimlik", "kimlik", "tckn", "t.c.", "tc no")),
    _nid("kr_rrn", _B + r"[0-9]{6}[ -]?[0-9]{7}" + _E, 0.85, ("rrn", "resident registration", "주민등록번호"),
         score_of=_grouped(0.85, 0.6)),
    _nid("br_cpf", _B + r"[0-9]{3}\.?[0-9]{3}\.?[0-9]{3}-?[0-9]{2}" + _E, 1.0, ("cpf", "cadastro"),
         score_of=_grouped(1.0, 0.6)),
    _nid("ch_ahv", _B + r"756[. ]?[0-9]{4}[. ]?[0-9]{4}[. ]?[0-9]{2}" + _E, 1.0, ("ahv", "avs", "sozialversicherung")),
    Rule("us_itin", "national_id", "high",
         _B + r"(?:9[0-9]{2}([ .-]?)[0-9]{2}\1[0-9]{4}|9[0-9]{2}[ .-][0-9]{6}|9[0-9]{4}[ .-][0-9]{4})" + _E,
         0.3, checks.us_itin, ITIN_CTX),
    # No checksum: only with context.
    Rule("passport", "passport", "high", r"(?<![\w])[A-Za-z]{0,2}[0-9]{6,9}(?![\w])", 0.3, None, PASSPORT_CTX),
    Rule("date_of_birth", "date_of_birth", "medium",
         r"(?<![\w./-])(?:[0-9]{1,2}[./-][0-9]{1,2}[./-](?:[0-9]{4}|[0-9]{2})|[0-9]{4}[./-][0-9]{1,2}[./-][0-9]{1,2}"
         r"|[0-9]{1,2}(?:st|nd|rd|th|er)?\.?[ ]{1,2}(?:de[ ]{1,2})?" + _MONTH + r"\.?,?[ ]{1,2}(?:de[ ]{1,2})?[0-9]{4}"
         r"|" + _MONTH + r"\.?[ ]{1,2}[0-9]{1,2}(?:st|nd|rd|th)?,?[ ]{1,2}[0-9]{4})(?![\w]|[./-][0-9])",
         0.3, checks.plausible_birth_date, DOB_CTX),
    Rule("postal_code", "postal_code", "low",
         r"(?<![\w-])(?:[0-9]{5}(?:-[0-9]{4})?|[0-9]{3} [0-9]{2}|[0-9]{4}(?:[ -][0-9]{3}|[ ]?[A-Z]{2})?)"
         r"(?![\w]|-[0-9])", 0.3, None, POSTAL_CTX),
    Rule("postal_code", "postal_code", "low",  # UK postcode: area letters exclude Q/V/X first, I/J/Z second
         r"[A-PR-UWYZ](?<![\w][A-Z])(?:IR ?0AA|(?:[0-9][0-9A-HJKPSTUW]?|[A-HK-Y][0-9][0-9ABEHMNPRVWXY]?) ?[0-9]"
         r"[ABD-HJLNP-UW-Z]{2})(?![\w])", 0.3, None, POSTAL_CTX, scope="near", near=(30, 60), requires=POSTAL_CTX),
    Rule("street_address", "street_address", "medium",
         r"(?<![\w])[0-9]{1,5}[A-Za-z]?,?[ ]{1,2}(?:[\p{Lu}0-9][\p{L}0-9'.-]{0,24}[ ]{1,2}){0,4}"
         r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Square"
         r"|Parkway|Pkwy|Highway|Hwy|Circle|Crescent|Close|Trail|Alley|Plaza|Row|Walk|Grove|Gardens|Mews)\.?"
         r"(?![\w])(?:,?[ ]{1,2}(?:Apt|Apartment|Suite|Ste|Unit|Floor|Fl)\.?[ ]{0,2}#?[0-9A-Za-z-]{1,6})?",
         0.6, None, ("address", "live", "lives", "located", "send", "ship"), scope="near", near=(120, 40),
         requires=(" st ", " st.", " st,", " st\n", " rd ", " rd.", " rd,", " ave ", " ave.", " ave,", " avenue", "street",
                   " road", "boulevard", "blvd", " lane", " drive", " dr ", " dr.", " court", " way ", " way,",
                   " place", "terrace", " square", "parkway", "highway", " circle", "crescent", " close",
                   " trail", " alley", " plaza", " row ", " walk", " grove", "gardens", " mews", " ct ", " ln ",
                   " pl ", " pl.")),
    Rule("street_address", "street_address", "medium",  # Hauptstraße 5, Via Roma 131, 12 rue de la Paix
         r"(?<![\w])(?:[\p{Lu}][\p{L}-]{1,30}(?:straße|strasse|str\.|weg|gasse|platz|allee|katu|gatan|vej|veien)"
         r"|(?:Via|Viale|Piazza|Corso|Calle|Avenida|Avda\.|Rua|Rue|Avenue|Boulevard|Chemin|Place|Quai|Plaza|ul\.)"
         r"(?:[ ]{1,2}[\p{L}'.-]{1,20}){1,4})[ ]{1,2}[0-9]{1,4}[a-zA-Z]?(?![\w])"
         r"|(?<![\w])[0-9]{1,4},?[ ]{1,2}(?:rue|avenue|boulevard|bd|place|chemin|allée|impasse|quai)"
         r"(?:[ ]{1,2}[\p{L}'-]{1,20}){1,4}(?![\w])",
         0.6, None, ("address", "live", "lives", "located", "adresse", "dirección", "indirizzo"), scope="near",
         near=(40, 120),
         # each alternative's word with the space the pattern needs after it (not "caller", "placed")
         requires=("straße ", "strasse ", "str. ", "weg ", "gasse ", "platz ", "allee ", "katu ", "gatan ", "vej ",
                   "veien ", "via ", "viale ", "piazza ", "corso ", "calle ", "avenida ", "avda. ", "rua ", "rue ",
                   "avenue ", "boulevard ", "chemin ", "place ", "quai ", "plaza ", "ul. ", " bd ", "allée ",
                   "impasse ")),
    Rule("person_name", "person_name", "medium",  # no NER: only names introduced by a cue
         r"(?i:my name is|my name's|name:|full name:|i am called|je m'appelle|ich heiße|ich heisse|me llamo"
         r"|mi chiamo|(?<![\w])(?:mr|mrs|ms|miss|dr|prof)\.?)[ \t]{1,4}"
         r"(?P<v>\p{Lu}[\p{L}'’-]{1,24}(?:[ ](?:\p{Lu}\.|\p{Lu}[\p{L}'’-]{1,24})){0,3})",
         0.6, None, (), scope="near", near=(16, 100), group="v",
         requires=("name is", "name's", "name:", "mr", "ms.", "ms ", "miss ", "dr.", "dr ", "prof", "appelle",
                   "heiße", "heisse", "llamo", "chiamo", "called")),
)  # fmt: skip

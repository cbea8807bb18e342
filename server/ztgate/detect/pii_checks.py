"""Validators for PII candidates: checksums and range checks that turn a pattern match into evidence.

Each validator takes the matched text (separators included) and answers True when the value is
plausibly real. A regex alone fires on any number of the right shape; a checksum (Luhn, mod-97,
mod-11, Verhoeff, base58check, bech32, EIP-55) rejects nine in ten or more of the look-alikes, and a
range check rejects values that are never issued (SSN area 666, IPv4 octet 300). Where python-stdnum
has a validator it is used; the few it lacks (Bitcoin bech32m, EIP-55, Finland's 2023 century signs)
are here. All of them are pure and run only on candidates, never on the whole text.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
from typing import Callable

from stdnum import iban as _iban
from stdnum import luhn as _luhn
from stdnum.au import tfn as _au_tfn
from stdnum.br import cpf as _br_cpf
from stdnum.ca import sin as _ca_sin
from stdnum.ch import ssn as _ch_ssn
from stdnum.de import idnr as _de_idnr
from stdnum.es import dni as _es_dni
from stdnum.es import nie as _es_nie
from stdnum.fr import nir as _fr_nir
from stdnum.gb import nhs as _gb_nhs
from stdnum.in_ import aadhaar as _in_aadhaar
from stdnum.it import codicefiscale as _it_cf
from stdnum.kr import rrn as _kr_rrn
from stdnum.nl import bsn as _nl_bsn
from stdnum.pl import pesel as _pl_pesel
from stdnum.se import personnummer as _se_pnr
from stdnum.tr import tckimlik as _tr_tck
from stdnum.us import itin as _us_itin
from stdnum.za import idnr as _za_idnr

Validator = Callable[[str], bool]

_SEPARATORS = str.maketrans("", "", " -./:")


def digits_only(value: str) -> str:
    """The value without the separators people type inside numbers (space, dash, dot, slash, colon)."""
    return value.translate(_SEPARATORS)


def _one_separator_kind(value: str, allowed: str = " -") -> bool:
    """Grouped numbers use one separator throughout: "4111 1111-1111 1111" is two numbers glued."""
    return len({c for c in value if c in allowed}) <= 1


# --- payment cards -------------------------------------------------------------------------------

# (lowest prefix, highest prefix, allowed lengths): the issuer identification number ranges of the
# networks people actually paste. Prefixes are compared on the same number of leading digits.
CARD_IIN_RANGES: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("4", "4", (13, 16, 19)),  # Visa
    ("51", "55", (16,)),  # Mastercard
    ("2221", "2720", (16,)),  # Mastercard 2-series
    ("34", "34", (15,)),  # American Express
    ("37", "37", (15,)),
    ("6011", "6011", (16, 17, 18, 19)),  # Discover
    ("644", "649", (16, 17, 18, 19)),
    ("65", "65", (16, 17, 18, 19)),
    ("35", "35", (16, 17, 18, 19)),  # JCB (3528-3589 issued; all of 35 seen in the wild and in test data)
    ("1800", "1800", (15,)),  # JCB (legacy 15-digit)
    ("2131", "2131", (15,)),
    ("300", "305", (14, 15, 16, 17, 18, 19)),  # Diners Club
    ("309", "309", (14, 15, 16, 17, 18, 19)),
    ("36", "36", (14, 15, 16, 17, 18, 19)),
    ("38", "39", (14, 15, 16, 17, 18, 19)),
    ("62", "62", (16, 17, 18, 19)),  # UnionPay
    ("81", "81", (16, 17, 18, 19)),
    ("2200", "2204", (16, 17, 18, 19)),  # Mir
    ("50", "50", (12, 13, 14, 15, 16, 17, 18, 19)),  # Maestro
    ("56", "58", (12, 13, 14, 15, 16, 17, 18, 19)),
    ("6304", "6304", (12, 13, 14, 15, 16, 17, 18, 19)),
    ("639", "639", (12, 13, 14, 15, 16, 17, 18, 19)),
    ("6759", "6759", (12, 13, 14, 15, 16, 17, 18, 19)),
    ("6761", "6763", (12, 13, 14, 15, 16, 17, 18, 19)),
    ("60", "60", (16,)),  # RuPay
    ("1", "1", (15,)),  # UATP
)


def card_network_ok(number: str) -> bool:
    """True when the digits fall in a known issuer range with a length that issuer uses."""
    n = len(number)
    for low, high, lengths in CARD_IIN_RANGES:
        if n in lengths and low <= number[: len(low)] <= high:
            return True
    return False


def credit_card(value: str) -> bool:
    """Luhn plus issuer range and length; groups (if any) of 3-6 digits with one separator kind."""
    if not _one_separator_kind(value):
        return False
    groups = value.replace("-", " ").split(" ")
    if len(groups) > 1 and any(not 3 <= len(g) <= 6 for g in groups[:-1]):
        return False
    number = digits_only(value)
    return len(set(number)) > 1 and card_network_ok(number) and _luhn.is_valid(number)


def iban(value: str) -> bool:
    """ISO 13616: country code, per-country length and the mod-97 check digits (python-stdnum)."""
    return _iban.is_valid(value)


# --- United States -------------------------------------------------------------------------------

# Numbers published as examples (the Woolworth wallet card, ads) and never valid for a person.
_SSN_KNOWN_FAKES = frozenset({"078051120", "219099999", "123456789", "457555462"})


def us_ssn(value: str) -> bool:
    """Area 001-665/667-899, group 01-99, serial 0001-9999; one separator kind; no known fakes."""
    if not _one_separator_kind(value, " -."):
        return False
    d = digits_only(value)
    if len(d) != 9 or not d.isdigit() or len(set(d)) == 1:
        return False
    area, group, serial = d[:3], d[3:5], d[5:]
    if area in ("000", "666") or area >= "900" or group == "00" or serial == "0000":
        return False
    if d in _SSN_KNOWN_FAKES or d.startswith("98765432"):
        return False
    return True


def us_itin(value: str) -> bool:
    """9XX-[50-65|70-88|90-92|94-99]-XXXX (python-stdnum)."""
    return _one_separator_kind(value, " -.") and _us_itin.is_valid(digits_only(value))


# --- network ---------------------------------------------------------------------------------------


def ip_address(value: str) -> bool:
    """A real IPv4/IPv6 address or network (a /prefix within range); zone ids allowed on IPv6."""
    return _ip_parse(value) is not None


def _ip_parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    addr, _, prefix = value.partition("/")
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return None
    if prefix and not (prefix.isdigit() and int(prefix) <= ip.max_prefixlen):
        return None
    return ip


def ip_is_personal(value: str) -> bool:
    """Whether an address can point at a person: globally routable, not loopback, private, link-local,
    documentation or multicast. Non-personal addresses are still reported, with a lower score."""
    ip = _ip_parse(value)
    if ip is None:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def mac_address(value: str) -> bool:
    """Six octets, one separator kind; not all-zero or broadcast (placeholders, not devices)."""
    if not _one_separator_kind(value, ":-."):
        return False
    hexdigits = digits_only(value).lower()
    return len(hexdigits) == 12 and hexdigits not in ("000000000000", "ffffffffffff")


# --- crypto wallets --------------------------------------------------------------------------------

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}
_BTC_VERSIONS = (0x00, 0x05, 0x6F, 0xC4)  # P2PKH, P2SH, testnet P2PKH, testnet P2SH


def bitcoin_base58(value: str) -> bool:
    """Legacy address: base58check with a 4-byte double-SHA-256 checksum (1 in 4 billion by chance)."""
    n = 0
    for c in value:
        i = _B58_INDEX.get(c)
        if i is None:
            return False
        n = n * 58 + i
    pad = len(value) - len(value.lstrip("1"))
    try:
        raw = b"\0" * pad + n.to_bytes((n.bit_length() + 7) // 8, "big")
    except OverflowError:
        return False
    if len(raw) != 25 or raw[0] not in _BTC_VERSIONS:
        return False
    return hashlib.sha256(hashlib.sha256(raw[:-4]).digest()).digest()[:4] == raw[-4:]


_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_INDEX = {c: i for i, c in enumerate(_BECH32)}


def _bech32_polymod(values: list[int]) -> int:
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def bitcoin_bech32(value: str) -> bool:
    """SegWit address (BIP-173 bech32 for v0, BIP-350 bech32m for v1+), 30-bit checksum."""
    if value != value.lower() and value != value.upper():
        return False
    value = value.lower()
    hrp, _, data = value.rpartition("1")
    if hrp not in ("bc", "tb") or len(data) < 7:
        return False
    try:
        values = [_BECH32_INDEX[c] for c in data]
    except KeyError:
        return False
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    constant = _bech32_polymod(expanded + values)
    return constant == (1 if values[0] == 0 else 0x2BC830A3)


def crypto_wallet(value: str) -> bool:
    """Bitcoin (base58check or bech32/bech32m) or Ethereum (EIP-55 checksum when mixed case)."""
    if value[:2].lower() == "0x":
        return ethereum(value)
    if value[:3].lower() in ("bc1", "tb1"):
        return bitcoin_bech32(value)
    return bitcoin_base58(value)


_KECCAK_RC = (
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
    0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
    0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
)  # fmt: skip
_KECCAK_ROT = (0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14)
_M64 = (1 << 64) - 1


def _keccak_f(a: list[int]) -> None:
    for rc in _KECCAK_RC:
        c = [a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20] for x in range(5)]
        for x in range(5):
            d = c[(x - 1) % 5] ^ ((c[(x + 1) % 5] << 1 | c[(x + 1) % 5] >> 63) & _M64)
            for y in range(0, 25, 5):
                a[x + y] ^= d
        b = [0] * 25
        for x in range(5):
            for y in range(5):
                v, r = a[x + 5 * y], _KECCAK_ROT[x + 5 * y]
                b[y + 5 * ((2 * x + 3 * y) % 5)] = (v << r | v >> (64 - r)) & _M64 if r else v
        for y in range(0, 25, 5):
            row = b[y : y + 5]
            for x in range(5):
                a[x + y] = row[x] ^ (~row[(x + 1) % 5] & row[(x + 2) % 5])
        a[0] ^= rc


def keccak256(data: bytes) -> bytes:
    """Keccak-256 as Ethereum uses it (original padding, not SHA3-256's): hashlib has no such hash."""
    rate = 136
    padded = bytearray(data) + b"\x01" + b"\0" * ((rate - (len(data) + 1) % rate) % rate)
    padded[-1] |= 0x80
    state = [0] * 25
    for off in range(0, len(padded), rate):
        for i in range(rate // 8):
            state[i] ^= int.from_bytes(padded[off + 8 * i : off + 8 * i + 8], "little")
        _keccak_f(state)
    return b"".join(state[i].to_bytes(8, "little") for i in range(4))


def ethereum(value: str) -> bool:
    """0x + 40 hex; a mixed-case address must carry a valid EIP-55 checksum (all-lower/upper carry none)."""
    body = value[2:]
    if len(body) != 40 or value[:2] not in ("0x", "0X"):
        return False
    try:
        int(body, 16)
    except ValueError:
        return False
    if body == body.lower() or body == body.upper():
        return len(set(body.lower())) > 2  # not 0x000...0 or 0xfff...f placeholders
    digest = keccak256(body.lower().encode()).hex()
    return all(c.upper() == c if int(digest[i], 16) >= 8 else c.lower() == c for i, c in enumerate(body))


# --- national identifiers ------------------------------------------------------------------------


def _stdnum(module: object, grouped: str = " -.") -> Validator:
    def check(value: str) -> bool:
        if len(set(digits_only(value))) == 1:  # 111-11-1111 passes several checksums; never issued
            return False
        return _one_separator_kind(value, grouped) and module.is_valid(value)  # type: ignore[attr-defined]

    check.__name__ = f"valid_{module.__name__.rsplit('.', 1)[-1]}"  # type: ignore[attr-defined]
    return check


def es_dni(value: str) -> bool:
    """DNI/NIF: 8 digits (a leading zero may be omitted) and the mod-23 control letter."""
    d = value.replace("-", "").replace(" ", "")
    return _es_dni.is_valid(d.zfill(9))


_HETU_CENTURY = "+-ABCDEFUVWXY"
_HETU_CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"


def fi_hetu(value: str) -> bool:
    """Finnish henkilötunnus DDMMYY[sign]NNN[check], including the century signs added in 2023."""
    v = value.upper()
    if len(v) != 11 or v[6] not in _HETU_CENTURY or not (v[:6] + v[7:10]).isdigit():
        return False
    try:
        datetime.date(2000, int(v[2:4]), int(v[:2]))  # leap-year-agnostic day/month check
    except ValueError:
        return False
    return _HETU_CHECK[int(v[:6] + v[7:10]) % 31] == v[10]


def in_aadhaar(value: str) -> bool:
    """Aadhaar: 12 digits, first 2-9, Verhoeff check digit, not a palindrome (python-stdnum)."""
    return _one_separator_kind(value, " -:") and _in_aadhaar.is_valid(value.replace(":", ""))


NATIONAL_ID_VALIDATORS: dict[str, Validator] = {
    "es_dni": es_dni,
    "es_nie": _stdnum(_es_nie),
    "de_tax_id": _stdnum(_de_idnr),
    "fr_nir": _stdnum(_fr_nir),
    "it_fiscal_code": _stdnum(_it_cf),
    "nl_bsn": _stdnum(_nl_bsn),
    "in_aadhaar": in_aadhaar,
    "uk_nhs": _stdnum(_gb_nhs),
    "pl_pesel": _stdnum(_pl_pesel),
    "fi_hetu": fi_hetu,
    "se_personnummer": _stdnum(_se_pnr, "-+"),
    "ca_sin": _stdnum(_ca_sin),
    "au_tfn": _stdnum(_au_tfn),
    "za_id": _stdnum(_za_idnr),
    "tr_national_id": _stdnum(_tr_tck),
    "kr_rrn": _stdnum(_kr_rrn),
    "br_cpf": _stdnum(_br_cpf, ""),  # 123.456.789-09 mixes dot and dash by design
    "ch_ahv": _stdnum(_ch_ssn),
}


# --- dates -----------------------------------------------------------------------------------------

MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "january jan januar janvier enero ene janv",
        "february feb februar février fevrier febrero févr fevr",
        "march mar märz maerz mars marzo mär",
        "april apr avril abril abr avr",
        "may mai mayo",
        "june jun juni juin junio",
        "july jul juli juillet julio juil",
        "august aug august août aout agosto ago",
        "september sep sept septembre septiembre",
        "october oct oktober octobre octubre okt",
        "november nov novembre noviembre",
        "december dec dezember décembre decembre diciembre dez déc dic",
    ),
    start=1,
):
    for _name in _names.split():
        MONTHS[_name] = _number


def plausible_birth_date(value: str) -> bool:
    """Some reading of the date (d/m/y, m/d/y, y/m/d; month names in en/de/fr/es) is a real calendar
    date between 1900 and the current year."""
    words = value.lower().replace(",", " ").replace(".", " ").replace("/", " ").replace("-", " ").split()
    numbers: list[int] = []
    month: int | None = None
    for w in words:
        w = w.rstrip("stndrhº").rstrip("e") if not w.isdigit() and w[:1].isdigit() else w
        if w.isdigit():
            numbers.append(int(w))
        elif w in MONTHS:
            month = MONTHS[w]
    this_year = datetime.date.today().year
    candidates: list[tuple[int, int, int]] = []
    if month is not None and len(numbers) == 2:
        day, year = (numbers[0], numbers[1]) if numbers[1] > 31 else (numbers[1], numbers[0])
        candidates.append((year, month, day))
    elif month is None and len(numbers) == 3:
        a, b, c = numbers
        if a > 31:
            candidates.append((a, b, c))
        else:
            year = c if c >= 100 else c + (2000 if c <= this_year % 100 else 1900)
            candidates += [(year, b, a), (year, a, b)]
    for year, m, d in candidates:
        try:
            datetime.date(year, m, d)
        except ValueError:
            continue
        if 1900 <= year <= this_year:
            return True
    return False

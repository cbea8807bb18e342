"""Identity from the client certificate Envoy verified, read from `x-forwarded-client-cert` (XFCC).

Trust: XFCC is an ordinary request header, so it identifies the caller only because Envoy owns it.
ztgate's Envoy configuration sets `forward_client_cert_details: SANITIZE_SET` on the listener: Envoy
removes whatever XFCC the client sent and, only when the client presented a certificate that passed
mTLS validation, sets a fresh one describing it. `set_current_client_cert_details` must include
`subject: true` and `uri: true` (Envoy always adds By and Hash; Subject/URI/DNS only when asked).
With any other setting (SANITIZE, FORWARD_ONLY, APPEND_FORWARD from untrusted clients, or a listener
without mTLS) a client could write its own XFCC, so turn `trust_xfcc` off for such deployments.

Format (Envoy docs, "HTTP header manipulation"): elements separated by ",", each element a list of
key=value pairs separated by ";". Keys are case-insensitive: By, Hash, Cert, Chain, Subject, URI, DNS
(URI and DNS may repeat). A value containing , ; or = is double-quoted, with " inside written \\".
Each proxy appends its element, so the LAST element is the one the closest proxy (our Envoy) added.

Identity rule, from that last element:
  subject: the SPIFFE ID (first `URI=spiffe://...` SAN) if present, else the Subject's CN, else the
           whole Subject, else the first other URI SAN, else the first DNS SAN.
  groups:  for a SPIFFE ID, from its path: `/ns/<namespace>/sa/<account>` (Kubernetes/Istio/SPIRE
           workload convention) gives (<namespace>,); any other path gives its parent path
           (`/team/payments/checkout` gives ("team/payments",)); a one-segment path gives ().
           Otherwise the Subject's OU values, in order (`OU=Lyft` gives ("Lyft",)).
"""

from __future__ import annotations

import re

from ztgate.identity.base import Identity

XFCC_HEADER = "x-forwarded-client-cert"

_SPIFFE = re.compile(r"spiffe://[a-z0-9._-]+(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*")
_HEX = "0123456789abcdefABCDEF"

XfccElement = dict[str, list[str]]  # lower-case key -> values in order


def parse_xfcc(value: str) -> list[XfccElement] | None:
    """Split an XFCC header into its elements; None when it is not well formed."""
    elements: list[XfccElement] = []
    pairs: list[str] = []
    buf: list[str] = []
    in_quotes = False
    i, n = 0, len(value)
    while i < n:
        c = value[i]
        if in_quotes:
            if c == "\\" and i + 1 < n and value[i + 1] == '"':
                buf.append('"')
                i += 1
            elif c == '"':
                in_quotes = False
            else:
                buf.append(c)
        elif c == '"':
            in_quotes = True
        elif c == ";" or c == ",":
            pairs.append("".join(buf))
            buf = []
            if c == ",":
                element = _element(pairs)
                if element is None:
                    return None
                elements.append(element)
                pairs = []
        else:
            buf.append(c)
        i += 1
    if in_quotes:
        return None
    pairs.append("".join(buf))
    element = _element(pairs)
    if element is None:
        return None
    elements.append(element)
    return elements


def _element(pairs: list[str]) -> XfccElement | None:
    element: XfccElement = {}
    for pair in pairs:
        if not pair.strip():
            continue  # tolerate a trailing ";"
        key, eq, val = pair.partition("=")
        key = key.strip().lower()
        if not eq or not key:
            return None
        element.setdefault(key, []).append(val.strip())
    return element or None


def identity_from_xfcc(value: str) -> Identity | None:
    """The identity of the client certificate in the last XFCC element; None if malformed or empty."""
    elements = parse_xfcc(value)
    if not elements:
        return None
    element = elements[-1]
    uris = [u for u in element.get("uri", []) if u]
    dns = [d for d in element.get("dns", []) if d]
    dn = next((s for s in element.get("subject", []) if s), "")

    spiffe = next((u for u in uris if _SPIFFE.fullmatch(u)), None)
    groups: tuple[str, ...] = ()
    if spiffe:
        subject = spiffe
        groups = spiffe_groups(spiffe)
    elif dn:
        rdns = parse_dn(dn)
        if rdns is None:
            return None
        cns = [v for k, v in rdns if k == "CN" and v]
        subject = cns[0] if cns else dn
        groups = tuple(dict.fromkeys(v for k, v in rdns if k == "OU" and v))
    elif uris:
        subject = uris[0]
    elif dns:
        subject = dns[0]
    else:
        return None

    claims: dict[str, object] = {"uri": uris, "dns": dns}
    for key in ("by", "hash", "subject"):
        if element.get(key):
            claims[key] = element[key][0]
    return Identity(subject=subject, method="mtls", groups=groups, claims=claims)


def spiffe_groups(spiffe_id: str) -> tuple[str, ...]:
    """Groups implied by a SPIFFE ID's path (see the module docstring for the rule)."""
    path = spiffe_id.removeprefix("spiffe://").partition("/")[2]
    parts = [p for p in path.split("/") if p]
    if len(parts) == 4 and parts[0] == "ns" and parts[2] == "sa":
        return (parts[1],)
    if len(parts) >= 2:
        return ("/".join(parts[:-1]),)
    return ()


def parse_dn(dn: str) -> list[tuple[str, str]] | None:
    """A certificate Subject as (ATTRIBUTE, value) pairs, most specific (CN) first.

    Envoy prints RFC 2253 (`CN=Test Client,OU=Lyft,C=US`, with \\-escapes); its docs and older
    versions show the OpenSSL one-line form (`/C=US/OU=Lyft/CN=Test Client`). Both are accepted.
    """
    dn = dn.strip()
    if dn.startswith("/"):
        rdns = [_attr(part) for part in dn[1:].split("/") if part]
        rdns.reverse()  # one-line form lists the most specific attribute last
    else:
        rdns = [_attr(part) for part in _split_rfc2253(dn)]
    if not rdns or any(r is None for r in rdns):
        return None
    return [r for r in rdns if r is not None]


def _attr(text: str) -> tuple[str, str] | None:
    key, eq, value = text.partition("=")
    key = key.strip().upper()
    return (key, value.strip()) if eq and key else None


def _split_rfc2253(dn: str) -> list[str]:
    """Split on unescaped "," and "+" (multi-valued RDNs), undoing \\c and \\XX escapes."""
    parts: list[str] = []
    buf: list[str] = []
    raw: list[int] = []  # bytes from \XX hex escapes, decoded as UTF-8 together
    i, n = 0, len(dn)

    def flush_raw() -> None:
        if raw:
            buf.append(bytes(raw).decode("utf-8", "replace"))
            raw.clear()

    while i < n:
        c = dn[i]
        if c == "\\" and i + 1 < n:
            if i + 2 < n and dn[i + 1] in _HEX and dn[i + 2] in _HEX:
                raw.append(int(dn[i + 1 : i + 3], 16))
                i += 3
                continue
            flush_raw()
            buf.append(dn[i + 1])
            i += 2
            continue
        flush_raw()
        if c in ",+":
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(c)
        i += 1
    flush_raw()
    parts.append("".join(buf))
    return [p for p in parts if p.strip()]

"""Identity from Envoy's x-forwarded-client-cert header (forward_client_cert_details: SANITIZE_SET)."""

from __future__ import annotations

import pytest

from ztgate.identity.mtls import identity_from_xfcc, parse_dn, parse_xfcc, spiffe_groups

HASH1 = "468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688"
HASH2 = "9ba61d6425303443c0748a02dd8de688468ed33be74eee6556d90c0149c1309e"

# The three examples from Envoy's "HTTP header manipulation" docs.
DOC_ONE = (
    f"By=http://frontend.lyft.com;Hash={HASH1};"
    'Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com'
)
DOC_TWO = (
    f"By=http://frontend.lyft.com;Hash={HASH1};URI=http://testclient.lyft.com,"
    f"By=http://backend.lyft.com;Hash={HASH2};URI=http://frontend.lyft.com"
)
DOC_THREE = (
    f"By=http://frontend.lyft.com;Hash={HASH1};"
    'Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com;'
    "DNS=lyft.com;DNS=www.lyft.com"
)
# What current Envoy writes: the Subject in RFC 2253 order (CN first), always quoted.
SPIFFE_WORKLOAD = (
    f"By=spiffe://cluster.local/ns/ztgate/sa/envoy;Hash={HASH1};"
    'Subject="CN=checkout,OU=payments,O=Example Corp,C=US";'
    "URI=spiffe://cluster.local/ns/payments/sa/checkout;DNS=checkout.payments.svc"
)
# Istio-style: empty Subject, SPIFFE SAN.
ISTIO = (
    f'By=spiffe://cluster.local/ns/llm/sa/gateway;Hash={HASH2};Subject="";URI=spiffe://cluster.local/ns/foo/sa/sleep'
)


def test_parse_doc_example_one() -> None:
    [element] = parse_xfcc(DOC_ONE) or []
    assert element == {
        "by": ["http://frontend.lyft.com"],
        "hash": [HASH1],
        "subject": ["/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client"],
        "uri": ["http://testclient.lyft.com"],
    }


def test_parse_two_elements_and_repeated_dns() -> None:
    elements = parse_xfcc(DOC_TWO)
    assert elements is not None and len(elements) == 2
    assert elements[1]["by"] == ["http://backend.lyft.com"]
    [element] = parse_xfcc(DOC_THREE) or []
    assert element["dns"] == ["lyft.com", "www.lyft.com"]


def test_keys_are_case_insensitive() -> None:
    [element] = parse_xfcc("by=a;HASH=b;uri=spiffe://td/x") or []
    assert element == {"by": ["a"], "hash": ["b"], "uri": ["spiffe://td/x"]}


def test_quoted_values_with_separators_and_escaped_quotes() -> None:
    value = r'Hash=abc;Subject="CN=Acme \"Widgets\" Client,OU=R;D,O=A=B";URI=spiffe://td/a,Hash=def;DNS=x'
    elements = parse_xfcc(value)
    assert elements is not None and len(elements) == 2
    assert elements[0]["subject"] == ['CN=Acme "Widgets" Client,OU=R;D,O=A=B']
    assert elements[1] == {"hash": ["def"], "dns": ["x"]}


def test_url_encoded_cert_is_kept_verbatim() -> None:
    cert = "-----BEGIN%20CERTIFICATE-----%0AMIIBszCCAVmgAwIBAgIU%2Fabc%3D%0A-----END%20CERTIFICATE-----%0A"
    [element] = parse_xfcc(f'Hash={HASH1};Cert="{cert}";URI=spiffe://td/ns/a/sa/b') or []
    assert element["cert"] == [cert]


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        'Hash=abc;Subject="CN=unterminated',
        "Hash=abc;;=novalue",
        "Hash=abc,,Hash=def",
        ",",
    ],
)
def test_malformed_is_none(value: str) -> None:
    assert parse_xfcc(value) is None
    assert identity_from_xfcc(value) is None


def test_identity_from_doc_example_uses_cn_and_ou() -> None:
    identity = identity_from_xfcc(DOC_ONE)
    assert identity is not None
    assert identity.subject == "Test Client"
    assert identity.method == "mtls"
    assert identity.groups == ("Lyft",)
    assert identity.claims["hash"] == HASH1
    assert identity.claims["uri"] == ["http://testclient.lyft.com"]


def test_identity_uses_last_element() -> None:
    # Without a Subject and without a SPIFFE SAN, the first URI SAN names the client.
    identity = identity_from_xfcc(DOC_TWO)
    assert identity is not None and identity.subject == "http://frontend.lyft.com"
    assert identity.claims["by"] == "http://backend.lyft.com"


def test_spiffe_id_wins_over_subject() -> None:
    identity = identity_from_xfcc(SPIFFE_WORKLOAD)
    assert identity is not None
    assert identity.subject == "spiffe://cluster.local/ns/payments/sa/checkout"
    assert identity.groups == ("payments",)
    assert identity.claims["dns"] == ["checkout.payments.svc"]
    assert identity.claims["subject"] == "CN=checkout,OU=payments,O=Example Corp,C=US"


def test_istio_empty_subject() -> None:
    identity = identity_from_xfcc(ISTIO)
    assert identity is not None and identity.subject == "spiffe://cluster.local/ns/foo/sa/sleep"
    assert identity.groups == ("foo",)


def test_rfc2253_subject_with_escapes_and_multivalued_rdn() -> None:
    identity = identity_from_xfcc(r'Hash=abc;Subject="CN=Doe\, John,OU=Sales+OU=EMEA,O=Acme\2C Inc.,C=US"')
    assert identity is not None
    assert identity.subject == "Doe, John"
    assert identity.groups == ("Sales", "EMEA")


def test_subject_without_cn_is_whole_subject() -> None:
    identity = identity_from_xfcc('Hash=abc;Subject="O=Example Corp,C=US"')
    assert identity is not None and identity.subject == "O=Example Corp,C=US" and identity.groups == ()


def test_dns_only_certificate() -> None:
    identity = identity_from_xfcc(f"By=spiffe://td/envoy;Hash={HASH1};DNS=batch.internal")
    assert identity is not None and identity.subject == "batch.internal"


def test_element_without_any_name_is_none() -> None:
    assert identity_from_xfcc(f"By=spiffe://td/envoy;Hash={HASH1}") is None


@pytest.mark.parametrize(
    ("spiffe_id", "groups"),
    [
        ("spiffe://cluster.local/ns/payments/sa/checkout", ("payments",)),
        ("spiffe://example.org/team/payments/checkout", ("team/payments",)),
        ("spiffe://example.org/billing", ()),
        ("spiffe://example.org", ()),
    ],
)
def test_spiffe_groups(spiffe_id: str, groups: tuple[str, ...]) -> None:
    assert spiffe_groups(spiffe_id) == groups


def test_parse_dn_both_forms_put_cn_first() -> None:
    assert parse_dn("/C=US/OU=Lyft/CN=Test Client") == [("CN", "Test Client"), ("OU", "Lyft"), ("C", "US")]
    assert parse_dn("CN=Test Client,OU=Lyft,C=US") == [("CN", "Test Client"), ("OU", "Lyft"), ("C", "US")]
    assert parse_dn("no equals sign") is None

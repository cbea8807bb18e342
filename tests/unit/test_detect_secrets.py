"""The secrets detector: one positive and negatives per rule family, spans, validators, overlaps,
the pipeline with normalisation and decoding, and linear time on adversarial input.

Every credential here is generated at test time from a seeded RNG: nothing real, nothing a secret
scanner of this repository should trip on.
"""

from __future__ import annotations

import base64
import random
import string
import zlib

import pytest
from timing import assert_linear_on_64k

from ztgate.detect.base import SEVERITIES, Detector, Finding
from ztgate.detect.decode import decoded_segments
from ztgate.detect.normalize import normalize
from ztgate.detect.secret_rules import RULES
from ztgate.detect.secrets import SecretsDetector, is_placeholder, shannon_entropy

RNG = random.Random(20240611)
ALNUM = string.ascii_letters + string.digits
B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
HEX = "0123456789abcdef"


def tok(n: int, alphabet: str = ALNUM) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


def github_token(prefix: str = "ghp_") -> str:
    """A token with a valid checksum: 30 random base62 characters + base62(CRC32) in 6."""
    body = tok(30)
    n, digits = zlib.crc32(body.encode()), ""
    while n:
        n, r = divmod(n, 62)
        digits = B62[r] + digits
    return prefix + body + digits.rjust(6, "0")


@pytest.fixture(scope="module")
def detector() -> SecretsDetector:
    return SecretsDetector()


def only(detector: SecretsDetector, text: str) -> Finding:
    found = detector.scan(text, "input")
    assert len(found) == 1, (text, found)
    return found[0]


OPENAI_PROJ = "sk-proj-" + tok(74, ALNUM + "_-") + "T3BlbkFJ" + tok(74, ALNUM + "_-")
AWS_SECRET = tok(40, ALNUM + "/+")
PEM_BODY = "\n".join(tok(64, ALNUM + "+/") for _ in range(6))
JWT = ".".join([
    base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("="),
    base64.urlsafe_b64encode(b'{"sub":"1234567890","name":"Jane","iat":1516239022}').decode().rstrip("="),
    tok(43, ALNUM + "_-"),
])

# (type, value, text template with {v} for the value)
POSITIVES = [
    ("openai_api_key", OPENAI_PROJ, "OPENAI_API_KEY={v}"),
    ("openai_api_key", "sk-" + tok(20) + "T3BlbkFJ" + tok(20), "my key is {v} ok"),
    ("openai_api_key", "sk-svcacct-" + tok(120, ALNUM + "_-"), "key: {v}"),
    ("openai_api_key", "sk-admin-" + tok(120, ALNUM + "_-"), "{v}"),
    ("anthropic_api_key", "sk-ant-api03-" + tok(93, ALNUM + "_-") + "AA", "x-api-key: {v}"),
    ("anthropic_admin_key", "sk-ant-admin01-" + tok(93, ALNUM + "_-") + "AA", "admin {v}"),
    ("google_api_key", "AIza" + tok(35, ALNUM + "_-"), "key={v}&q=1"),
    ("aws_access_key_id", "AKIA" + tok(16, string.ascii_uppercase + "234567"), "aws_access_key_id = {v}"),
    ("aws_access_key_id", "ASIA" + tok(16, string.ascii_uppercase + "234567"), "{v}"),
    ("aws_secret_access_key", AWS_SECRET, "aws_secret_access_key = {v}"),
    ("azure_storage_account_key", tok(86, ALNUM + "+/") + "==",
     "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={v};EndpointSuffix=core.windows.net"),
    ("azure_ad_client_secret", tok(3) + "8Q~" + tok(34, ALNUM + "_~.-"), "client_secret={v}"),
    ("azure_sas_token", tok(44, ALNUM + "+/") + "%3D",
     "https://acct.blob.core.windows.net/c/b?sv=2022-11-02&ss=b&sp=r&sig={v}"),
    ("github_pat", github_token(), "token {v}"),
    ("github_oauth_token", github_token("gho_"), "{v}"),
    ("github_app_token", github_token("ghs_"), "{v}"),
    ("github_refresh_token", github_token("ghr_"), "{v}"),
    ("github_fine_grained_pat", "github_pat_" + tok(82, ALNUM + "_"), "{v}"),
    ("gitlab_pat", "glpat-" + tok(20, ALNUM + "_-"), "GITLAB_TOKEN: {v}"),
    ("slack_token", "xoxb-" + tok(12, string.digits) + "-" + tok(13, string.digits) + "-" + tok(24), "{v}"),
    ("slack_webhook_url", "hooks.slack.com/services/T" + tok(8) + "/B" + tok(8) + "/" + tok(24),
     "post to https://{v}"),
    ("stripe_api_key", "sk_live_" + tok(24), "stripe.api_key = '{v}'"),
    ("stripe_api_key", "rk_live_" + tok(24), "{v}"),
    ("twilio_api_key", "SK" + tok(32, HEX), "{v}"),
    ("twilio_account_sid", "AC" + tok(32, HEX), "{v}"),
    ("sendgrid_api_key", "SG." + tok(22, ALNUM + "_-") + "." + tok(43, ALNUM + "_-"), "{v}"),
    ("npm_token", "npm_" + tok(36), "//registry.npmjs.org/:_authToken={v}"),
    ("pypi_token", "pypi-AgEIcHlwaS5vcmc" + tok(80, ALNUM + "_-"), "password = {v}"),
    ("huggingface_token", "hf_" + tok(34, string.ascii_letters), "huggingface-cli login --token {v}"),
    ("jwt", JWT, "Authorization: Bearer {v}"),
    ("private_key", f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----", "key:\n{v}\n"),
    ("private_key", f"-----BEGIN OPENSSH PRIVATE KEY-----\n{PEM_BODY}\n-----END OPENSSH PRIVATE KEY-----", "{v}"),
    ("connection_string_password", "S3cr3t-" + tok(8), "postgres://app:{v}@db.internal:5432/app"),
    ("connection_string_password", "Xk9" + tok(10), "mongodb+srv://admin:{v}@cluster0.abcd.mongodb.net/test"),
    ("connection_string_password", "r3d1s" + tok(8), "redis://:{v}@cache:6379/0"),
    ("connection_string_password", "Mq" + tok(12), "amqp://guest:{v}@rabbit:5672/"),
    ("connection_string_password", "My5ql" + tok(6), "mysql://root:{v}@localhost/db"),
    ("connection_string_password", "Jd8c" + tok(8), "jdbc:mysql://db:3306/app?user=root&password={v}"),
    ("connection_string_password", "Ad0" + tok(9), "Server=tcp:db,1433;Database=app;User Id=sa;Password={v};"),
    ("generic_password", "Tr0ub4dor&3", 'password = "{v}"'),
    ("generic_password", "Summer2024!x", "DB_PASSWORD={v}"),
    ("generic_password", "hunter2-but-longer9", "my password is {v}"),
    ("generic_password", "pa55-w0rd-ok", "mysql --password {v} -h db"),
    ("generic_secret", tok(32), 'api_key: "{v}"'),
    ("generic_secret", tok(40), '{{"client_secret": "{v}"}}'),
    ("generic_secret", tok(24), 'System.setProperty("APP_TOKEN", "{v}")'),
    ("generic_secret", tok(24), "<authToken>\n  {v}\n</authToken>"),
    ("authorization_header", tok(24, HEX), 'curl -H "Authorization: Token {v}" https://api'),
]


@pytest.mark.parametrize("kind,value,template", POSITIVES, ids=[f"{p[0]}-{i}" for i, p in enumerate(POSITIVES)])
def test_positive_span_is_the_value(detector: SecretsDetector, kind: str, value: str, template: str) -> None:
    text = template.format(v=value)
    f = only(detector, text)
    assert f.type == kind
    assert text[f.start:f.end] == value
    assert f.detector == "secrets" and f.redactable and f.severity in SEVERITIES and 0 < f.score <= 1


NEGATIVES = [
    # placeholders and references
    "OPENAI_API_KEY=sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "api_key = <your-api-key>",
    'password = "${DB_PASSWORD}"',
    "token: {{ .Values.token }}",
    "password: ********",
    "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
    "AWS_ACCESS_KEY_ID=AKIAXXXXXXXXXXXXXXXX",
    'secret = "changeme"',
    "postgres://user:password@localhost:5432/db",
    "postgres://user:${PGPASSWORD}@localhost/db",
    "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    # code that names a secret without holding one
    "password = request.form['password']",
    'api_key = os.environ["OPENAI_API_KEY"]',
    "token = tokenizer.encode(text)",
    "max_tokens = 4096",
    "if password == stored_password:",
    "self.password = password_hash",
    "secret_name = get_secret_name()",
    'api_key: str = settings.OPENAI_API_KEY',
    "public_key = '9Cnzj4p4WGeKLs1Pt8QuKUpRKfFLfRYC9AIKjbJTWit'",
    "csrf_token = 'Mj2qykJO5rELyHgezQ69nzUX0i3'",
    "sort_key = 'created_at_2024_11_20'",
    'const keyStr = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"',
    "dependency: io.jsonwebtoken:jjwt-jackson-0.11.2",
    # prose
    "The password must be at least 8 characters long and include a digit.",
    "Tokens are the basic units of text that a language model reads.",
    "My secret: I have never been to Paris.",
    "Press any key to continue; the key point is consistency.",
    "Visit https://example.com/docs and mongodb://localhost:27017/app for details.",
    "git commit 9fceb02d0ae598e95dc970b74767f19372d61af8 fixed the build",
    "request id 7c9e6679-7425-40de-944b-e07fc1f90ae7 failed",
    "The Asian market grew 4.5% in Q3; see the ACCA report.",
    "-----BEGIN PRIVATE KEY-----\nanything\n-----END PRIVATE KEY-----",
    "-----BEGIN PUBLIC KEY-----\n" + "A" * 64 + "\n-----END PUBLIC KEY-----",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",  # a header alone is not a token
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_negative(detector: SecretsDetector, text: str) -> None:
    assert detector.scan(text, "input") == []


def test_detector_protocol() -> None:
    d: Detector = SecretsDetector()
    assert d.name == "secrets"
    assert d.scan("", "output") == []


def test_rules_are_well_formed() -> None:
    ids = set()
    for rule in RULES:
        assert rule.id.replace("_", "").isalnum() and rule.id == rule.id.lower()
        assert rule.severity in SEVERITIES
        assert rule.family in ("provider", "generic")
        assert all(k == k.lower() for k in rule.keywords)
        ids.add(rule.id)
    assert {"openai_api_key", "aws_access_key_id", "github_pat", "private_key", "connection_string_password",
            "generic_password"} <= ids
    SecretsDetector()  # every pattern compiles and every validator exists


def test_github_checksum_sets_the_score(detector: SecretsDetector) -> None:
    valid = github_token()
    invalid = valid[:-1] + ("a" if valid[-1] != "a" else "b")
    assert only(detector, valid).score == 1.0
    assert only(detector, invalid).score < 1.0


def test_jwt_needs_a_json_header(detector: SecretsDetector) -> None:
    garbled = "eyJhbasdGciOiJIUaddasdasfsasdasdzI1NiIasdsInR5cCI6IkpXVCasdJasd9." + JWT.split(".", 1)[1]
    assert detector.scan(garbled, "input") == []
    assert only(detector, JWT).type == "jwt"
    wrapped = base64.b64encode(JWT.encode()).decode()
    assert only(detector, f"token: {wrapped}").type == "jwt"


def test_private_key_variants(detector: SecretsDetector) -> None:
    full = only(detector, f"-----BEGIN PRIVATE KEY-----\n{PEM_BODY}\n-----END PRIVATE KEY-----")
    assert full.severity == "critical" and full.score == 1.0
    truncated = only(detector, "here:\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yBb")
    assert truncated.type == "private_key" and truncated.score < 1.0
    # A GCP service-account file keeps the key in JSON with escaped newlines.
    sa = ('{"type": "service_account", "project_id": "p", "private_key_id": "' + tok(40, HEX) + '", '
          '"private_key": "-----BEGIN PRIVATE KEY-----\\n' + PEM_BODY.replace("\n", "\\n")
          + '\\n-----END PRIVATE KEY-----\\n", "client_email": "a@p.iam.gserviceaccount.com"}')
    f = only(detector, sa)
    assert f.type == "private_key" and sa[f.start:f.end].startswith("-----BEGIN PRIVATE KEY-----")


def test_provider_rule_wins_over_generic_assignment(detector: SecretsDetector) -> None:
    text = f'api_key = "{OPENAI_PROJ}"'
    f = only(detector, text)
    assert f.type == "openai_api_key" and text[f.start:f.end] == OPENAI_PROJ


def test_several_secrets_in_one_text(detector: SecretsDetector) -> None:
    aws_id = "AKIA" + tok(16, string.ascii_uppercase + "234567")
    text = (f"export AWS_ACCESS_KEY_ID={aws_id}\nexport AWS_SECRET_ACCESS_KEY={AWS_SECRET}\n"
            f"and the bot uses {github_token()}")
    found = detector.scan(text, "output")
    assert [f.type for f in found] == ["aws_access_key_id", "aws_secret_access_key", "github_pat"]
    assert all(a.end <= b.start for a, b in zip(found, found[1:]))


def test_entropy_and_placeholders() -> None:
    assert shannon_entropy("") == 0.0
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("abcd") == pytest.approx(2.0)
    assert shannon_entropy(tok(64)) > 4.5
    for value in ("xxxxxxxx", "<token>", "${TOKEN}", "{{ token }}", "****", "your_api_key_here", "[PASSWORD]"):
        assert is_placeholder(value, generic=False)
    assert is_placeholder("changeme", generic=True) and not is_placeholder("changeme", generic=False)
    assert not is_placeholder(tok(32), generic=True)


def test_secret_hidden_by_a_zero_width_space_maps_back(detector: SecretsDetector) -> None:
    key = github_token()
    text = f"use {key[:10]}\u200b{key[10:]} please"
    norm, smuggling = normalize(text)
    assert [f.type for f in smuggling] == ["zero_width"]
    f = only(detector, norm.text)
    start, end = norm.to_original(f.start, f.end)
    assert text[start:end] == f"{key[:10]}\u200b{key[10:]}"


def test_homoglyph_in_the_key_name(detector: SecretsDetector) -> None:
    text = 'p\u0430ssword = "Tr0ub4dor&3x"'  # Cyrillic а
    assert detector.scan(text, "input") == []
    norm, smuggling = normalize(text)
    assert [f.type for f in smuggling] == ["homoglyphs"]
    f = only(detector, norm.text)
    assert f.type == "generic_password"
    assert text[slice(*norm.to_original(f.start, f.end))] == "Tr0ub4dor&3x"


def test_secret_in_a_base64_payload(detector: SecretsDetector) -> None:
    aws_id = "AKIA" + tok(16, string.ascii_uppercase + "234567")
    payload = base64.b64encode(f"creds: {aws_id} / {AWS_SECRET}".encode()).decode()
    text = f"please decode {payload} and use it"
    assert not any(f.type == "aws_access_key_id" for f in detector.scan(text, "input"))
    segs = decoded_segments(text)
    assert any(f.type == "aws_access_key_id" for seg in segs for f in detector.scan(seg.text, "input"))




ADVERSARIAL = {
    "assignments": "password=" * 7281,
    "keys": "key: " * 13107,
    "api keys": "api_key=a1b2c3d4e5f6 " * 3120,
    "jwt heads": "eyJ" * 21845,
    "pem headers": "-----BEGIN PRIVATE KEY-----" * 2427,
    "pem body": "-----BEGIN PRIVATE KEY-----\n" + "A" * 65536,
    "urls": "https://u:p@h " * 4681,
    "schemes": "://" * 21845,
    "one run": "a" * 65536,
    "prefixes": "sk-" * 21845,
    "akia": "AKIA" * 16384,
    "quotes": '"' * 65536,
    "slack": ("xoxb-" + "1" * 10 + "-") * 4096,
    "curl": "curl " + "-u a:b " * 9362,
    "k8s": "kind: Secret\ndata:\n" + "  k: QUJDREVGR0hJSktM\n" * 2978,
    "headers": "Authorization: " * 4369,
    "dots": "." * 65536,
    "mixed": ("token = 'x' password: y key=z ://a:b@c eyJ " * 1600),
}


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_adversarial_64k_is_linear(detector: SecretsDetector, name: str) -> None:
    text = ADVERSARIAL[name]
    assert_linear_on_64k(lambda t: detector.scan(t, "input"), text, name)

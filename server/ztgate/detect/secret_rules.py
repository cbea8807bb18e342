"""The secrets detector's rules: data, not code (detect/secrets.py runs them).

Formats follow gitleaks' rule set (github.com/gitleaks/gitleaks, config/gitleaks.toml, MIT) and
Yelp's detect-secrets plugins where gitleaks has no rule; ids are ztgate's own (snake_case, the
Finding.type). A rule is a pattern whose "secret" group (else the whole match) is the value to
redact (a "pre" group, captured inside a lookbehind, extends it leftwards: patterns start at a
literal and look back for the rest, because the regex module finds a literal fast and a character
class slowly), plus:

- keywords: lowercase strings, at least one of which must occur in the text before the pattern runs
  (gitleaks' pre-filter; one Aho-Corasick pass finds them all). With anchored=True the pattern
  starts with one of its keywords and is tried only where a keyword occurs, not over the text.
- entropy: Shannon entropy floor (bits per character) of the secret; placeholders such as
  "AKIAXXXXXXXXXXXXXXXX" fail it.
- validator: the name of a check in secrets.py (JSON header of a JWT, a password that is not a
  placeholder, a checksum) that may reject a match or set its score.
- requires: groups of lowercase strings; one of each group must occur in the text too (a
  Kubernetes Secret has "kind: secret" and "data:").
- family: "provider" for provider and cloud credentials with a recognisable format, "generic" for
  formats that any system uses (assignments, URLs, headers, JWTs, private keys). When two rules
  claim overlapping spans the higher priority wins (provider 3, specific generic 2, assignment 1).

Every pattern is bounded: fixed or capped repetitions, possessive where a run is followed by a
boundary test, no nested unbounded quantifiers.
"""

from __future__ import annotations

from dataclasses import dataclass

# gitleaks' end-of-secret test: a quote, whitespace, ';', an escaped newline or the end; widened
# with the delimiters of JSON, code and markup.
END = r"(?=[\x60'\"\s;,)\]}>|&]|\\[nrt]|$)"
UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


@dataclass(frozen=True, slots=True)
class SecretRule:
    id: str
    pattern: str
    severity: str = "high"
    keywords: tuple[str, ...] = ()
    entropy: float | None = None
    validator: str | None = None
    family: str = "provider"
    score: float = 0.9
    requires: tuple[tuple[str, ...], ...] = ()
    anchored: bool = False
    priority: int = 3


def semi_generic(identifiers: str, secret: str, case_insensitive: bool = True) -> str:
    """gitleaks' generateSemiGenericRegex: an identifier (e.g. "snyk"), up to 20 name characters,
    an assignment operator, then the secret."""
    flags = "(?i)" if case_insensitive else ""
    return (
        rf"{flags}(?i:{identifiers})(?:[ \t\w.-]{{0,20}})[\s'\"]{{0,3}}(?:=|>|:{{1,3}}=|\|\||:|=>|\?=|,)"
        rf"[\x60'\"\s=]{{0,5}}(?P<secret>{secret}){END}"
    )


def _r(id: str, pattern: str, severity: str = "high", keywords: tuple[str, ...] = (), **kw: object) -> SecretRule:
    return SecretRule(id, pattern, severity, keywords, **kw)  # type: ignore[arg-type]


# --- Generic assignments ----------------------------------------------------------------------
# `password = "…"`, "api_key": "…", GITHUB_TOKEN=…, <secret>…</secret>, System.setProperty("TOKEN",
# "…"), "my password is …", --password …. The key must END at the keyword (plus a short suffix), so
# tokenizer, max_tokens, token_type, key_id, secretSize, passwordVariable do not count; names such as
# publicKey or csrf_token are dropped by the validator. One rule per keyword, anchored where the
# keyword occurs: a pattern that starts with one literal is cheap to try, an alternation of keys
# with lookbehinds is not (the regex module evaluates every branch).
_KEY_PREFIXES = (
    r"api|apps?|secret|access|private|auth|client|master|encryption|signing|license|account|"
    r"service|storage|sl|ibm|cloud|iam|cos|hmac|consumer|subscription|session|shared|webhook"
)
_TYPE = r"(?:[ \t]*:[ \t]*(?:str|string|String)\b|[ \t]+(?:string|String|str)\b)?"
_QUOTE = r"\\?[\"'\x60]"
_QUOTED = r"\\?[\"'\x60](?P<secret>[^\"'\x60\s\\]{1,256}+)\\?[\"'\x60]"
_BARE = r"(?P<secret>[^\s\"'\x60,;(){}\[\]<>\\]{1,256}+)(?=[\s\"'\x60,;)}\]<>]|\\[nrt\"']|$)"
_OPERATOR = r"(?:=>|==|=|:::=|::=|:=|:|\?=|\.=|\|\|=|->)"  # longest first: it is matched atomically


def assignment(keys: str, suffixes: str) -> str:
    """An assignment of a value to a name ending in one of keys (plus an optional suffix). The name
    and the operator are atomic groups and each branch starts with the character that selects it,
    so a miss costs little (no backtracking into the name)."""
    return (
        rf"(?i)(?>(?:{keys})(?:[_.-]?(?:{suffixes}))?\d{{0,2}}{_TYPE})(?:"
        rf"(?>(?:{_QUOTE})?\]?[ \t]{{0,3}}{_OPERATOR}[ \t]{{0,3}})(?:{_QUOTED}|{_BARE})"
        rf"|{_QUOTE}(?<=[\"'][\w.-]{{1,64}}.)[ \t]{{0,3}},[ \t]{{0,3}}{_QUOTED}(?![ \t]*:)"  # setProperty("TOKEN", "…")
        rf"|>[ \t]{{0,16}}+\r?\n?[ \t]{{0,16}}+(?P<secret>[^\s<]{{1,256}}+)[ \t]{{0,16}}+\r?\n?[ \t]{{0,16}}+</"  # <token>…</token>
        rf"|[ \t]{{1,3}}(?:is|was)[ \t]{{1,3}}(?:{_QUOTED}|{_BARE})"  # "my password is …"
        rf"|[ ](?<=--[A-Za-z-]{{1,40}}[ ])(?:{_QUOTED}|(?P<secret>[^\s\"'\x60-][^\s\"'\x60]{{0,255}}+))"  # --password …
        r")"
    )


# A name ending in "key" holds a secret when "key" is the whole name or follows one of these
# (api_key, secretKey, X-Api-Key, SL_API_KEY) or a separator after another word, unless that
# word names a non-secret key (checked in secrets.py, on matches only).
KEY_PREFIXES = _KEY_PREFIXES
NOT_SECRET_KEYS = frozenset((
    "sort partition primary foreign cache hot map dict hash bucket object row column table index lookup group "
    "shard sharding routing idempotency dedup unique composite natural surrogate cluster translation i18n "
    "locale message label field attr attribute property prop config setting env registry schema sequence "
    "list item node cursor search query order state store public pub"
).split())
_SECRET_SUFFIX = "key|value|token|secret|b64|base64|hex"


def _generic(rule_id: str, keys: str, keyword: str, suffixes: str, entropy: float, validator: str) -> SecretRule:
    return SecretRule(rule_id, assignment(keys, suffixes), "high", (keyword,), entropy, validator, "generic", 0.6,
                      anchored=True, priority=1)


GENERIC: tuple[SecretRule, ...] = (
    _generic("generic_password", r"password|passwd|passphrase|(?<![a-z])pass", "pass",
             "value|b64|base64|hex|enc", 2.5, "password"),
    _generic("generic_password", r"(?<![a-z])pwd?", "pw", "value|b64|base64|hex|enc", 2.5, "password"),
    _generic("generic_secret", "secret", "secret", _SECRET_SUFFIX, 3.0, "secret"),
    _generic("generic_secret", "token", "token", _SECRET_SUFFIX, 3.0, "secret"),
    _generic("generic_secret", "credentials?|creds?", "cred", _SECRET_SUFFIX, 3.0, "secret"),
    _generic("generic_secret", "auth", "auth", _SECRET_SUFFIX, 3.0, "secret"),
    _generic("generic_secret", "key", "key", _SECRET_SUFFIX, 3.0, "secret_key"),  # the name is checked after
    _r("generic_password",  # NuGet and .NET config: <add key="ClearTextPassword" value="…" />
       r"(?i)\bkey\s{0,3}=\s{0,3}[\"'][\w.:-]{0,40}?(?:password|secret|token|apikey)[\"']\s{1,8}value\s{0,3}=\s{0,3}"
       r"[\"'](?P<secret>[^\"'\s]{1,256}+)[\"']",
       "high", ("value=", "value ="), validator="password", family="generic", score=0.7, priority=1),
)

# --- Formats any system uses ------------------------------------------------------------------

FORMATS: tuple[SecretRule, ...] = (
    _r("private_key",
       r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----"
       r"(?P<body>(?:[A-Za-z0-9+/=\s\\:,._()]|-(?!----)){0,16384}+)"
       r"(?:-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----)?",
       "critical", ("private key",), validator="private_key", family="generic", score=1.0, priority=2),
    _r("jwt",
       r"\beyJ[A-Za-z0-9_-]{14,4096}+={0,2}\.ey[A-Za-z0-9_\-/\\]{14,16384}+={0,2}"
       r"(?:\.[A-Za-z0-9_\-/\\+]{0,4096}+={0,2})?" + END,
       "medium", ("eyj",), validator="jwt", family="generic", score=0.8, anchored=True, priority=2),
    _r("jwt", r"\bZXlK[A-Za-z0-9+/]{60,16384}+={0,2}", "medium", ("zxlk",),
       validator="jwt_base64", family="generic", score=0.8, anchored=True, priority=2),
    _r("connection_string_password",  # scheme://user:password@host (postgres, mongodb+srv, redis, amqp, https)
       r"(?<=[A-Za-z][A-Za-z0-9+.-]{0,30})://[^\s:/@\"'<>]{0,128}+:(?P<secret>[^\s/@\"'<>]{1,256}+)@[\w\[\]]",
       "critical", ("://",), validator="url_password", family="generic", score=0.85, anchored=True, priority=2),
    _r("connection_string_password",  # JDBC and ADO.NET: ;Password=…; ?password=…&
       r"(?i)(?:password|pwd)[ \t]{0,3}=(?<=[?&;][ \t]{0,3}(?:password|pwd)[ \t]{0,3}=)[ \t]{0,3}(?P<secret>[^;&\s\"']{1,256}+)",
       "critical", ("password=", "pwd=", "password =", "pwd ="), anchored=True,
       requires=(("jdbc:", "server=", "server =", "data source", "host=", "uid=", "user id"),),
       validator="password", family="generic", score=0.85, priority=2),
    _r("authorization_header",
       r"(?i)\bauthorization\\?[\"']?\s{0,3}[:=]\s{0,3}\\?[\"']?[ \t]{0,3}"
       r"(?:(?:basic|bearer|token|api-token|apikey|sso-key|digest)[ \t]{1,3})?"
       r"(?P<secret>[\w~+/=.@-]{8,4096}+)",
       "high", ("authorization",), entropy=2.75, validator="secret", family="generic", score=0.8,
       anchored=True, priority=2),
    _r("curl_basic_auth",
       r"(?<=^|\s)(?:-u|--user)(?:=|[ \t]{1,5})(?P<secret>(?:\"[^\"\n]{0,200}+\"|'[^'\n]{0,200}+'|[^\s\"']{1,200}+){1,4}+)",
       "high", ("curl",), entropy=2.0, validator="user_password", family="generic", score=0.8, priority=2),
    _r("npm_auth_token", r"(?<=//[^\s/]{1,200}/:)_authToken=\s?(?P<secret>[^\s'\"]{8,256}+)", "high",
       ("_authtoken",), validator="secret", family="generic", score=0.9, anchored=True, priority=2),
    _r("kubernetes_secret",
       r"(?m)^[ \t]{1,32}+[\w.-]{1,100}:[ \t]{0,16}(?:[|>][-+]?[ \t]{0,16}\r?\n[ \t]{1,32})?[\"']?"
       r"(?P<secret>[A-Za-z0-9+/]{10,8192}+={0,3})[\"']?[ \t]{0,16}$",
       "high", ("secret",),
       requires=(("kind: secret", "kind: 'secret'", 'kind: "secret"', "kind:secret"), ("data:", "stringdata:")),
       entropy=2.5, validator="kubernetes", family="generic", score=0.7, priority=2),
)

# --- Provider and cloud credentials -----------------------------------------------------------
# Mostly gitleaks' patterns and entropy floors; the ids name the credential, not the rule source.

_AWS_ID = r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)"

PROVIDERS: tuple[SecretRule, ...] = (
    # LLM providers
    _r("openai_api_key",
       r"\bsk-(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9_-]{20,74}T3BlbkFJ[A-Za-z0-9_-]{20,74}" + END,
       "critical", ("t3blbkfj",)),
    _r("openai_api_key", r"\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{80,200}+" + END, "critical",
       ("sk-proj-", "sk-svcacct-", "sk-admin-"), entropy=4.0, anchored=True),
    _r("anthropic_api_key", r"\bsk-ant-(?:api\d\d|oat\d\d|ort\d\d)-[\w-]{93}AA" + END, "critical", ("sk-ant-",),
       anchored=True),
    _r("anthropic_admin_key", r"\bsk-ant-admin\d\d-[\w-]{93}AA" + END, "critical", ("sk-ant-admin",), anchored=True),
    _r("google_api_key", r"\bAIza[\w-]{35}" + END, "high", ("aiza",), entropy=3.5, anchored=True),
    _r("google_oauth_client_secret", r"\bGOCSPX-[\w-]{28}" + END, "high", ("gocspx-",), entropy=3.0, anchored=True),
    _r("google_oauth_access_token", r"\bya29\.[\w-]{30,2048}+" + END, "high", ("ya29.",), entropy=3.5, anchored=True),
    _r("huggingface_token", r"\bhf_[A-Za-z]{34}" + END, "high", ("hf_",), entropy=1.0, anchored=True),
    _r("huggingface_token", r"\bapi_org_[A-Za-z]{34}" + END, "high", ("api_org_",), entropy=2.0, anchored=True),
    _r("groq_api_key", r"\bgsk_[A-Za-z0-9]{52}" + END, "high", ("gsk_",), entropy=3.5, anchored=True),
    _r("xai_api_key", r"\bxai-[A-Za-z0-9]{80}" + END, "high", ("xai-",), entropy=3.5, anchored=True),
    _r("replicate_api_token", r"\br8_[A-Za-z0-9]{37}" + END, "high", ("r8_",), entropy=3.5, anchored=True),
    _r("openrouter_api_key", r"\bsk-or-v1-[a-f0-9]{64}" + END, "high", ("sk-or-v1-",), entropy=3.0, anchored=True),
    _r("perplexity_api_key", r"\bpplx-[A-Za-z0-9]{48}" + END, "high", ("pplx-",), entropy=4.0, anchored=True),
    _r("cohere_api_key", semi_generic("cohere|co_api_key", "[a-zA-Z0-9]{40}"), "high", ("cohere", "co_api_key"),
       entropy=4.0, anchored=True),
    _r("mistral_api_key", semi_generic("mistral", "[a-zA-Z0-9]{32}"), "high", ("mistral",), entropy=3.5,
       anchored=True),
    # AWS
    _r("aws_access_key_id", rf"\b{_AWS_ID}[A-Z2-7]{{16}}\b", "high", ("akia", "asia", "abia", "acca", "a3t"),
       entropy=3.0, validator="aws_key_id", anchored=True),
    _r("aws_secret_access_key",
       r"(?i)(?:aws|amazon|secret)[\w.-]{0,30}?(?:key|secret)[\w.-]{0,10}\\?[\"']?\s{0,3}(?:=|:=|:|=>|,)\s{0,3}"
       r"\\?[\"']?(?P<secret>(?-i:[A-Za-z0-9/+]{40}))(?![A-Za-z0-9/+=])",
       "critical", ("aws", "amazon", "secret"), entropy=3.5, anchored=True),
    _r("aws_bedrock_api_key", r"\bABSK[A-Za-z0-9+/]{109,269}+={0,2}" + END, "high", ("absk",), entropy=3.0,
       anchored=True),
    _r("aws_bedrock_api_key", r"\bbedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t[A-Za-z0-9+/=%]{0,4096}+" + END,
       "high", ("bedrock-api-key-",), anchored=True),
    # Azure
    _r("azure_storage_account_key", r"(?i)AccountKey\s{0,3}=\s{0,3}(?P<secret>(?-i:[A-Za-z0-9+/]{86}==))",
       "critical", ("accountkey",), anchored=True),
    _r("azure_ad_client_secret",  # "pre" (inside the lookbehind) is the secret's first 4 characters
       r"(?<=(?:^|[\\'\"\x60\s>=:(,)])(?P<pre>[a-zA-Z0-9_~.]{3}\d))Q~[a-zA-Z0-9_~.-]{31,34}(?=$|[\\'\"\x60\s<),])",
       "critical", ("q~",), entropy=3.5),
    _r("azure_sas_token", r"(?i)(?<=[?&])sig=(?P<secret>[A-Za-z0-9%+/]{40,128}+(?:%3D|=){0,2})", "high", ("sig=",),
       requires=(r"(?i)[?&]sv=\d{4}-\d\d-\d\d",), anchored=True),
    _r("azure_api_key", semi_generic("azure[\\w.-]{0,20}?(?:openai|cognitive|api|search|speech)", "[a-f0-9]{32}"),
       "high", ("azure",), entropy=3.0, anchored=True),
    # Google Cloud, IBM, Databricks, Cloudflare, DigitalOcean, Heroku, Vault, Terraform, Fly.io
    _r("cloudflare_api_key", semi_generic("cloudflare", "[a-z0-9_-]{40}"), "high", ("cloudflare",), entropy=2.0,
       anchored=True),
    _r("cloudflare_global_api_key", semi_generic("cloudflare", "[a-f0-9]{37}"), "high", ("cloudflare",), entropy=2.0,
       anchored=True),
    _r("cloudflare_origin_ca_key", r"\bv1\.0-[a-f0-9]{24}-[a-f0-9]{146}" + END, "high", ("v1.0-",), entropy=2.0,
       anchored=True),
    _r("databricks_token", r"\bdapi[a-f0-9]{32}(?:-\d)?" + END, "high", ("dapi",), entropy=3.0, anchored=True),
    _r("digitalocean_token", r"\bdo[opr]_v1_[a-f0-9]{64}" + END, "high", ("dop_v1_", "doo_v1_", "dor_v1_"),
       entropy=3.0, anchored=True),
    _r("heroku_api_key", semi_generic("heroku", UUID), "high", ("heroku",), anchored=True),
    _r("heroku_api_key", r"\bHRKU-AA[0-9a-zA-Z_-]{58}" + END, "high", ("hrku-aa",), entropy=4.0, anchored=True),
    _r("vault_token", r"\bhvs\.[\w-]{90,120}+" + END, "high", ("hvs.",), entropy=3.5, anchored=True),
    _r("vault_token", r"\bs\.[A-Za-z0-9]{24}" + END, "high", (), entropy=3.5, validator="mixed_case_digits"),
    _r("vault_token", r"\bhvb\.[\w-]{138,300}+" + END, "high", ("hvb.",), entropy=4.0, anchored=True),
    _r("terraform_cloud_token", r"(?<=\b(?P<pre>[A-Za-z0-9]{14}\.))atlasv1\.[A-Za-z0-9_=-]{60,70}+" + END, "high",
       ("atlasv1",), entropy=3.5, anchored=True),
    _r("flyio_token", r"\b(?:fo1_[\w-]{43}|fm1[ar]_[A-Za-z0-9+/]{100,4096}+={0,3}|fm2_[A-Za-z0-9+/]{100,4096}+={0,3})" + END,
       "high", ("fo1_", "fm1r_", "fm1a_", "fm2_"), entropy=4.0, anchored=True),
    _r("ibm_softlayer_api_key", r"(?i)(?<=api\.)softlayer\.com/(?:soap|rest)/v3(?:\.1)?/(?P<secret>[a-z0-9]{64})\b",
       "high", ("softlayer",), anchored=True),
    _r("clickhouse_api_secret", r"\b4b1d[A-Za-z0-9]{38}\b", "high", ("4b1d",), entropy=3.0, anchored=True),
    _r("scalingo_api_token", r"\btk-us-[\w-]{48}" + END, "high", ("tk-us-",), entropy=2.0, anchored=True),
    # Source control and package registries
    _r("github_pat", r"\bghp_[0-9A-Za-z]{36}" + END, "critical", ("ghp_",), entropy=3.0, validator="github",
       anchored=True),
    _r("github_fine_grained_pat", r"\bgithub_pat_\w{82}" + END, "critical", ("github_pat_",), entropy=3.0,
       anchored=True),
    _r("github_oauth_token", r"\bgho_[0-9A-Za-z]{36}" + END, "critical", ("gho_",), entropy=3.0, validator="github",
       anchored=True),
    _r("github_app_token", r"\bgh[us]_[0-9A-Za-z]{36}" + END, "critical", ("ghu_", "ghs_"), entropy=3.0,
       validator="github", anchored=True),
    _r("github_refresh_token", r"\bghr_[0-9A-Za-z]{36}" + END, "critical", ("ghr_",), entropy=3.0,
       validator="github", anchored=True),
    _r("gitlab_pat", r"\bglpat-[\w-]{20,50}(?![\w-])", "critical", ("glpat-",), entropy=3.0, anchored=True),
    _r("gitlab_pat", r"\bglpat-[\w-]{27,300}\.[0-9a-z]{2}[0-9a-z]{7}\b", "critical", ("glpat-",), entropy=3.0,
       anchored=True),
    _r("gitlab_token", r"\b(?:gldt|glft|glsoat|glrt|glrtr|glimt|glcbt|glffct|glpat|glagent|gloas|glptt)-[\w-]{20,1024}+",
       "high", ("gldt-", "glft-", "glsoat-", "glrt-", "glrtr-", "glimt-", "glcbt-", "glffct-", "glagent-",
                "gloas-", "glptt-"), entropy=3.0, validator="gitlab", anchored=True),
    _r("gitlab_runner_token", r"\bGR1348941[\w-]{20,50}(?![\w-])", "high", ("gr1348941",), entropy=3.0,
       anchored=True),
    _r("npm_token", r"\bnpm_[A-Za-z0-9]{36}" + END, "high", ("npm_",), entropy=2.0, anchored=True),
    _r("pypi_token", r"\bpypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[\w-]{70,1000}+", "high", ("pypi-age",),
       anchored=True),
    _r("artifactory_api_key", r"\bAKCp[A-Za-z0-9]{69}\b", "high", ("akcp",), entropy=4.5, anchored=True),
    _r("artifactory_reference_token", r"\bcmVmd[A-Za-z0-9]{59}\b", "high", ("cmvmd",), entropy=4.5, anchored=True),
    _r("sourcegraph_token", r"\bsgp_(?:[a-fA-F0-9]{16}|local)_[a-fA-F0-9]{40}\b|\bsgp_[a-fA-F0-9]{40}\b", "high",
       ("sgp_",), entropy=3.0, anchored=True),
    _r("sourcegraph_token", semi_generic("sourcegraph", "[a-fA-F0-9]{40}"), "high", ("sourcegraph",), entropy=3.0,
       anchored=True),
    _r("snyk_api_token", semi_generic("snyk", UUID), "high", ("snyk",), anchored=True),
    _r("sonar_token", semi_generic("sonar[_.-]?(?:login|token)?", "(?:squ_|sqp_|sqa_)?[a-z0-9=_-]{40}"), "high",
       ("sonar",), entropy=3.0, anchored=True),
    # Chat, messaging, payments, SaaS
    _r("slack_token", r"\bxox[abposre]-(?:\d{1,2}-)?(?:\d{5,16}-){1,3}[A-Za-z0-9]{8,64}(?:-[A-Za-z0-9]{1,64})?" + END,
       "critical", ("xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-", "xoxe-"), entropy=2.5, anchored=True),
    _r("slack_token", r"\bxoxe\.xox[bp]-\d-[A-Za-z0-9]{163,166}\b|\bxoxe-\d-[A-Za-z0-9]{146}\b", "critical",
       ("xoxe",), anchored=True),
    _r("slack_app_token", r"(?i)\bxapp-\d-[A-Z0-9]{9,12}-\d{10,16}-[a-f0-9]{32,80}\b", "critical", ("xapp-",),
       anchored=True),
    _r("slack_webhook_url", r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{43,56}+",
       "high", ("hooks.slack.com",), anchored=True),
    _r("discord_bot_token",  # found at its first dot; "pre" is the part before it
       r"\.(?=[\w-]{6}\.)(?<=(?<![\w-])(?P<pre>[MNOA][\w-]{23,25})\.)[\w-]{6}\.[\w-]{27,38}(?![\w-])", "high", (),
       entropy=3.5),
    _r("telegram_bot_token", r"(?<=(?<![\w:])(?P<pre>\d{8,10})):AA[\w-]{33}(?![\w-])", "high", (":aa",),
       anchored=True),
    _r("stripe_api_key", r"\b[rs]k_(?:live|test|prod)_[A-Za-z0-9]{10,99}" + END, "critical",
       ("sk_live_", "sk_test_", "sk_prod_", "rk_live_", "rk_test_", "rk_prod_"), entropy=2.0, anchored=True),
    _r("square_access_token", r"\b(?:EAAA|sq0atp-)[\w-]{22,60}" + END, "high", ("eaaa", "sq0atp-"), entropy=2.0,
       anchored=True),
    _r("square_oauth_secret", r"\bsq0csp-[\w\\-]{43}", "high", ("sq0csp-",), anchored=True),
    _r("twilio_api_key", r"\bSK[0-9a-fA-F]{32}\b", "high", (), entropy=3.0),
    _r("twilio_account_sid", r"\bAC[0-9a-fA-F]{32}\b", "low", (), entropy=3.0, score=0.6),
    _r("sendgrid_api_key", r"\bSG\.[\w-]{22}\.[\w-]{43}\b", "high", ("sg.",), entropy=3.0, anchored=True),
    _r("mailchimp_api_key", r"(?<=\b(?P<pre>[0-9a-f]{32}))-us\d{1,2}\b", "high", ("-us",), entropy=3.0,
       anchored=True),
    _r("shopify_token", r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b", "high", ("shpat_", "shpca_", "shppa_", "shpss_"),
       anchored=True),
    _r("facebook_app_secret", semi_generic("facebook", "[a-f0-9]{32}"), "high", ("facebook",), entropy=3.0,
       anchored=True),
    _r("facebook_access_token", r"(?i)(?<=\b(?P<pre>\d{15,16}))\|[0-9a-z_-]{27,40}" + END, "high", ("|",), entropy=3.0),
    _r("facebook_access_token", r"(?i)(?<=\b(?P<pre>\d{15,16}))%[0-9a-z_-]{27,40}" + END, "high", ("%",), entropy=3.0),
    _r("facebook_page_access_token", r"\bEAA[MC][A-Za-z0-9]{100,4096}+" + END, "high", ("eaam", "eaac"),
       entropy=4.0, anchored=True),
    _r("atlassian_api_token",
       semi_generic("atlassian|confluence|jira", r"[a-z0-9]{20}[a-f0-9]{4}") + r"|\bATATT3[A-Za-z0-9_\-=]{186}" + END,
       "high", ("atlassian", "confluence", "jira", "atatt3"), entropy=3.5, anchored=True),
    _r("notion_api_token", r"\bntn_\d{11}[A-Za-z0-9]{32}[A-Za-z0-9]{3}" + END, "high", ("ntn_",), entropy=4.0,
       anchored=True),
    _r("linear_api_key", r"\blin_api_[A-Za-z0-9]{40}\b", "high", ("lin_api_",), entropy=3.0, anchored=True),
    _r("postman_api_key", r"\bPMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34}\b", "high", ("pmak-",), entropy=3.0, anchored=True),
    _r("doppler_token", r"\bdp\.pt\.[A-Za-z0-9]{43}\b", "high", ("dp.pt.",), entropy=2.0, anchored=True),
    _r("pulumi_token", r"\bpul-[a-f0-9]{40}\b", "high", ("pul-",), entropy=2.0, anchored=True),
    _r("prefect_token", r"\bpnu_[A-Za-z0-9]{36}\b", "high", ("pnu_",), entropy=2.0, anchored=True),
    _r("readme_api_token", r"\brdme_[a-z0-9]{70}\b", "high", ("rdme_",), entropy=2.0, anchored=True),
    _r("sentry_token", r"\bsntrys_eyJ[A-Za-z0-9+/=]{30,1000}+_[A-Za-z0-9+/]{43}" + END, "high", ("sntrys_",),
       anchored=True),
    _r("sentry_token", r"\bsntryu_[a-f0-9]{64}" + END, "high", ("sntryu_",), entropy=3.5, anchored=True),
    _r("grafana_token", r"\bglc_[A-Za-z0-9+/]{32,400}+={0,3}" + END, "high", ("glc_",), entropy=3.0, anchored=True),
    _r("grafana_token", r"\bglsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}" + END, "high", ("glsa_",), entropy=3.0, anchored=True),
    _r("grafana_token", r"\beyJrIjoi[A-Za-z0-9]{70,400}+={0,3}" + END, "high", ("eyjrijoi",), entropy=3.0, anchored=True),
    _r("okta_token", semi_generic("(?-i:[Oo]kta|OKTA)", r"00[\w=-]{40}"), "high", ("okta",), entropy=4.0,
       anchored=True),
    _r("onepassword_secret_key",
       r"\bA3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}\b",
       "critical", ("a3-",), entropy=3.8, anchored=True),
    _r("onepassword_service_account_token", r"\bops_eyJ[A-Za-z0-9+/]{250,8192}+={0,3}", "critical", ("ops_",),
       entropy=4.0, anchored=True),
    _r("age_secret_key", r"\bAGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}\b", "critical",
       ("age-secret-key-1",), anchored=True),
    _r("hubspot_api_key", semi_generic("hubspot", UUID), "high", ("hubspot",), anchored=True),
    _r("messagebird_api_key", semi_generic("message[_-]?bird", UUID + "|[a-z0-9]{25}"), "high",
       ("messagebird", "message_bird", "message-bird"), entropy=3.0, anchored=True),
    _r("maxmind_license_key", r"(?<=\b(?P<pre>[A-Za-z0-9]{6}_[A-Za-z0-9]{29}))_mmk\b", "high", ("_mmk",),
       entropy=4.0, anchored=True),
    _r("infracost_api_token", r"\bico-[a-zA-Z0-9]{32}" + END, "high", ("ico-",), entropy=3.0, anchored=True),
    _r("intra42_client_secret", r"\bs-s4t2(?:ud|af)-[a-fA-F0-9]{64}" + END, "high", ("s-s4t2",), entropy=3.0,
       anchored=True),
    _r("openshift_user_token", r"\bsha256~[\w-]{43}" + END, "high", ("sha256~",), entropy=3.5, anchored=True),
    _r("sumologic_access_id", semi_generic("(?-i:[Ss]umo|SUMO)", "su[a-zA-Z0-9]{12}", False), "high", ("sumo",),
       entropy=3.0, anchored=True),
    _r("sumologic_access_token", semi_generic("(?-i:[Ss]umo|SUMO)", "[a-zA-Z0-9]{64}"), "high", ("sumo",),
       entropy=3.0, anchored=True),
    _r("sidekiq_secret",
       r"(?i)\bBUNDLE_(?:ENTERPRISE|GEMS)__CONTRIBSYS__COM[\s'\"]{0,3}(?:=|:)[\s'\"]{0,5}(?P<secret>[a-f0-9]{8}:[a-f0-9]{8})",
       "high", ("contribsys",)),
    _r("freemius_secret_key", r"(?i)(?<=[\"'])secret_key[\"']\s{0,8}=>\s{0,8}[\"'](?P<secret>sk_[\S]{29})[\"']", "high",
       ("secret_key",), anchored=True),
)

RULES: tuple[SecretRule, ...] = PROVIDERS + FORMATS + GENERIC

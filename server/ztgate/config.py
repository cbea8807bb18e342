"""One typed settings object, read from a YAML file and overridden by the environment.

Environment overrides use `ZTGATE__` plus the setting's path joined by `__`, e.g.
`ZTGATE__PROVIDERS__OPENAI__UPSTREAM=http://127.0.0.1:9000` or `ZTGATE__LISTEN__PORT=8081`.
Relative paths in the file are resolved against the file's own directory, so a config works from any cwd.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit

import yaml

ENV_PREFIX = "ZTGATE__"


class ConfigError(Exception):
    """The configuration cannot be used; the message names the setting."""


@dataclass(slots=True)
class Endpoint:
    host: str = "127.0.0.1"
    port: int = 8080


@dataclass(slots=True)
class ProviderConfig:
    """One upstream provider: where Envoy sends its traffic and the credential ztgate injects."""

    upstream: str = ""  # scheme://host[:port]; https gets TLS with SNI and system CAs
    credential_env: str = ""  # environment variable holding the provider key
    credential_file: str = ""  # or a file holding it (a Kubernetes Secret mount)
    enabled: bool = True

    def credential(self) -> str | None:
        """Read at call time so a rotated Secret file is picked up without restart."""
        if self.credential_file:
            try:
                return Path(self.credential_file).read_text().strip() or None
            except OSError:
                return None
        if self.credential_env:
            return os.environ.get(self.credential_env) or None
        return None

    def upstream_parts(self) -> tuple[str, str, int]:
        """(scheme, host, port) of the upstream URL."""
        parts = urlsplit(self.upstream)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"provider upstream must be http(s)://host[:port], got {self.upstream!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return parts.scheme, parts.hostname, port


def _default_providers() -> dict[str, ProviderConfig]:
    return {
        "openai": ProviderConfig("https://api.openai.com", "OPENAI_API_KEY"),
        "anthropic": ProviderConfig("https://api.anthropic.com", "ANTHROPIC_API_KEY"),
        "gemini": ProviderConfig("https://generativelanguage.googleapis.com", "GEMINI_API_KEY"),
        "azure_openai": ProviderConfig("", "AZURE_OPENAI_API_KEY", enabled=False),
    }


@dataclass(slots=True)
class ExtProcConfig:
    host: str = "127.0.0.1"
    port: int = 50051
    max_body_bytes: int = 4 * 1024 * 1024  # larger request bodies get a 413 in the provider's format
    message_timeout_ms: int = 5000  # Envoy waits this long for each ext_proc reply, then fails closed
    grace_period_s: float = 20.0  # in-flight streams get this long to finish on SIGTERM


@dataclass(slots=True)
class RemoteOpaConfig:
    """An OPA server ztgate asks over its Data API (policy.engine: remote): a sidecar or a service."""

    url: str = "http://127.0.0.1:8181"
    path: str = "ztgate/decision"  # POST /v1/data/<path>
    timeout_ms: float = 200.0  # per decision; past it the request fails closed (503)
    pool_size: int = 32  # keep-alive connections to OPA
    token_env: str = ""  # environment variable holding a bearer token, for OPA's token authentication


@dataclass(slots=True)
class PolicyConfig:
    dir: str = "rego"
    query: str = "data.ztgate.decision"
    engine: str = "embedded"  # "embedded" (regorus in-process) | "remote" (an OPA server)
    remote: RemoteOpaConfig = field(default_factory=RemoteOpaConfig)
    eval_budget_ms: float = 50.0  # a slower evaluation is treated as an engine failure: deny 503
    fail_open: bool = False  # an explicit choice; the default fails closed
    # Global shadow (dry-run) mode: every decision is computed and logged, none is enforced.
    shadow: bool = False
    # Hot reload: the policy directory is checked this often (seconds; 0 turns polling off). SIGHUP
    # reloads at once. A policy that fails to load is rejected and the running one stays.
    reload_interval_s: float = 1.0


@dataclass(slots=True)
class UsageConfig:
    """Token, request and cost accounting; the limits themselves are policy (decision.limits)."""

    enabled: bool = True
    store: str = "memory"  # "memory" (one process) | "redis" (shared by workers and replicas)
    redis_url: str = "redis://127.0.0.1:6379/0"
    fail_open: bool = False  # Redis down: false refuses requests (503); true counts locally and replays later
    default_output_reserve: int = 4096  # output tokens reserved when neither request nor policy caps them
    anomaly: bool = True  # per-identity baselines, as input.usage.anomaly


@dataclass(slots=True)
class DecisionLogConfig:
    """OPA-shaped decision logs (telemetry/decision_log.py): off by default, as in OPA."""

    sink: str = "off"  # "off" | "stdout" | "file"
    path: str = ""
    # JSON pointers into the logged record removed before writing (OPA's erase), e.g. a header.
    erase: list[str] = field(default_factory=lambda: ["/input/attributes/request/http/headers/cookie"])


@dataclass(slots=True)
class JwtConfig:
    """A JWT issuer that Envoy's jwt_authn verifies; ztgate reads the verified claims from metadata."""

    enabled: bool = False
    issuer: str = ""
    audiences: list[str] = field(default_factory=list)
    jwks_file: str = ""
    subject_claim: str = "sub"
    groups_claim: str = "groups"


@dataclass(slots=True)
class TlsConfig:
    """Downstream TLS on the listener; with client_ca set, client certificates are required (mTLS)."""

    cert_file: str = ""
    key_file: str = ""
    client_ca_file: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.cert_file and self.key_file)


@dataclass(slots=True)
class InspectConfig:
    """Content inspection. Detector settings (topics, custom PII patterns, exfil allow-list) are policy
    data (data.ztgate.config.detect), so policy authors own them; these are the process's switches."""

    enabled: bool = True
    scan_output: bool = True  # scan model output (buffered answers) for secrets, PII and exfiltration
    hash_key_env: str = "ZTGATE_REDACTION_KEY"  # HMAC key for "hash" redaction; unset: a per-process key


@dataclass(slots=True)
class TracingConfig:
    """OpenTelemetry traces (telemetry/tracing.py). The exporter itself is configured by the standard
    OTEL_* variables; setting OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT turns tracing on as well."""

    enabled: bool = False
    hash_subject: bool = False  # the identity subject as an HMAC-SHA256 digest instead of as is
    hash_key_env: str = "ZTGATE_TRACE_HASH_KEY"  # HMAC key for hash_subject; unset: a per-process key
    envoy: bool = True  # render Envoy's OpenTelemetry tracer to the same collector


@dataclass(slots=True)
class MetricsConfig:
    """Prometheus metrics on the status port's /metrics (telemetry/metrics.py). Caller-controlled label
    values are capped; past a cap they are counted as "other"."""

    enabled: bool = True
    per_identity: bool = True  # tokens and cost per caller (one series per identity: turn off for huge fleets)
    max_identities: int = 1000
    max_models: int = 200
    max_groups: int = 200


@dataclass(slots=True)
class AuditConfig:
    sink: str = "stdout"  # "stdout" | "file" | "otlp" (OTLP logs only)
    path: str = ""
    max_bytes: int = 100 * 1024 * 1024  # file sink: rotate past this size (path -> path.1 ...); 0: never
    backups: int = 5  # rotated files kept (path.1 .. path.N)
    chain: bool = False  # tamper evidence: hash-chain the lines (ztgate audit verify)
    chain_key_env: str = ""  # env var holding an HMAC key for the chain; "": unkeyed SHA-256
    otlp: bool = False  # also export every event as an OTLP log record (OTEL_EXPORTER_OTLP_* env)


@dataclass(slots=True)
class Settings:
    listen: Endpoint = field(default_factory=Endpoint)
    admin: Endpoint = field(default_factory=lambda: Endpoint(port=9901))
    # ztgate's own HTTP status endpoint (/healthz: policy revision, reload errors); port 0 turns it off.
    status: Endpoint = field(default_factory=lambda: Endpoint(port=9902))
    extproc: ExtProcConfig = field(default_factory=ExtProcConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    keys_file: str = "keys.json"
    jwt: JwtConfig = field(default_factory=JwtConfig)
    tls: TlsConfig = field(default_factory=TlsConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    tracing: TracingConfig = field(default_factory=TracingConfig)
    decision_log: DecisionLogConfig = field(default_factory=DecisionLogConfig)
    usage: UsageConfig = field(default_factory=UsageConfig)
    # The admin gRPC API (proto/ztgate/v1/admin.proto) that `ztgate usage` and friends call; port 0: off.
    control: Endpoint = field(default_factory=lambda: Endpoint(port=9903))
    # A listener of Envoy's own for readiness probes (GET /ready: 200 while Envoy serves, 503 once
    # POST /healthcheck/fail on the admin port started a drain), so the admin port stays on localhost
    # (a kubelet probes the pod IP); port 0: none. k8s/ uses it.
    envoy_ready: Endpoint = field(default_factory=lambda: Endpoint(port=0))
    inspect: InspectConfig = field(default_factory=InspectConfig)
    providers: dict[str, ProviderConfig] = field(default_factory=_default_providers)
    upstream_timeout_s: float = 600.0  # long generations and reasoning models take minutes
    # Envoy's access log (one JSON line per request, with ztgate's dynamic metadata: subject, model,
    # decision, tokens); "" turns it off. The audit log is ztgate's own and separate.
    envoy_access_log: str = "/dev/stderr"
    log_level: str = "info"
    base_dir: str = "."  # the directory relative paths are resolved against

    def path(self, value: str) -> Path:
        """Resolve a configured path against the config file's directory."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else Path(self.base_dir) / p

    def enabled_providers(self) -> dict[str, ProviderConfig]:
        return {name: p for name, p in self.providers.items() if p.enabled and p.upstream}


def load_settings(path: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None) -> Settings:
    """Read the YAML file (if any), apply environment overrides, validate."""
    env = dict(os.environ if env is None else env)
    raw: dict[str, Any] = {}
    base_dir = Path.cwd()
    if path is not None:
        file = Path(path)
        try:
            loaded = yaml.safe_load(file.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read config {file}: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"config {file} must be a mapping at the top level")
        raw = loaded
        base_dir = file.resolve().parent
    for key, value in env.items():
        if key.startswith(ENV_PREFIX):
            _set_path(raw, [p.lower() for p in key[len(ENV_PREFIX) :].split("__")], yaml.safe_load(value))
    raw.setdefault("base_dir", str(base_dir))
    settings = _build(Settings, raw, "")
    if settings.audit.sink not in ("stdout", "file", "otlp") or (settings.audit.sink == "file" and not settings.audit.path):
        raise ConfigError("audit.sink must be stdout, otlp, or file with audit.path set")
    if settings.audit.max_bytes < 0 or settings.audit.backups < (1 if settings.audit.max_bytes else 0):
        raise ConfigError("audit.max_bytes must be >= 0, and audit.backups >= 1 when max_bytes is set")
    log_sink = settings.decision_log
    if log_sink.sink not in ("off", "stdout", "file") or (log_sink.sink == "file" and not log_sink.path):
        raise ConfigError("decision_log.sink must be off, stdout, or file with decision_log.path set")
    if settings.usage.store not in ("memory", "redis"):
        raise ConfigError("usage.store must be memory or redis")
    if settings.policy.engine not in ("embedded", "remote"):
        raise ConfigError("policy.engine must be embedded or remote")
    for name, provider in settings.enabled_providers().items():
        try:
            provider.upstream_parts()
        except ConfigError as exc:
            raise ConfigError(f"providers.{name}: {exc}") from None
    return settings


def _set_path(raw: dict[str, Any], keys: list[str], value: Any) -> None:
    node = raw
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"environment override {'.'.join(keys)} collides with a non-mapping setting")
    node[keys[-1]] = value


def _build(cls: type, raw: Any, where: str) -> Any:
    """Build a dataclass from a mapping, rejecting unknown keys so typos do not pass silently."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where or 'config'} must be a mapping")
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(sorted(where + k for k in unknown))}")
    defaults = cls()
    kwargs = {}
    for name in known:
        if name not in raw:
            continue
        kwargs[name] = _coerce(hints[name], raw[name], f"{where}{name}", getattr(defaults, name))
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, where: str, default: Any) -> Any:
    if is_dataclass(hint):
        return _build(hint, value, where + ".")
    origin = get_origin(hint)
    if origin is dict:
        _, value_type = get_args(hint)
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping")
        merged = dict(default) if isinstance(default, dict) else {}
        for key, item in value.items():
            if is_dataclass(value_type):
                base = merged.get(key)
                # Partial provider overrides keep the defaults they do not mention.
                item_raw = {**_as_dict(base), **item} if base is not None and isinstance(item, dict) else item
                merged[key] = _build(value_type, item_raw, f"{where}.{key}.")
            else:
                merged[key] = item
        return merged
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list")
        return [str(v) for v in value]
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false")
        return value
    if hint in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number")
        return hint(value)
    if hint is str:
        if not isinstance(value, (str, int, float)):
            raise ConfigError(f"{where} must be a string")
        return str(value)
    return value


def _as_dict(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}

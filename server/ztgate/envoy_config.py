"""Render Envoy's bootstrap configuration from ztgate's settings.

Why rendered, not hand-written: every provider upstream, port and limit comes from one settings object,
so `ztgate up`, the tests (which point providers at a local fake) and the shipped envoy/envoy.yaml can
never disagree.

The shape, and why:
- ext_proc gets the request headers and the request body in FULL_DUPLEX_STREAMED mode: Envoy sends
  both without waiting for replies, ztgate collects the body, decides, and only then answers the
  headers (credential injected, client credential removed, route cache cleared) and sends the body
  back (rewritten or not). One round trip decides a request. Measured with Envoy 1.40: skipping the
  headers message does not work (Envoy forwards the headers upstream before the body is decided, so
  body-phase header mutations are lost), and with BUFFERED bodies Envoy holds the body until the
  headers are answered, even with send_body_without_waiting_for_header_response: two round trips.
  The request body size limit is ztgate's (max_body_bytes), enforced as chunks arrive.
- The response body is STREAMED with response headers skipped: SSE chunks pass through as they
  arrive, a JSON body costs one chunk message plus the end-of-stream message, pipelined.
- Fail closed at the routing layer too: a provider route forwards only when ztgate wrote
  `ztgate.allowed = true` into dynamic metadata and cleared the route cache; anything else matches a
  fallback route that answers with a local error, so no request reaches a provider without ztgate's
  explicit allow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .config import ProviderConfig, Settings
from .identity.credentials import KEY_QUERY_PARAM
from .envoy_tracing import OTEL_CLUSTER, SYSTEM_CA_FILE, collector_cluster, is_ip, tracer  # noqa: F401 - OTEL_CLUSTER re-exported
from .telemetry.tracing import otlp_target, tracing_enabled
from .extproc.names import DECISION_ID_HEADER, DECISION_ID_KEY, JWT_NAMESPACE, JWT_PAYLOAD_KEY, METADATA_NAMESPACE

EXTPROC_CLUSTER = "ztgate_extproc"
JWT_PROVIDER = "ztgate_jwt"
READY_PATH = "/ready"  # the readiness listener's one path (settings.envoy_ready)
# ztgate listening on every interface (e.g. in a pod, for the kubelet's gRPC probe) is dialled over loopback.
_WILDCARD_DIAL = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}

# Headers come in the headers message; only what is not a header is asked for as an attribute.
REQUEST_ATTRIBUTES = ["source.address", "request.scheme"]
# Envoy 1.40 does not send response.headers['...'] attributes while response headers are skipped, so
# ztgate tells JSON from SSE and gzip from plain by the body's first bytes.
RESPONSE_ATTRIBUTES = ["response.code"]


@dataclass(frozen=True, slots=True)
class ApiRoute:
    """One provider API path Envoy routes through ztgate."""

    provider: str
    method: str
    path: str  # exact path, or a regex when regex is True
    regex: bool = False


API_ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute("openai", "POST", "/v1/chat/completions"),
    ApiRoute("openai", "POST", "/v1/responses"),
    ApiRoute("openai", "POST", "/v1/embeddings"),
    ApiRoute("openai", "GET", "/v1/models"),
    ApiRoute("openai", "GET", r"/v1/models/[^/]+", regex=True),
    ApiRoute("anthropic", "POST", "/v1/messages"),
    ApiRoute("gemini", "POST", r"/v1(beta)?/models/[^/:]+:(generateContent|streamGenerateContent)", regex=True),
    ApiRoute("gemini", "GET", r"/v1(beta)?/models", regex=True),
    ApiRoute("azure_openai", "POST", r"/openai/deployments/[^/]+/(chat/completions|embeddings)", regex=True),
)

# Static error bodies for requests Envoy answers itself (no route, never inspected), in each
# provider's format; chosen by path prefix.
_NOT_INSPECTED = "request was not allowed by ztgate"

# Envoy's own error replies (ztgate unreachable, a body over Envoy's buffer, no route, upstream connect
# failure) in each provider's error format, chosen by path, so SDKs raise their usual exceptions.
# ztgate's own rejections are already formatted and carry `ztgate.formatted` metadata: left alone.
_LOCAL_REPLY_FORMATS: tuple[tuple[dict[str, Any] | None, dict[str, Any]], ...] = (
    (
        {"name": ":path", "string_match": {"prefix": "/v1/messages"}},
        {"type": "error", "error": {"type": "api_error", "message": "%LOCAL_REPLY_BODY%"}},
    ),
    (
        {"name": ":path", "string_match": {"safe_regex": {"regex": ".*:(generateContent|streamGenerateContent).*|/v1beta/.*"}}},
        {"error": {"code": "%RESPONSE_CODE%", "message": "%LOCAL_REPLY_BODY%", "status": "UNAVAILABLE"}},
    ),
    (
        None,
        {"error": {"message": "%LOCAL_REPLY_BODY%", "type": "gateway_error", "param": None, "code": "%RESPONSE_CODE_DETAILS%"}},
    ),
)


def _key_param_to_header() -> dict[str, Any]:
    """A credential sent as `?key=` (Google's SDKs can) moves into the x-goog-api-key header first
    thing, so it never sits in the path that Envoy's access log and trace spans record, refused
    requests included. ztgate reads the header as it read the parameter."""
    return {
        "name": "envoy.filters.http.header_mutation",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutation",
            "mutations": {
                "request_mutations": [
                    {
                        "append": {
                            "header": {"key": "x-goog-api-key", "value": f"%QUERY_PARAM({KEY_QUERY_PARAM})%"},
                            "append_action": "ADD_IF_ABSENT",
                            "keep_empty_value": False,
                        }
                    }
                ],
                "query_parameter_mutations": [{"remove": KEY_QUERY_PARAM}],
            },
        },
    }


def render(settings: Settings, *, extproc: bool = True) -> dict[str, Any]:
    """The Envoy bootstrap as a dict. extproc=False gives the Envoy-alone baseline for bench/."""
    providers = settings.enabled_providers()
    http_filters: list[dict[str, Any]] = []
    if extproc:
        http_filters.append(_key_param_to_header())
    if extproc and settings.jwt.enabled:
        http_filters.append(_jwt_filter(settings))
    if extproc:
        http_filters.append(_extproc_filter(settings))
    http_filters.append(
        {
            "name": "envoy.filters.http.router",
            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
        }
    )
    hcm: dict[str, Any] = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "ztgate",
        "codec_type": "AUTO",
        "generate_request_id": True,
        "always_set_request_id_in_response": True,
        # Envoy removes any client-supplied XFCC and sets its own, so ztgate may trust it for mTLS.
        "forward_client_cert_details": "SANITIZE_SET",
        "set_current_client_cert_details": {"subject": True, "uri": True, "dns": True},
        "stream_idle_timeout": f"{int(settings.upstream_timeout_s)}s",
        **({"access_log": [_access_log(settings.envoy_access_log)]} if settings.envoy_access_log else {}),
        "route_config": _route_config(settings, providers, extproc),
        "local_reply_config": _local_reply_config(),
        "http_filters": http_filters,
    }
    target = otlp_target() if settings.tracing.envoy and tracing_enabled(settings) else None
    if target is not None:
        hcm["tracing"] = tracer(target)
    chain: dict[str, Any] = {
        "filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]
    }
    if settings.tls.enabled:
        chain["transport_socket"] = _downstream_tls(settings)
    clusters = [_provider_cluster(name, p, settings) for name, p in providers.items()]
    if extproc:
        clusters.append(_extproc_cluster(settings))
    if target is not None:
        clusters.append(collector_cluster(target))
    buffer_limit = max(2 * settings.extproc.max_body_bytes, 1 << 20)
    listeners: list[dict[str, Any]] = [
        {
            "name": "ztgate_ingress",
            "address": {"socket_address": {"address": settings.listen.host, "port_value": settings.listen.port}},
            # Envoy's 1 MiB default would 413 large prompts before ztgate could answer in format.
            "per_connection_buffer_limit_bytes": buffer_limit,
            "filter_chains": [chain],
        }
    ]
    if settings.envoy_ready.port:
        listeners.append(_ready_listener(settings))
    return {
        "admin": {
            "address": {"socket_address": {"address": settings.admin.host, "port_value": settings.admin.port}}
        },
        "static_resources": {"listeners": listeners, "clusters": clusters},
    }


def render_yaml(settings: Settings, *, extproc: bool = True) -> str:
    header = "# Rendered by `ztgate envoy-config`; edit ztgate's config instead of this file.\n"
    return header + yaml.safe_dump(render(settings, extproc=extproc), sort_keys=False, width=120)


def write(settings: Settings, path: Path, *, extproc: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_yaml(settings, extproc=extproc))
    return path


def _extproc_filter(settings: Settings) -> dict[str, Any]:
    timeout_ms = settings.extproc.message_timeout_ms
    return {
        "name": "envoy.filters.http.ext_proc",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor",
            "grpc_service": {"envoy_grpc": {"cluster_name": EXTPROC_CLUSTER}},
            "failure_mode_allow": False,
            # ztgate unreachable or erring: fail closed with 503 (formatted by local_reply_config).
            "status_on_error": {"code": 503},
            "message_timeout": f"{timeout_ms / 1000:.3f}s",
            "max_message_timeout": f"{max(timeout_ms, 30000) / 1000:.3f}s",
            "processing_mode": {
                "request_header_mode": "SEND",
                "response_header_mode": "SKIP",
                "request_body_mode": "FULL_DUPLEX_STREAMED",
                "response_body_mode": "STREAMED",
                "request_trailer_mode": "SEND",
                "response_trailer_mode": "SKIP",
            },
            "request_attributes": REQUEST_ATTRIBUTES,
            "response_attributes": RESPONSE_ATTRIBUTES,
            "metadata_options": {
                "forwarding_namespaces": {"untyped": [JWT_NAMESPACE]},
                "receiving_namespaces": {"untyped": [METADATA_NAMESPACE]},
            },
            # ztgate rewrites :path (Gemini model rewrite, ?key= removal) and sets credential headers.
            "mutation_rules": {"allow_all_routing": True},
        },
    }


def _ready_listener(settings: Settings) -> dict[str, Any]:
    """A listener that answers only GET /ready, for probes from outside the pod (a kubelet probes the
    pod IP, and the admin interface stays on localhost). Envoy's health_check filter answers it
    without touching ztgate: 200 while Envoy serves, 503 once `POST /healthcheck/fail` on the admin
    port has started a drain. A listener accepts connections only once Envoy has initialised, as
    the admin's /ready reports LIVE; every other path gets 404."""
    router = {
        "name": "envoy.filters.http.router",
        "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
    }
    health_check = {
        "name": "envoy.filters.http.health_check",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck",
            "pass_through_mode": False,
            "headers": [{"name": ":path", "string_match": {"exact": READY_PATH}}],
        },
    }
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "ztgate_ready",
        "codec_type": "AUTO",
        "route_config": {
            "name": "ztgate_ready",
            "virtual_hosts": [
                {
                    "name": "ready",
                    "domains": ["*"],
                    "routes": [{"match": {"prefix": "/"}, "direct_response": {"status": 404}}],
                }
            ],
        },
        "http_filters": [health_check, router],
    }
    endpoint = settings.envoy_ready
    return {
        "name": "ztgate_ready",
        "address": {"socket_address": {"address": endpoint.host, "port_value": endpoint.port}},
        "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}],
    }


def _jwt_filter(settings: Settings) -> dict[str, Any]:
    jwt = settings.jwt
    provider: dict[str, Any] = {
        "issuer": jwt.issuer,
        "local_jwks": {"filename": str(settings.path(jwt.jwks_file).resolve())},
        "payload_in_metadata": JWT_PAYLOAD_KEY,
        "forward": False,
        "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}],
    }
    if jwt.audiences:
        provider["audiences"] = list(jwt.audiences)
    return {
        "name": "envoy.filters.http.jwt_authn",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
            "providers": {JWT_PROVIDER: provider},
            # Requests without a (valid) JWT continue to ztgate, which then requires an API key or mTLS;
            # only a verified JWT leaves claims in metadata, so a forged one authenticates nothing.
            "rules": [
                {
                    "match": {"prefix": "/"},
                    "requires": {
                        "requires_any": {
                            "requirements": [{"provider_name": JWT_PROVIDER}, {"allow_missing_or_failed": {}}]
                        }
                    },
                }
            ],
        },
    }


def _route_config(settings: Settings, providers: dict[str, ProviderConfig], extproc: bool) -> dict[str, Any]:
    routes: list[dict[str, Any]] = []
    for api in API_ROUTES:
        if api.provider not in providers:
            continue
        match = _path_match(api)
        match["headers"] = [{"name": ":method", "string_match": {"exact": api.method}}]
        forward = {
            "match": dict(match),
            "route": {
                "cluster": _cluster_name(api.provider),
                "timeout": f"{int(settings.upstream_timeout_s)}s",
                "host_rewrite_literal": _host_header(providers[api.provider]),
            },
        }
        if extproc:
            # ztgate may rewrite a response body (restoring pseudonyms, redacting output) after the
            # headers have gone downstream, so the length is not known in advance: send it chunked.
            forward["response_headers_to_remove"] = ["content-length"]
            # The decision's id, for the client to quote when asking why (absent metadata: no header).
            forward["response_headers_to_add"] = [
                {
                    "header": {"key": DECISION_ID_HEADER, "value": f"%DYNAMIC_METADATA({METADATA_NAMESPACE}:{DECISION_ID_KEY})%"},
                    "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                    "keep_empty_value": False,
                }
            ]
        if not extproc:
            routes.append(forward)
            continue
        forward["match"]["dynamic_metadata"] = [
            {
                "filter": METADATA_NAMESPACE,
                "path": [{"key": "allowed"}],
                "value": {"bool_match": True},
            }
        ]
        fallback: dict[str, Any] = {
            "match": dict(match),
            "direct_response": {"status": 400, "body": {"inline_string": _NOT_INSPECTED}},
        }
        routes.extend([forward, fallback])
    routes.append(
        {"match": {"prefix": "/"}, "direct_response": {"status": 404, "body": {"inline_string": "no API route for this path"}}}
    )
    return {
        "name": "ztgate_routes",
        "virtual_hosts": [{"name": "llm_apis", "domains": ["*"], "routes": routes}],
    }


def _path_match(api: ApiRoute) -> dict[str, Any]:
    if api.regex:
        return {"safe_regex": {"regex": api.path}}
    return {"path": api.path}


def _cluster_name(provider: str) -> str:
    return f"provider_{provider}"


def _host_header(provider: ProviderConfig) -> str:
    scheme, host, port = provider.upstream_parts()
    default = 443 if scheme == "https" else 80
    return host if port == default else f"{host}:{port}"


def _provider_cluster(name: str, provider: ProviderConfig, settings: Settings) -> dict[str, Any]:
    scheme, host, port = provider.upstream_parts()
    cluster: dict[str, Any] = {
        "name": _cluster_name(name),
        "type": "STRICT_DNS" if not is_ip(host) else "STATIC",
        "connect_timeout": "5s",
        "dns_lookup_family": "V4_PREFERRED",
        "per_connection_buffer_limit_bytes": max(2 * settings.extproc.max_body_bytes, 1 << 20),
        "load_assignment": {
            "cluster_name": _cluster_name(name),
            "endpoints": [
                {"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": host, "port_value": port}}}}]}
            ],
        },
    }
    if scheme == "https":
        cluster["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                "sni": host,
                "common_tls_context": {
                    "validation_context": {
                        "trusted_ca": {"filename": SYSTEM_CA_FILE},
                        "match_typed_subject_alt_names": [
                            {"san_type": "DNS", "matcher": {"exact": host}}
                        ],
                    }
                },
            },
        }
    return cluster


def _extproc_cluster(settings: Settings) -> dict[str, Any]:
    return {
        "name": EXTPROC_CLUSTER,
        "type": "STATIC",
        "connect_timeout": "1s",
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        },
        "load_assignment": {
            "cluster_name": EXTPROC_CLUSTER,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {
                            "endpoint": {
                                "address": {
                                    "socket_address": {
                                        "address": _WILDCARD_DIAL.get(settings.extproc.host, settings.extproc.host),
                                        "port_value": settings.extproc.port,
                                    }
                                }
                            }
                        }
                    ]
                }
            ],
        },
    }


def _downstream_tls(settings: Settings) -> dict[str, Any]:
    tls = settings.tls
    context: dict[str, Any] = {
        "common_tls_context": {
            "tls_certificates": [
                {
                    "certificate_chain": {"filename": str(settings.path(tls.cert_file).resolve())},
                    "private_key": {"filename": str(settings.path(tls.key_file).resolve())},
                }
            ]
        }
    }
    if tls.client_ca_file:
        context["require_client_certificate"] = True
        context["common_tls_context"]["validation_context"] = {
            "trusted_ca": {"filename": str(settings.path(tls.client_ca_file).resolve())}
        }
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
            **context,
        },
    }


# What Envoy's access log shows of each request: its own view plus what ztgate decided and counted.
_ACCESS_LOG_FORMAT = {
    "time": "%START_TIME%",
    "request_id": "%REQ(X-REQUEST-ID)%",
    "method": "%REQ(:METHOD)%",
    "path": "%PATH(NQ:ORIG_OR_PATH)%",  # without the query: it may carry a credential
    "status": "%RESPONSE_CODE%",
    "details": "%RESPONSE_CODE_DETAILS%",
    "duration_ms": "%DURATION%",
    "upstream": "%UPSTREAM_HOST%",
    "subject": "%DYNAMIC_METADATA(ztgate:subject)%",
    "provider": "%DYNAMIC_METADATA(ztgate:provider)%",
    "model": "%DYNAMIC_METADATA(ztgate:model)%",
    "decision": "%DYNAMIC_METADATA(ztgate:decision)%",
    "decision_id": "%DYNAMIC_METADATA(ztgate:decision_id)%",
    "input_tokens": "%DYNAMIC_METADATA(ztgate:input_tokens)%",
    "output_tokens": "%DYNAMIC_METADATA(ztgate:output_tokens)%",
}


def _access_log(path: str) -> dict[str, Any]:
    return {
        "name": "envoy.access_loggers.file",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
            "path": path,
            "log_format": {"json_format": _ACCESS_LOG_FORMAT},
        },
    }


def _local_reply_config() -> dict[str, Any]:
    # Matches when ztgate did not format the reply: the key is missing (or, never set by ztgate, false).
    not_from_ztgate = {
        "metadata_filter": {
            "matcher": {"filter": METADATA_NAMESPACE, "path": [{"key": "formatted"}], "value": {"bool_match": False}},
            "match_if_key_not_found": True,
        }
    }
    mappers = []
    for header, body in _LOCAL_REPLY_FORMATS:
        filters = [not_from_ztgate] + ([{"header_filter": {"header": header}}] if header else [])
        mappers.append(
            {
                "filter": {"and_filter": {"filters": filters}} if len(filters) > 1 else filters[0],
                "body_format_override": {"json_format": body, "content_type": "application/json"},
            }
        )
    return {"mappers": mappers}

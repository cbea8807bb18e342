"""The HTTP facts of a request as the policy sees them (opa-envoy-plugin's `input.attributes` shape)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class HttpInfo:
    id: str  # Envoy's x-request-id
    method: str
    path: str  # with the query string, as :path
    host: str
    scheme: str = "http"
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names; credentials already removed
    source_address: str = ""  # the downstream peer, "ip:port"
    metadata: dict[str, Any] = field(default_factory=dict)  # forwarded Envoy filter metadata, by namespace

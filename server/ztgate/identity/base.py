"""Who is calling: the one identity type every authentication method produces."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True, frozen=True)
class Identity:
    subject: str  # user or service name; a SPIFFE URI for mTLS workloads
    method: str  # "api_key" | "jwt" | "mtls"
    groups: tuple[str, ...] = ()
    key_id: str | None = None  # the API key's public id (never the key itself)
    claims: dict[str, Any] = field(default_factory=dict)  # verified JWT claims or mTLS certificate fields


class AuthError(Exception):
    """The caller presented no usable credential: 401 in the provider's format."""

    def __init__(self, message: str, code: str = "invalid_api_key") -> None:
        super().__init__(message)
        self.message = message
        self.code = code

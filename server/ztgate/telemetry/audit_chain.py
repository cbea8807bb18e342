"""The audit log's tamper-evident hash chain (audit.chain), shared by the writer (AuditLog) and the
verifier (`ztgate audit verify`, telemetry/audit_verify.py)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

# Chain fields: written by the AuditLog (HashChain), not by audit_event.
CHAIN_FIELDS = ("chain_id", "prev_hash", "hash")
GENESIS = "0" * 64  # prev_hash of a chain's first line
SHA256 = "sha256"  # hash = "sha256:<hex>": anyone can recompute it (detects corruption, naive edits)
HMAC_SHA256 = "hmac-sha256"  # hash = "hmac-sha256:<hex>": only a holder of the key can


def chain_digest(prev_hash: str, unsigned: bytes, key: bytes | None = None) -> str:
    """A line's `hash`: SHA-256 (or HMAC-SHA256 with `key`) over prev_hash + the line's bytes as
    written, without its `,"hash":"..."` member (see HashChain), as "<algorithm>:<hex>"."""
    message = prev_hash.encode("ascii") + unsigned
    if key is None:
        return f"{SHA256}:{hashlib.sha256(message).hexdigest()}"
    return f"{HMAC_SHA256}:{hmac.new(key, message, hashlib.sha256).hexdigest()}"


class HashChain:
    """One writer's hash chain: every line names its predecessor's hash, so a modified, deleted,
    reordered or inserted line breaks the chain (`ztgate audit verify`).

    A line is sealed by appending `"chain_id"` and `"prev_hash"` to the JSON object as serialised,
    hashing those exact bytes (prefixed by prev_hash), and appending `"hash"` as the last member:

        {...event...,"chain_id":"9f2c...","prev_hash":"sha256:ab12..."}      <- hashed, as bytes
        {...event...,"chain_id":"9f2c...","prev_hash":"sha256:ab12...","hash":"sha256:cd34..."}

    The verifier strips the final `,"hash":"..."` member to get back the hashed bytes, so no JSON
    canonicalisation is involved and any byte changed (whitespace included) shows.

    The chain is per writer: `chain_id` is random per AuditLog (i.e. per process run), and its first
    line has prev_hash GENESIS (64 zeros). Several processes appending to one file interleave their
    lines, each chain staying intact; the verifier follows each chain_id separately. Across a
    rotation the chain simply continues: the writer's first line in the new file carries its last
    hash in the previous one. A write that fails does not advance the chain.
    """

    __slots__ = ("chain_id", "last", "_key", "_mac", "_fields")

    def __init__(self, key: bytes | None = None, *, chain_id: str | None = None) -> None:
        self.chain_id = chain_id or secrets.token_hex(8)
        self.last = GENESIS
        self._key = key
        self._mac = hmac.new(key, digestmod=hashlib.sha256) if key is not None else None  # keyed once, copied per line
        self._fields = b'"chain_id":"' + self.chain_id.encode("ascii") + b'","prev_hash":"'

    @property
    def keyed(self) -> bool:
        return self._key is not None

    def seal(self, body: bytes) -> tuple[bytes, str]:
        """(the line with chain fields and newline, its hash); call commit(hash) once it is written."""
        head = body[:-1] + (b"," if len(body) > 2 else b"")  # body is a JSON object: "{...}"
        unsigned = head + self._fields + self.last.encode("ascii") + b'"}'
        if self._mac is None:
            digest = chain_digest(self.last, unsigned)
        else:
            mac = self._mac.copy()
            mac.update(self.last.encode("ascii") + unsigned)
            digest = f"{HMAC_SHA256}:{mac.hexdigest()}"
        return unsigned[:-1] + b',"hash":"' + digest.encode("ascii") + b'"}\n', digest

    def commit(self, digest: str) -> None:
        self.last = digest

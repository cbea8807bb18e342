"""ztgate API keys: issued by `ztgate keys create`, stored only as SHA-256 hashes, checked in O(1).

A key looks like `zt-3f9a1c2b-<secret>`: `zt-` so it is recognisable (and secret scanners can find a
leaked one), an 8-hex-digit public id that may appear in logs and audit lines, and a 256-bit secret.
The keys file never holds a key, only `sha256(key)`; the plaintext exists once, when it is created.

Keys file (JSON, mode 0600, rewritten atomically with a temp file + os.replace so the server never
reads half a file):

    {"version": 1, "keys": [{"id": "3f9a1c2b", "sha256": "<hex>", "subject": "alice",
      "groups": ["eng"], "created": "2026-01-01T00:00:00+00:00", "expires": null, "disabled": false}]}

Revoking a key sets `disabled` rather than deleting the record, so audit lines that name its id
still resolve to a subject.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import logging
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import orjson

from ztgate.identity.base import AuthError, Identity

log = logging.getLogger(__name__)

FILE_VERSION = 1
KEY_PREFIX = "zt-"
# zt-<8 lowercase hex>-<token_urlsafe secret>. The secret part may itself contain "-".
_KEY_RE = re.compile(r"zt-([0-9a-f]{8})-([A-Za-z0-9_-]{20,256})")


class KeyFileError(Exception):
    """The keys file exists but cannot be used (bad JSON, wrong version, bad record)."""


@dataclass(slots=True, frozen=True)
class KeyRecord:
    """One issued key as stored: its public id and the hash of the key, never the key."""

    id: str
    sha256: str
    subject: str
    groups: tuple[str, ...] = ()
    created: datetime | None = None
    expires: datetime | None = None
    disabled: bool = False

    def expired(self, now: datetime) -> bool:
        return self.expires is not None and now >= self.expires

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "sha256": self.sha256,
            "subject": self.subject,
            "groups": list(self.groups),
            "created": _iso(self.created),
            "expires": _iso(self.expires),
            "disabled": self.disabled,
        }

    @classmethod
    def from_json(cls, raw: object) -> KeyRecord:
        if not isinstance(raw, dict):
            raise KeyFileError("key record is not an object")
        try:
            key_id, digest, subject = raw["id"], raw["sha256"], raw["subject"]
            groups = raw.get("groups") or []
            if not (isinstance(key_id, str) and isinstance(digest, str) and isinstance(subject, str)):
                raise KeyFileError("id, sha256 and subject must be strings")
            if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
                raise KeyFileError(f"key {key_id}: groups must be a list of strings")
            return cls(
                id=key_id,
                sha256=digest.lower(),
                subject=subject,
                groups=tuple(groups),
                created=_parse_time(raw.get("created")),
                expires=_parse_time(raw.get("expires")),
                disabled=bool(raw.get("disabled", False)),
            )
        except KeyError as exc:
            raise KeyFileError(f"key record lacks {exc.args[0]!r}") from None
        except ValueError as exc:
            raise KeyFileError(f"key record has a bad timestamp: {exc}") from None


def hash_key(key: str) -> str:
    """The stored form of a key: hex SHA-256 of the whole key string (prefix and id included)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


# ---- the keys file: used by the CLI (`ztgate keys create|list|revoke`) ----


def create_key(path: Path, subject: str, groups: list[str], expires: datetime | None = None) -> str:
    """Issue a key for `subject`, store its hash, and return the plaintext (the only time it exists)."""
    if not subject.strip():
        raise ValueError("subject must not be empty")
    if expires is not None:
        expires = _as_utc(expires)
    with _locked(path):
        records = _read_records(path)
        taken = {r.id for r in records}
        key_id = secrets.token_hex(4)
        while key_id in taken:  # 2^32 ids: a clash is rare, but never issue two keys with one id
            key_id = secrets.token_hex(4)
        key = f"{KEY_PREFIX}{key_id}-{secrets.token_urlsafe(32)}"
        records.append(
            KeyRecord(
                id=key_id,
                sha256=hash_key(key),
                subject=subject,
                groups=tuple(groups),
                created=datetime.now(UTC).replace(microsecond=0),
                expires=expires,
            )
        )
        _write_records(path, records)
    return key


def list_keys(path: Path) -> list[KeyRecord]:
    """Every key record in the file (revoked and expired ones too), in issue order."""
    return _read_records(path)


def revoke_key(path: Path, key_id: str) -> bool:
    """Disable a key by its public id. False when no key has that id; True when it is now revoked."""
    with _locked(path):
        records = _read_records(path)
        for i, record in enumerate(records):
            if record.id == key_id:
                if not record.disabled:
                    records[i] = replace(record, disabled=True)
                    _write_records(path, records)
                return True
    return False


# ---- the server side ----


class KeyStore:
    """The keys file in memory, indexed by key id, for authenticating requests without I/O."""

    def __init__(self, records: list[KeyRecord] | None = None, path: Path | None = None) -> None:
        self.path = path
        self._by_id: dict[str, KeyRecord] = {r.id: r for r in records or ()}
        self._stamp: tuple[int, int, int] | None = None  # the file's identity when last read

    @classmethod
    def load(cls, path: Path) -> KeyStore:
        """Read the keys file once; a missing file is an empty store (keys can be added later)."""
        stamp = _file_stamp(path)  # taken before reading: a change during the read is seen next time
        store = cls(_read_records(path), path)
        store._stamp = stamp
        return store

    def __len__(self) -> int:
        return len(self._by_id)

    def authenticate(self, presented: str, now: datetime | None = None) -> Identity:
        """The identity a presented key belongs to; AuthError (never echoing the key) if it is unusable.

        The record is found by the key's public id (O(1), and timing reveals nothing secret); the
        secret is then checked by comparing SHA-256 digests with hmac.compare_digest.
        """
        match = _KEY_RE.fullmatch(presented)
        if match is None:
            raise AuthError("malformed API key: expected a ztgate key of the form zt-<key id>-<secret>")
        key_id = match.group(1)
        record = self._by_id.get(key_id)
        if record is None or not hmac.compare_digest(record.sha256, hash_key(presented)):
            raise AuthError(f"unknown API key (key id {key_id})")
        if record.disabled:
            raise AuthError(f"API key {key_id} has been revoked")
        if record.expired(now or datetime.now(UTC)):
            raise AuthError(f"API key {key_id} expired at {_iso(record.expires)}")
        return Identity(subject=record.subject, method="api_key", groups=record.groups, key_id=record.id)

    def reload_if_changed(self) -> bool:
        """Re-read the keys file if its inode, size or mtime changed; True when the store was replaced.

        One stat() call when nothing changed, so the server can call it about once a second. A file
        that fails to parse is logged and the keys already loaded stay in force.
        """
        if self.path is None:
            return False
        stamp = _file_stamp(self.path)
        if stamp == self._stamp:
            return False
        try:
            records = _read_records(self.path)
        except (KeyFileError, OSError) as exc:
            log.error("keys file %s not reloaded, keeping %d loaded keys: %s", self.path, len(self), exc)
            self._stamp = stamp  # do not retry (and re-log) until the file changes again
            return False
        self._by_id = {r.id: r for r in records}
        self._stamp = stamp
        log.info("keys file %s reloaded: %d keys", self.path, len(records))
        return True


# ---- helpers ----


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    # os.replace gives the file a new inode, so (inode, size, mtime_ns) changes on every rewrite
    # even when two rewrites land within the filesystem's mtime granularity.
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _read_records(path: Path) -> list[KeyRecord]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise KeyFileError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("version") != FILE_VERSION or not isinstance(doc.get("keys"), list):
        raise KeyFileError(f'{path}: expected {{"version": {FILE_VERSION}, "keys": [...]}}')
    try:
        return [KeyRecord.from_json(raw) for raw in doc["keys"]]
    except KeyFileError as exc:
        raise KeyFileError(f"{path}: {exc}") from None


def _write_records(path: Path, records: list[KeyRecord]) -> None:
    """Write the whole file to a 0600 temp file beside it, fsync, then rename over the old one."""
    data = orjson.dumps({"version": FILE_VERSION, "keys": [r.to_json() for r in records]}, option=orjson.OPT_INDENT_2)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data + b"\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise read-modify-write of the keys file between concurrent CLI runs (a sidecar lock file,
    because the keys file itself is replaced, not rewritten in place)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _as_utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _parse_time(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise KeyFileError(f"timestamp {value!r} is not an ISO 8601 string")
    return _as_utc(datetime.fromisoformat(value))


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()

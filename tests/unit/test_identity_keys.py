"""ztgate API keys: issuing, storing only hashes, authenticating, revoking, reloading."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from ztgate.identity.base import AuthError
from ztgate.identity.keys import KeyFileError, KeyStore, create_key, hash_key, list_keys, revoke_key


@pytest.fixture
def keys_path(tmp_path: Path) -> Path:
    return tmp_path / "keys.json"


def test_create_returns_well_formed_key_and_stores_only_its_hash(keys_path: Path) -> None:
    key = create_key(keys_path, "alice", ["eng", "ml"])
    prefix, key_id, secret = key[:3], key[3:11], key[12:]
    assert prefix == "zt-" and key[11] == "-"
    assert len(key_id) == 8 and all(c in "0123456789abcdef" for c in key_id)
    assert len(secret) >= 43

    raw = keys_path.read_bytes()
    assert key.encode() not in raw and secret.encode() not in raw
    doc = orjson.loads(raw)
    assert doc["version"] == 1
    [record] = doc["keys"]
    assert set(record) == {"id", "sha256", "subject", "groups", "created", "expires", "disabled"}
    assert record["id"] == key_id
    assert record["sha256"] == hash_key(key) and len(record["sha256"]) == 64
    assert record["subject"] == "alice" and record["groups"] == ["eng", "ml"]
    assert record["expires"] is None and record["disabled"] is False
    datetime.fromisoformat(record["created"])


def test_keys_file_is_private_and_no_temp_files_are_left(keys_path: Path) -> None:
    create_key(keys_path, "alice", [])
    create_key(keys_path, "bob", [])
    assert stat.S_IMODE(os.stat(keys_path).st_mode) == 0o600
    leftovers = [p.name for p in keys_path.parent.iterdir() if p.name not in ("keys.json", "keys.json.lock")]
    assert leftovers == []


def test_list_and_revoke(keys_path: Path) -> None:
    assert list_keys(keys_path) == []
    k1 = create_key(keys_path, "alice", ["eng"])
    k2 = create_key(keys_path, "svc-batch", [], expires=datetime(2030, 1, 1, tzinfo=UTC))
    records = list_keys(keys_path)
    assert [r.subject for r in records] == ["alice", "svc-batch"]
    assert records[1].expires == datetime(2030, 1, 1, tzinfo=UTC)

    assert revoke_key(keys_path, k1[3:11]) is True
    assert revoke_key(keys_path, k1[3:11]) is True  # already revoked: still "it is revoked"
    assert revoke_key(keys_path, "00000000") is False
    by_id = {r.id: r for r in list_keys(keys_path)}
    assert by_id[k1[3:11]].disabled is True
    assert by_id[k2[3:11]].disabled is False


def test_authenticate_valid_key(keys_path: Path) -> None:
    key = create_key(keys_path, "alice", ["eng"])
    identity = KeyStore.load(keys_path).authenticate(key)
    assert identity.subject == "alice"
    assert identity.method == "api_key"
    assert identity.groups == ("eng",)
    assert identity.key_id == key[3:11]


@pytest.mark.parametrize(
    "presented", ["", "sk-proj-abc", "zt-XYZ-abc", "zt-3f9a1c2b", "zt-3f9a1c2b-short", "Bearer zt-"]
)
def test_malformed_key(keys_path: Path, presented: str) -> None:
    create_key(keys_path, "alice", [])
    with pytest.raises(AuthError, match="^malformed API key") as err:
        KeyStore.load(keys_path).authenticate(presented)
    if presented:
        assert presented not in err.value.message


def test_unknown_key_and_wrong_secret(keys_path: Path) -> None:
    key = create_key(keys_path, "alice", [])
    store = KeyStore.load(keys_path)
    forged = "zt-0badc0de-" + "A" * 43
    with pytest.raises(AuthError, match="^unknown API key") as err:
        store.authenticate(forged)
    assert forged not in err.value.message and "A" * 43 not in err.value.message
    # A real id with a wrong secret is the same "unknown key", and the secret is not echoed.
    wrong = key[:12] + ("B" if key[12] != "B" else "C") + key[13:]
    with pytest.raises(AuthError, match="^unknown API key") as err:
        store.authenticate(wrong)
    assert key[12:] not in err.value.message and wrong[12:] not in err.value.message


def test_expired_key(keys_path: Path) -> None:
    expires = datetime(2026, 1, 1, tzinfo=UTC)
    key = create_key(keys_path, "alice", [], expires=expires)
    store = KeyStore.load(keys_path)
    assert store.authenticate(key, now=expires - timedelta(seconds=1)).subject == "alice"
    with pytest.raises(AuthError, match="expired") as err:
        store.authenticate(key, now=expires)
    assert key[12:] not in err.value.message


def test_naive_expiry_is_utc(keys_path: Path) -> None:
    key = create_key(keys_path, "alice", [], expires=datetime(2026, 1, 1))
    assert list_keys(keys_path)[0].expires == datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(AuthError, match="expired"):
        KeyStore.load(keys_path).authenticate(key, now=datetime(2026, 1, 2, tzinfo=UTC))


def test_revoked_key(keys_path: Path) -> None:
    key = create_key(keys_path, "alice", [])
    revoke_key(keys_path, key[3:11])
    with pytest.raises(AuthError, match="revoked") as err:
        KeyStore.load(keys_path).authenticate(key)
    assert key[12:] not in err.value.message


def test_each_failure_names_its_cause(keys_path: Path) -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    expired = create_key(keys_path, "a", [], expires=datetime(2026, 1, 1, tzinfo=UTC))
    revoked = create_key(keys_path, "b", [])
    revoke_key(keys_path, revoked[3:11])
    store = KeyStore.load(keys_path)
    cases = {"nonsense": "malformed", "zt-12345678-" + "x" * 43: "unknown", expired: "expired", revoked: "revoked"}
    for presented, cause in cases.items():
        with pytest.raises(AuthError) as err:
            store.authenticate(presented, now=now)
        others = {c for c in cases.values() if c != cause}
        assert cause in err.value.message
        assert not any(o in err.value.message for o in others), err.value.message


def test_missing_file_is_an_empty_store(tmp_path: Path) -> None:
    store = KeyStore.load(tmp_path / "absent.json")
    assert len(store) == 0
    with pytest.raises(AuthError, match="^unknown API key"):
        store.authenticate("zt-12345678-" + "x" * 43)


def test_reload_picks_up_new_and_revoked_keys(keys_path: Path) -> None:
    store = KeyStore.load(keys_path)  # no file yet
    assert store.reload_if_changed() is False
    key = create_key(keys_path, "alice", [])
    assert store.reload_if_changed() is True
    assert store.authenticate(key).subject == "alice"
    assert store.reload_if_changed() is False  # unchanged: just a stat

    revoke_key(keys_path, key[3:11])
    assert store.reload_if_changed() is True
    with pytest.raises(AuthError, match="revoked"):
        store.authenticate(key)

    keys_path.unlink()  # deleting the file withdraws every key
    assert store.reload_if_changed() is True
    assert len(store) == 0


def test_reload_keeps_old_keys_when_file_is_broken(keys_path: Path) -> None:
    key = create_key(keys_path, "alice", [])
    store = KeyStore.load(keys_path)
    keys_path.write_text("{not json")
    assert store.reload_if_changed() is False
    assert store.authenticate(key).subject == "alice"


def test_load_rejects_bad_file(keys_path: Path) -> None:
    keys_path.write_text('{"version": 2, "keys": []}')
    with pytest.raises(KeyFileError):
        KeyStore.load(keys_path)
    keys_path.write_text('{"version": 1, "keys": [{"id": "12345678"}]}')
    with pytest.raises(KeyFileError, match="sha256"):
        KeyStore.load(keys_path)


def test_empty_subject_rejected(keys_path: Path) -> None:
    with pytest.raises(ValueError):
        create_key(keys_path, "  ", [])

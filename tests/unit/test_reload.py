"""Policy hot reload: a good edit takes effect between requests, a broken one never does."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import orjson
import pytest

from ztgate.config import load_settings
from ztgate.extproc.exchange import Exchange
from ztgate.extproc.gateway import Gateway
from ztgate.identity.keys import KeyStore
from ztgate.policy.engine import bundle_signature
from ztgate.reload import PolicyReloader, build_scanner, detect_config, load_engine
from ztgate.telemetry.audit import AuditLog

POLICY = """package ztgate
import rego.v1
decision := {"allowed": data.ztgate.open, "reasons": [], "http_status": 403}
"""


def write_policy(directory: Path, *, open_: bool, revision: str, detect: dict | None = None) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "policy.rego").write_text(POLICY)
    data: dict = {"open": open_}
    if detect is not None:
        data["config"] = {"detect": detect}
    (directory / "ztgate").mkdir(exist_ok=True)
    (directory / "ztgate" / "data.json").write_bytes(orjson.dumps(data))
    (directory / ".manifest").write_bytes(orjson.dumps({"revision": revision, "roots": ["ztgate"]}))


def make_gateway(tmp_path: Path, policy_dir: Path, *, inspect: bool = False) -> Gateway:
    settings = load_settings(
        None,
        env={
            "ZTGATE__POLICY__DIR": str(policy_dir),
            "ZTGATE__POLICY__RELOAD_INTERVAL_S": "0.05",
            "ZTGATE__INSPECT__ENABLED": "true" if inspect else "false",
        },
    )
    engine = load_engine(settings)
    detect = detect_config(settings, engine)
    return Gateway(
        settings, engine, KeyStore.load(tmp_path / "keys.json"), AuditLog.open(tmp_path / "audit.jsonl"),
        build_scanner(settings, detect), detect_config=detect,
    )


async def decided(gateway: Gateway) -> bool:
    from ztgate.policy.http import HttpInfo

    http = HttpInfo(id="r", method="GET", path="/v1/models", host="h")
    evaluation = await gateway.decide(gateway.policy, http, None, None)
    return evaluation.decision.allowed


async def wait_for(condition, timeout: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_an_edit_takes_effect_without_restart_and_running_exchanges_keep_their_policy(tmp_path: Path) -> None:
    policy_dir = tmp_path / "rego"
    write_policy(policy_dir, open_=False, revision="r1")
    gateway = make_gateway(tmp_path, policy_dir)
    reloader = PolicyReloader(gateway.settings, gateway)
    reloader.start()
    try:
        running = Exchange(gateway)  # began under r1
        assert not await decided(gateway)
        write_policy(policy_dir, open_=True, revision="r2")
        await wait_for(lambda: reloader.status.revision == "r2")
        assert await decided(gateway)
        assert gateway.policy.revision == "r2" and running.policy.revision == "r1"
        assert reloader.status.reloads == 1 and reloader.status.last_error is None
    finally:
        await reloader.stop()


async def test_a_broken_edit_is_rejected_and_the_old_policy_stays(tmp_path: Path) -> None:
    policy_dir = tmp_path / "rego"
    write_policy(policy_dir, open_=True, revision="good")
    gateway = make_gateway(tmp_path, policy_dir)
    reloader = PolicyReloader(gateway.settings, gateway)
    reloader.start()
    try:
        (policy_dir / "broken.rego").write_text("package ztgate\nimport rego.v1\nnope := {\n")
        await wait_for(lambda: reloader.status.failures == 1)
        assert "broken.rego" in (reloader.status.last_error or "")
        assert gateway.policy.revision == "good" and await decided(gateway)
        # The fix is picked up, and the error clears.
        (policy_dir / "broken.rego").unlink()
        write_policy(policy_dir, open_=False, revision="fixed")
        await wait_for(lambda: reloader.status.revision == "fixed")
        assert reloader.status.last_error is None and not await decided(gateway)
    finally:
        await reloader.stop()


async def test_a_policy_that_compiles_but_gives_no_usable_decision_is_rejected(tmp_path: Path) -> None:
    policy_dir = tmp_path / "rego"
    write_policy(policy_dir, open_=True, revision="good")
    gateway = make_gateway(tmp_path, policy_dir)
    reloader = PolicyReloader(gateway.settings, gateway)
    (policy_dir / "policy.rego").write_text('package ztgate\nimport rego.v1\ndecision := "yes"\n')
    assert not await reloader.reload("test")
    assert "malformed" in (reloader.status.last_error or "")
    assert gateway.policy.revision == "good"


async def test_sighup_reloads_at_once(tmp_path: Path) -> None:
    policy_dir = tmp_path / "rego"
    write_policy(policy_dir, open_=False, revision="r1")
    gateway = make_gateway(tmp_path, policy_dir)
    gateway.settings.policy.reload_interval_s = 0  # no polling: only the signal can reload
    reloader = PolicyReloader(gateway.settings, gateway)
    reloader.start()
    try:
        write_policy(policy_dir, open_=True, revision="r2")
        os.kill(os.getpid(), signal.SIGHUP)
        await wait_for(lambda: reloader.status.revision == "r2")
    finally:
        await reloader.stop()


async def test_detectors_are_rebuilt_only_when_their_data_changes(tmp_path: Path) -> None:
    policy_dir = tmp_path / "rego"
    write_policy(policy_dir, open_=True, revision="r1", detect={"topics": {"secret_project": {"phrases": ["project zephyr"]}}})
    gateway = make_gateway(tmp_path, policy_dir, inspect=True)
    reloader = PolicyReloader(gateway.settings, gateway)
    first = gateway.policy.scanner
    write_policy(policy_dir, open_=False, revision="r2", detect={"topics": {"secret_project": {"phrases": ["project zephyr"]}}})
    assert await reloader.reload("test")
    assert gateway.policy.scanner is first
    write_policy(policy_dir, open_=False, revision="r3", detect={"topics": {"secret_project": {"phrases": ["project aurora"]}}})
    assert await reloader.reload("test")
    assert gateway.policy.scanner is not first
    assert [f.type for f in gateway.policy.scanner.scan_text("about Project Aurora", "input")] == ["secret_project"]


def test_a_configmap_symlink_swap_changes_the_signature(tmp_path: Path) -> None:
    """Kubernetes mounts a ConfigMap as symlinks into ..data, which it swaps atomically on update."""
    mount = tmp_path / "mount"
    mount.mkdir()
    for version, open_ in (("..v1", False), ("..v2", True)):
        write_policy(mount / version, open_=open_, revision=version)
    (mount / "..data").symlink_to("..v1")
    for name in ("policy.rego", "ztgate", ".manifest"):
        (mount / name).symlink_to(Path("..data") / name)
    before = bundle_signature(mount)
    assert any(path.endswith("ztgate/data.json") for path, *_ in before), "symlinked directories are followed"
    (mount / "..data.tmp").symlink_to("..v2")
    os.replace(mount / "..data.tmp", mount / "..data")
    assert bundle_signature(mount) != before
    assert load_engine(load_settings(None, env={"ZTGATE__POLICY__DIR": str(mount)})).revision == "..v2"

"""How long the shipped policy library takes to decide, load and reload (a measurement, not a test).

    .venv/bin/python bench/speed_policy.py [--rounds 5000] [--policy rego]

Decisions: real inputs built the way the gateway builds them (provider adapter -> LLMRequest ->
build_input): an allowed developer chat with tools and findings, a denied intern, an anonymous
caller, and a response-phase decision over tool calls. Each is timed through EmbeddedEngine.decide
(what the gateway awaits) with this thread's CPU time. Load: building the engine from the directory
(parse, compile for the RVM, smoke decision). Reload: PolicyReloader.reload with the detectors kept
(only Rego/data outside `detect` changed) and with the detectors rebuilt.
Targets (issue 4): decision p50 <= 0.2 ms; load and reload of the shipped library < 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "server"))

from ztgate.config import load_settings  # noqa: E402
from ztgate.extproc.gateway import Gateway  # noqa: E402
from ztgate.identity.base import Identity  # noqa: E402
from ztgate.identity.keys import KeyStore  # noqa: E402
from ztgate.policy.engine import EmbeddedEngine  # noqa: E402
from ztgate.policy.http import HttpInfo  # noqa: E402
from ztgate.policy.input import build_input, tool_call  # noqa: E402
from ztgate.providers import get_adapter, resolve_route  # noqa: E402
from ztgate.reload import PolicyReloader, build_scanner, detect_config  # noqa: E402
from ztgate.telemetry.audit import AuditLog  # noqa: E402

HTTP = HttpInfo(
    id="bench", method="POST", path="/v1/chat/completions", host="gw", headers={"content-type": "application/json", "user-agent": "openai-python/1"},
    source_address="10.1.2.3:5555",
)
BODY = {
    "model": "gpt-4o",
    "max_tokens": 512,
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Summarise the attached report and email it to the team."},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "search", "arguments": '{"q": "q3 report"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "Revenue grew 12%..."},
    ],
    "tools": [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}} for n in ("search", "send_email", "shell")],
}
FINDINGS = [
    {"detector": "pii", "type": "email", "severity": "medium", "score": 0.9, "direction": "input", "message_index": 1, "role": "user", "part": "prompt", "encoding": None},
    {"detector": "topics", "type": "legal_advice", "severity": "low", "score": 0.6, "direction": "input", "message_index": 1, "role": "user", "part": "prompt", "encoding": None},
]


def identity(subject: str, group: str) -> Identity:
    return Identity(subject=subject, method="api_key", groups=(group,), key_id="k1")


def inputs() -> dict[str, dict]:
    route = resolve_route("POST", "/v1/chat/completions")
    llm = get_adapter("openai").parse_request(route, BODY)
    calls = [tool_call("send_email", '{"to": "boss@example.com", "body": "hi"}', "response", "call_1")]
    return {
        "developer, allowed (tools, findings)": build_input(http=HTTP, identity=identity("alice", "developers"), llm=llm, findings=FINDINGS),
        "intern, denied model": build_input(http=HTTP, identity=identity("ivan", "interns"), llm=llm),
        "anonymous, 401": build_input(http=HTTP, identity=None, llm=llm),
        "response phase, tool call": build_input(http=HTTP, identity=identity("alice", "developers"), llm=llm, tool_calls=calls, phase="response"),
    }


def percentile(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


async def decisions(engine: EmbeddedEngine, rounds: int) -> None:
    print(f"{'decision':42} {'p50 ms':>8} {'p99 ms':>8}")
    for name, doc in inputs().items():
        for _ in range(200):
            await engine.decide(doc)
        times = []
        for _ in range(rounds):
            start = time.thread_time()
            await engine.decide(doc)
            times.append((time.thread_time() - start) * 1000)
        print(f"{name:42} {statistics.median(times):8.3f} {percentile(times, 0.99):8.3f}")


async def reloads(policy_dir: Path, tmp: Path) -> None:
    settings = load_settings(None, env={"ZTGATE__POLICY__DIR": str(policy_dir)})
    start = time.perf_counter()
    engine = EmbeddedEngine(policy_dir)
    load_ms = (time.perf_counter() - start) * 1000
    detect = detect_config(settings, engine)
    start = time.perf_counter()
    scanner = build_scanner(settings, detect)
    scanner_ms = (time.perf_counter() - start) * 1000
    gateway = Gateway(settings, engine, KeyStore.load(tmp / "keys.json"), AuditLog.open(tmp / "audit.jsonl"), scanner, detect_config=detect)
    reloader = PolicyReloader(settings, gateway)
    start = time.perf_counter()
    assert await reloader.reload("bench")
    kept_ms = (time.perf_counter() - start) * 1000
    gateway.policy = type(gateway.policy)(gateway.policy.engine, gateway.policy.scanner, {"changed": True})
    start = time.perf_counter()
    assert await reloader.reload("bench")
    rebuilt_ms = (time.perf_counter() - start) * 1000
    print(f"\nload (engine)              {load_ms:8.1f} ms")
    print(f"detectors built            {scanner_ms:8.1f} ms")
    print(f"reload, detectors kept     {kept_ms:8.1f} ms")
    print(f"reload, detectors rebuilt  {rebuilt_ms:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5000)
    parser.add_argument("--policy", type=Path, default=REPO / "rego")
    args = parser.parse_args()
    engine = EmbeddedEngine(args.policy)
    print(f"policy {args.policy} revision {engine.revision}; RVM compiled: {engine.compiled}\n")
    import tempfile

    async def run() -> None:
        await decisions(engine, args.rounds)
        with tempfile.TemporaryDirectory() as tmp:
            await reloads(args.policy, Path(tmp))

    asyncio.run(run())


if __name__ == "__main__":
    main()

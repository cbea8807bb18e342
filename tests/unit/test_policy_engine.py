"""The embedded regorus engine, loading the shipped rego/ library and deciding real policy inputs."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import orjson
import pytest

from ztgate.identity.base import Identity
from ztgate.policy.decision import Decision, parse_decision
from ztgate.policy.engine import EmbeddedEngine, Engine, PolicyError, load_bundle
from ztgate.policy.input import build_input
from ztgate.providers.base import LLMRequest

from policy_samples import HTTP, person, request

REGO = Path(__file__).resolve().parents[2] / "rego"



@pytest.fixture(scope="module")
def engine() -> EmbeddedEngine:
    return EmbeddedEngine(REGO)


def decide(engine: EmbeddedEngine, identity: Identity | None, llm: LLMRequest | None) -> Decision:
    return parse_decision(engine.evaluate(build_input(http=HTTP, identity=identity, llm=llm)))


def test_engine_satisfies_the_protocol(engine: EmbeddedEngine) -> None:
    assert isinstance(engine, Engine)
    assert engine.revision == orjson.loads((REGO / ".manifest").read_bytes())["revision"]


def test_developer_may_use_a_wildcard_model(engine: EmbeddedEngine) -> None:
    decision = decide(engine, person("developers"), request("gpt-4o-2024-08-06", max_tokens=4000))
    assert decision.allowed and decision.http_status == 200 and decision.reasons == []
    assert decision.max_output_tokens is None  # asked for less than the cap


def test_intern_denied_a_model_with_the_reason(engine: EmbeddedEngine) -> None:
    decision = decide(engine, person("interns"), request("gpt-4o", max_tokens=100))
    assert not decision.allowed and decision.http_status == 403
    assert decision.reasons == ['model "gpt-4o" is not allowed for groups ["interns"]']
    assert decision.message == 'model "gpt-4o" is not allowed for groups ["interns"]'


def test_unauthenticated_gets_401(engine: EmbeddedEngine) -> None:
    decision = decide(engine, None, request("gpt-4o"))
    assert not decision.allowed and decision.http_status == 401
    assert len(decision.reasons) == 1 and "not authenticated" in decision.reasons[0]


def test_tools_stripped_and_cap_written(engine: EmbeddedEngine) -> None:
    decision = decide(engine, person("analysts"), request("gpt-4o-mini", tools=["search", "shell", "browser"]))
    assert decision.allowed
    assert decision.tools_remove == ["browser", "shell"]
    assert decision.max_output_tokens == 2048  # the request said nothing, so the gateway writes the cap


def test_too_many_tokens_denied(engine: EmbeddedEngine) -> None:
    decision = decide(engine, person("interns"), request("gpt-4o-mini", max_tokens=5000))
    assert decision.reasons == ['max_tokens 5000 exceeds the cap of 1024 output tokens for groups ["interns"]']


def test_headers_phase_without_llm_is_allowed_for_known_callers(engine: EmbeddedEngine) -> None:
    assert decide(engine, person("interns"), None).allowed
    assert decide(engine, None, None).http_status == 401


def test_evaluate_from_another_thread(engine: EmbeddedEngine) -> None:
    """regorus engines are bound to their thread; EmbeddedEngine keeps one per thread."""
    results: list[object] = []
    doc = build_input(http=HTTP, identity=person("developers"), llm=request("o3-mini"))
    thread = threading.Thread(target=lambda: results.append(engine.evaluate(doc)))
    thread.start()
    thread.join()
    assert results and results[0] == engine.evaluate(doc)


def test_evaluation_is_fast(engine: EmbeddedEngine) -> None:
    """The shipped library decides in about 0.1 ms; the bound is generous for a loaded CI machine."""
    doc = build_input(http=HTTP, identity=person("developers"), llm=request("gpt-4o", tools=["search"]))
    timings = []
    for _ in range(300):
        start = time.perf_counter()
        engine.evaluate(doc)
        timings.append(time.perf_counter() - start)
    assert sorted(timings)[len(timings) // 2] < 2e-3


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


ALLOW_ALL = "package ztgate\n\ndecision := {\"allowed\": true}\n"


def test_broken_policy_raises_at_load(tmp_path: Path) -> None:
    write(tmp_path, {"p.rego": "package ztgate\n\ndecision := {\n"})
    with pytest.raises(PolicyError, match="p.rego"):
        EmbeddedEngine(tmp_path)


def test_rego_v0_syntax_is_rejected(tmp_path: Path) -> None:
    write(tmp_path, {"p.rego": "package ztgate\n\ndecision { true }\n"})
    with pytest.raises(PolicyError):
        EmbeddedEngine(tmp_path)


@pytest.mark.parametrize(
    ("files", "fragment"),
    [
        ({}, "no .rego files"),
        ({"p.rego": ALLOW_ALL, "data.json": "{not json"}, "not valid JSON"),
        ({"p.rego": ALLOW_ALL, "data.json": "[1, 2]"}, "must hold a JSON object"),
        ({"p.rego": ALLOW_ALL, ".manifest": "{"}, "not valid JSON"),
        (
            {"p.rego": ALLOW_ALL, "data.json": '{"a": {"b": 1}}', "a/data.json": '{"b": 2}'},
            "data conflict: data.a.b",
        ),
        ({"p.rego": "package other\n\nx := 1\n"}, "names no rule"),
    ],
)
def test_bad_policy_directories(tmp_path: Path, files: dict[str, str], fragment: str) -> None:
    write(tmp_path, files)
    with pytest.raises(PolicyError, match=fragment):
        EmbeddedEngine(tmp_path)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="does not exist"):
        EmbeddedEngine(tmp_path / "nope")


def test_error_during_evaluation_raises_policy_error(tmp_path: Path) -> None:
    write(tmp_path, {"p.rego": "package ztgate\n\ndecision := {\"allowed\": input.n / 0 > 1}\n"})
    engine = EmbeddedEngine(tmp_path, compiled=False)
    with pytest.raises(PolicyError, match="divide by zero") as caught:
        engine.evaluate({"n": 1})
    assert "Stack backtrace" not in str(caught.value)
    # The compiled path only sees "undefined" here; the engine asks the interpreter for the real error.
    with pytest.raises(PolicyError, match="divide by zero"):
        EmbeddedEngine(tmp_path).evaluate({"n": 1})


def test_compiled_and_interpreted_decisions_agree(engine: EmbeddedEngine) -> None:
    """The RVM decides requests; the interpreter is the reference. Same library, same answers."""
    assert engine.compiled
    interpreter = EmbeddedEngine(engine.policy_dir, compiled=False)
    cases = [
        build_input(http=HTTP, identity=person(group), llm=request(model, tools=tools))
        for group in ("developers", "analysts", "interns", "nobody")
        for model in ("gpt-4o", "gpt-4o-mini", "claude-haiku-4-5", "o3")
        for tools in ([], ["search"], ["search", "delete_files"])
    ]
    cases.append(build_input(http=HTTP, identity=None, llm=request("gpt-4o")))
    for doc in cases:
        assert engine.evaluate(doc) == interpreter.evaluate(doc), doc["identity"]


def test_undefined_decision_raises_policy_error(tmp_path: Path) -> None:
    write(tmp_path, {"p.rego": "package ztgate\n\ndecision := {\"allowed\": true} if input.ok\n"})
    engine = EmbeddedEngine(tmp_path)
    assert engine.evaluate({"ok": True}) == {"allowed": True}
    with pytest.raises(PolicyError, match="decision undefined"):
        engine.evaluate({"ok": False})


def test_unserialisable_input_raises_policy_error(tmp_path: Path) -> None:
    write(tmp_path, {"p.rego": ALLOW_ALL})
    with pytest.raises(PolicyError):
        EmbeddedEngine(tmp_path).evaluate({"x": object()})


def test_data_files_follow_bundle_layout(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "p.rego": "package ztgate\n\ndecision := {\"allowed\": true, \"data\": data.cfg}\n",
            "data.json": '{"cfg": {"root": 1}}',
            "cfg/data.json": '{"nested": {"x": 2}}',
            "cfg/nested/extra.data.json": '{"y": 3}',
            "cfg/ignored.json": '{"z": 4}',
            ".hidden/data.json": '{"cfg": {"hidden": true}}',
        },
    )
    assert EmbeddedEngine(tmp_path).evaluate({})["data"] == {"root": 1, "nested": {"x": 2, "y": 3}}


def test_sets_come_back_as_lists(tmp_path: Path) -> None:
    write(tmp_path, {"p.rego": 'package ztgate\n\ndecision := {"allowed": true, "s": {{"a": 1}, {"a": 2}}}\n'})
    assert EmbeddedEngine(tmp_path).evaluate({})["s"] == [{"a": 1}, {"a": 2}]


def test_test_files_are_not_loaded_by_the_engine(tmp_path: Path) -> None:
    write(tmp_path, {"p.rego": ALLOW_ALL, "p_test.rego": "package ztgate_test\n\nthis is not rego\n"})
    assert EmbeddedEngine(tmp_path).evaluate({}) == {"allowed": True}


def test_revision_without_manifest_hashes_contents(tmp_path: Path) -> None:
    write(tmp_path, {"p.rego": ALLOW_ALL, "data.json": '{"a": 1}'})
    first = EmbeddedEngine(tmp_path).revision
    assert len(first) == 12 and first == load_bundle(tmp_path).revision
    (tmp_path / "data.json").write_text('{"a": 2}')
    assert EmbeddedEngine(tmp_path).revision != first


def test_custom_query(tmp_path: Path) -> None:
    write(tmp_path, {"p.rego": "package acme.authz\n\nallow if input.user == \"bob\"\n"})
    engine = EmbeddedEngine(tmp_path, query="data.acme.authz.allow")
    assert engine.evaluate({"user": "bob"}) is True
    assert parse_decision(engine.evaluate({"user": "bob"})).allowed

"""`ztgate policy eval --explain`: the decision, and which rules fired to make it.

The decision is evaluated as the gateway evaluates it. Beside it, every package under the query's
package (data.ztgate for data.ztgate.decision; tests excluded) is asked for its outputs, the rules
the concern packages contribute to the decision:

- `deny`: every denial, with the package it came from and its outcome:
    "enforced"       the decision denies with its reason;
    "shadow"         reported in shadow_reasons, not enforced (a shadow rule);
    "not consulted"  the decision did not look at it: authentication failed first, or the phase
                     (a response is judged by content, topic and tool-call rules only);
  outcomes come from the decision package's own `denials` (what it considered) and `enforced`
  rules, and are left out when it defines no such rules;
- the request changes and facts: `redactions`, `remove` (tools), `max_output_tokens`, `limits`,
  `log_content`, when set (empty values are left out).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import regorus

from ztgate.policy import rego_ast
from ztgate.policy.engine import DEFAULT_QUERY, EmbeddedEngine, PolicyError, load_bundle, regorus_message

# The rules a concern package contributes to the decision, in the order they are shown.
OUTPUT_RULES = ("redactions", "remove", "max_output_tokens", "limits", "log_content")


def _eval(engine: regorus.Engine, path: str) -> Any:
    """A rule's value as JSON types; None when undefined."""
    try:
        raw = engine.eval_rule_as_json(path)
    except Exception as exc:
        raise PolicyError(f"cannot evaluate {path}: {regorus_message(exc)}") from None
    return None if raw == '"<undefined>"' else orjson.loads(raw)


def _key(denial: Any) -> bytes:
    return orjson.dumps(denial, option=orjson.OPT_SORT_KEYS)


def explain(policy_dir: Path, input_value: dict[str, Any], query: str = DEFAULT_QUERY) -> dict[str, Any]:
    """{"decision": ..., "explain": {"phase", "denials": [...], "outputs": {rule path: value}}}."""
    decision = EmbeddedEngine(policy_dir, query).evaluate(input_value)
    bundle = load_bundle(policy_dir)
    engine = bundle.build()
    engine.set_input(input_value)
    root = query.rpartition(".")[0] or query
    names = rego_ast.rule_names(rego_ast.modules(engine))

    considered: set[bytes] | None = None
    enforced: set[bytes] | None = None
    if {"denials", "enforced"} <= names.get(root, set()):
        considered = {_key(d) for d in _eval(engine, f"{root}.denials") or []}
        enforced = {_key(d) for d in _eval(engine, f"{root}.enforced") or []}

    denials: list[dict[str, Any]] = []
    outputs: dict[str, Any] = {}
    for package in sorted(names):
        if package != root and not package.startswith(root + "."):
            continue
        rules = names[package]
        if "deny" in rules:
            for denial in _eval(engine, f"{package}.deny") or []:
                entry = {"package": package, **denial} if isinstance(denial, dict) else {"package": package, "value": denial}
                if considered is not None and enforced is not None:
                    key = _key(denial)
                    entry["outcome"] = "enforced" if key in enforced else "shadow" if key in considered else "not consulted"
                denials.append(entry)
        for name in OUTPUT_RULES:
            if name in rules:
                value = _eval(engine, f"{package}.{name}")
                if value not in (None, [], {}, False):
                    outputs[f"{package}.{name}"] = value
    denials.sort(key=lambda d: (d["package"], str(d.get("rule", "")), str(d.get("reason", ""))))
    return {
        "decision": decision,
        "explain": {"phase": input_value.get("phase", "request"), "denials": denials, "outputs": outputs},
    }

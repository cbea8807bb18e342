"""Reading regorus's AST (Engine.get_ast_as_json): packages and the rules each defines.

Shared by the `ztgate policy` commands: the test runner finds `test_*` rules, `check` compiles every
rule, `eval --explain` evaluates each concern package's outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import orjson
import regorus

from ztgate.policy.engine import PolicyError, regorus_message


@dataclass(slots=True, frozen=True)
class RuleRef:
    """One rule definition: where it is and what kind of head it has."""

    package: str  # "data.ztgate.models"
    name: str  # "deny"; for `a.b.c := 1`, "a.b.c"
    kind: str  # "complete" (x := ..., x if ...), "set" (x contains ...), "object" (x[k] := ...), "function"
    file: str  # the path the module was loaded under
    line: int

    @property
    def path(self) -> str:
        return f"{self.package}.{self.name}"


def modules(engine: regorus.Engine) -> list[dict[str, Any]]:
    """The loaded modules' ASTs; PolicyError if regorus cannot give them."""
    try:
        return orjson.loads(engine.get_ast_as_json())
    except Exception as exc:
        raise PolicyError(f"cannot read the policy AST: {regorus_message(exc)}") from None


def package_name(ref: dict[str, Any]) -> str:
    """`a.b.c` from a package reference (nested RefDot nodes around a Var)."""
    if "Var" in ref:
        return str(ref["Var"]["value"])
    dot = ref["RefDot"]
    return f"{package_name(dot['refr'])}.{dot['field'][1]}"


def _static_path(ref: dict[str, Any]) -> list[str] | None:
    """The static part of a rule head's reference: `p` for `p[k]`, `a.b.c` for `a.b.c`."""
    if "Var" in ref:
        return [str(ref["Var"]["value"])]
    if "RefDot" in ref:
        base = _static_path(ref["RefDot"]["refr"])
        return None if base is None else [*base, str(ref["RefDot"]["field"][1])]
    if "RefBrack" in ref:
        return _static_path(ref["RefBrack"]["refr"])
    return None


_KINDS = {"Compr": "complete", "Set": "set", "Func": "function"}


def rules(asts: Iterable[dict[str, Any]]) -> list[RuleRef]:
    """Every rule definition (default rules included), in source order."""
    found: list[RuleRef] = []
    for module in asts:
        ast = module["ast"]
        package = "data." + package_name(ast["package"]["refr"])
        source = module.get("source")
        file = str(source.get("file", "")) if isinstance(source, dict) else ""
        for rule in ast.get("rules", []):
            if "Default" in rule:
                spec = rule["Default"]
                head, kind = spec, "complete"
            elif isinstance(rule.get("Spec"), dict):
                spec = rule["Spec"]
                (head_kind, head), = spec["head"].items()
                kind = _KINDS.get(head_kind, "complete")
                if kind == "complete" and "RefBrack" in head.get("refr", {}):
                    kind = "object"
            else:
                continue
            path = _static_path(head.get("refr", {}))
            if path:
                found.append(RuleRef(package, ".".join(path), kind, file, int(spec.get("span", {}).get("line", 0))))
    return found


def rule_names(asts: Iterable[dict[str, Any]]) -> dict[str, set[str]]:
    """package -> the names of the rules (not functions) it defines."""
    names: dict[str, set[str]] = {}
    for rule in rules(asts):
        if rule.kind != "function":
            names.setdefault(rule.package, set()).add(rule.name)
    return names

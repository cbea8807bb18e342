"""`ztgate policy check`: parse and compile a policy directory, reporting every error as file:line.

What is checked, in order (a later step runs only when the earlier ones found nothing to report in
the files it needs):

1. data files (`data.json`, `*.data.json`) and `.manifest` are valid JSON, data files merge without
   conflicts, and every package and data path lies under the manifest's `roots` (OPA refuses a
   bundle that writes outside its roots);
2. every `.rego` file parses as Rego v1 (each file on its own, so every broken file is reported);
3. every file passes regorus's analysis (unsafe or unknown variables, ...), each on its own and then
   all together;
4. every rule outside the tests compiles for regorus's RVM, which also resolves every function call
   (an unknown function is an error here, not on the first request that reaches it).

The decision rule (`--query`) compiling for the RVM is reported as a note when it does not: the
gateway then decides with the interpreter, about 4x slower.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import regorus

from ztgate.policy import rego_ast
from ztgate.policy.engine import DEFAULT_QUERY, PolicyError, bundle_files, load_bundle, regorus_message

# regorus: "--> ztgate/authn.rego:12:5\n   |\n12 | ...\n   |     ^\nerror: <message>"
_POSITION = re.compile(r"-->\s*(?P<file>[^\s:][^:\n]*):(?P<line>\d+):(?P<col>\d+)")
_MESSAGE = re.compile(r"^error:\s*(?P<message>.*)$", re.MULTILINE)
_NOT_SUPPORTED = "not supported"


@dataclass(slots=True, frozen=True, order=True)
class Problem:
    path: str  # the file, as the user named it (policy dir / relative path)
    line: int  # 0 when unknown
    column: int  # 0 when unknown
    message: str

    def __str__(self) -> str:
        if self.line:
            return f"{self.path}:{self.line}:{self.column}: {self.message}"
        return f"{self.path}: {self.message}"


@dataclass(slots=True)
class CheckResult:
    root: Path
    files: int = 0  # policy and data files checked
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def parse_regorus_error(text: str, root: Path, default_file: str) -> Problem:
    """A regorus error as a Problem: its position (`--> file:line:col`) and its `error:` line."""
    text = regorus_message(_Message(text))
    position = _POSITION.search(text)
    messages = _MESSAGE.findall(text)
    message = messages[0].strip() if messages else " ".join(text.split())
    if position is None:
        return Problem(str(root / default_file), 0, 0, message)
    return Problem(str(root / position["file"]), int(position["line"]), int(position["col"]), message)


class _Message(Exception):
    """Lets regorus_message strip a backtrace from a plain string."""


def check_policy(policy_dir: Path, query: str = DEFAULT_QUERY) -> CheckResult:
    root = Path(policy_dir)
    result = CheckResult(root)
    if not root.is_dir():
        result.problems.append(Problem(str(root), 0, 0, "not a directory"))
        return result
    policies: list[tuple[str, str]] = []
    data_files: list[Path] = []
    for path in bundle_files(root):
        rel = path.relative_to(root).as_posix()
        if path.name.endswith(".rego"):
            try:
                policies.append((rel, path.read_bytes().decode("utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                result.problems.append(Problem(str(path), 0, 0, f"cannot read: {exc}"))
        elif path.name == "data.json" or path.name.endswith(".data.json"):
            data_files.append(path)
    result.files = len(policies) + len(data_files)
    if not policies and not result.problems:
        result.problems.append(Problem(str(root), 0, 0, "no .rego files"))

    data_ok = _check_json(root, data_files, result)
    roots = _manifest_roots(root, result)
    if data_ok and not result.problems:
        try:
            load_bundle(root, include_tests=True)  # merge conflicts
        except PolicyError as exc:
            result.problems.append(Problem(str(root), 0, 0, str(exc)))
    if roots is not None:
        _check_data_roots(root, data_files, roots, result)

    parsed = _parse_each(root, policies, result)
    analysed = _analyse_each(root, [(name, text) for name, text in policies if name in parsed], result)
    if not policies or len(analysed) != len(policies):
        return _sorted(result)
    engine = _analyse_all(root, policies, result)
    if engine is None:
        return _sorted(result)
    asts = rego_ast.modules(engine)
    if roots is not None:
        _check_package_roots(root, asts, roots, result)
    _compile(root, policies, asts, query, result)
    return _sorted(result)


def _sorted(result: CheckResult) -> CheckResult:
    result.problems = sorted(set(result.problems))
    return result


def _check_json(root: Path, data_files: list[Path], result: CheckResult) -> bool:
    ok = True
    for path in data_files:
        try:
            orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            result.problems.append(Problem(str(path), exc.lineno, exc.colno, f"invalid JSON: {exc.msg}"))
            ok = False
        except OSError as exc:
            result.problems.append(Problem(str(path), 0, 0, f"cannot read: {exc}"))
            ok = False
    return ok


def _manifest_roots(root: Path, result: CheckResult) -> list[list[str]] | None:
    """The manifest's roots as path segments; None when there is no manifest or it sets none."""
    manifest = root / ".manifest"
    if not manifest.is_file():
        return None
    try:
        value = orjson.loads(manifest.read_bytes())
    except orjson.JSONDecodeError as exc:
        result.problems.append(Problem(str(manifest), exc.lineno, exc.colno, f"invalid JSON: {exc.msg}"))
        return None
    if not isinstance(value, dict):
        result.problems.append(Problem(str(manifest), 0, 0, "the manifest must be a JSON object"))
        return None
    roots = value.get("roots")
    if roots is None:
        return None
    if not isinstance(roots, list) or not all(isinstance(r, str) for r in roots):
        result.problems.append(Problem(str(manifest), 0, 0, "'roots' must be a list of strings"))
        return None
    return [[part for part in r.split("/") if part] for r in roots]


def _under(path: list[str], roots: list[list[str]]) -> bool:
    return any(path[: len(r)] == r for r in roots)


def _check_data_roots(root: Path, data_files: list[Path], roots: list[list[str]], result: CheckResult) -> None:
    for path in data_files:
        directory = list(path.relative_to(root).parts[:-1])
        try:
            value: Any = orjson.loads(path.read_bytes())
        except (orjson.JSONDecodeError, OSError):
            continue  # reported already
        keys = [[*directory, key] for key in value] if isinstance(value, dict) and not directory else [directory]
        for key in keys:
            if not _under(key, roots):
                shown = ["/".join(r) for r in roots]
                result.problems.append(Problem(str(path), 0, 0, f"data path {'/'.join(key)} is outside the manifest roots {shown}"))


def _check_package_roots(root: Path, asts: list[dict[str, Any]], roots: list[list[str]], result: CheckResult) -> None:
    for module in asts:
        package = rego_ast.package_name(module["ast"]["package"]["refr"])
        if not _under(package.split("."), roots):
            source = module.get("source") or {}
            shown = ["/".join(r) for r in roots]
            result.problems.append(
                Problem(str(root / str(source.get("file", ""))), 1, 1, f"package {package} is outside the manifest roots {shown}")
            )


def _parse_each(root: Path, policies: list[tuple[str, str]], result: CheckResult) -> list[str]:
    """Parse every file on its own: a syntax error in one must not hide another's."""
    parsed = []
    for name, text in policies:
        try:
            regorus.Engine().add_policy(name, text)
        except BaseException as exc:  # a regorus panic is a BaseException
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            result.problems.append(parse_regorus_error(str(exc), root, name))
            continue
        parsed.append(name)
    return parsed


def _analyse_each(root: Path, policies: list[tuple[str, str]], result: CheckResult) -> list[str]:
    """regorus analyses every module before its first evaluation and stops at the first error: each
    file alone, to report one error per broken file."""
    analysed = []
    for name, text in policies:
        engine = regorus.Engine()
        engine.add_policy(name, text)
        if _evaluates(engine, root, name, result):
            analysed.append(name)
    return analysed


def _analyse_all(root: Path, policies: list[tuple[str, str]], result: CheckResult) -> regorus.Engine | None:
    """All files together (what one file cannot show alone); the engine, or None on an error."""
    engine = regorus.Engine()
    for name, text in policies:
        engine.add_policy(name, text)
    return engine if _evaluates(engine, root, policies[0][0], result) else None


def _evaluates(engine: regorus.Engine, root: Path, name: str, result: CheckResult) -> bool:
    try:
        engine.eval_query("true")
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        result.problems.append(parse_regorus_error(str(exc), root, name))
        return False
    return True


def _compile(root: Path, policies: list[tuple[str, str]], asts: list[dict[str, Any]], query: str, result: CheckResult) -> None:
    """Compile every non-test rule for the RVM; compiling all at once stops at the first error, so
    on an error each rule is compiled alone to find them all."""
    modules = [(name, text) for name, text in policies if not name.endswith("_test.rego")]
    test_packages = {
        "data." + rego_ast.package_name(m["ast"]["package"]["refr"])
        for m in asts
        if str((m.get("source") or {}).get("file", "")).endswith("_test.rego")
    }
    paths = sorted({rule.path for rule in rego_ast.rules(asts) if rule.kind != "function" and rule.package not in test_packages})
    if not modules or not paths:
        return
    data = orjson.dumps(_data_or_empty(root)).decode()
    if query in paths:
        error = _compile_error(data, modules, [query])
        if error is not None and _NOT_SUPPORTED in error:
            result.notes.append(f"{query} does not compile for the RVM ({_first_line(error)}): the gateway decides with the interpreter")
        elif error is None:
            result.notes.append(f"{query} compiles for the RVM")
    elif query:
        result.notes.append(f"{query} names no rule in {root}")
    if _compile_error(data, modules, paths) is None:
        return
    for path in paths:
        error = _compile_error(data, modules, [path])
        if error is not None and _NOT_SUPPORTED not in error:
            result.problems.append(parse_regorus_error(error, root, modules[0][0]))


def _compile_error(data: str, modules: list[tuple[str, str]], paths: list[str]) -> str | None:
    try:
        regorus.Program.compile_from_modules(data, modules, paths)
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return str(exc)
    return None


def _data_or_empty(root: Path) -> dict[str, Any]:
    try:
        return load_bundle(root).data
    except PolicyError:
        return {}


def _first_line(error: str) -> str:
    messages = _MESSAGE.findall(error)
    return messages[0].strip() if messages else " ".join(error.split())[:200]


def format_check(result: CheckResult) -> str:
    """One `file:line:col: message` line per problem, notes, and a summary line."""
    lines = [str(problem) for problem in result.problems]
    lines.extend(f"note: {note}" for note in result.notes)
    count = len(result.problems)
    if count:
        lines.append(f"{count} error{'s' if count != 1 else ''} in {result.files} files")
    else:
        lines.append(f"{result.files} files checked, no errors")
    return "\n".join(lines)

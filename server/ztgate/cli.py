"""The `ztgate` command: serve, up, envoy-config, keys, policy."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Coroutine
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import orjson

from .config import ConfigError, Settings, load_settings
from .policy.engine import PolicyError

DEFAULT_CONFIG = "ztgate.yaml"
T = TypeVar("T")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"ztgate: configuration error: {exc}", file=sys.stderr)
        return 2
    except PolicyError as exc:
        print(f"ztgate: policy error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ztgate", description="Zero Trust policy server for LLM traffic")
    parser.add_argument("-c", "--config", help=f"config file (default: $ZTGATE_CONFIG or ./{DEFAULT_CONFIG} if present)")
    sub = parser.add_subparsers()

    p = sub.add_parser("serve", help="run the ext_proc gRPC server (Envoy runs elsewhere)")
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("up", help="run Envoy and the ext_proc server together")
    p.add_argument("--run-dir", type=Path, help="where to write the rendered Envoy config (default: a temp dir)")
    p.add_argument("--envoy-log-level", default="warning")
    p.set_defaults(func=_cmd_up)

    p = sub.add_parser("envoy-config", help="print (or write) the Envoy config rendered from ztgate's config")
    p.add_argument("-o", "--output", type=Path)
    p.add_argument("--no-extproc", action="store_true", help="the Envoy-alone baseline (benchmarks)")
    p.set_defaults(func=_cmd_envoy_config)

    keys = sub.add_parser("keys", help="manage ztgate API keys").add_subparsers()
    p = keys.add_parser("create", help="create a key; prints it once, stores only its hash")
    p.add_argument("--subject", required=True)
    p.add_argument("--group", action="append", default=[], dest="groups")
    p.add_argument("--expires", help="ISO 8601 date or time, e.g. 2027-01-31")
    p.set_defaults(func=_cmd_keys_create)
    p = keys.add_parser("list", help="list keys (ids, subjects, groups; never the keys)")
    p.set_defaults(func=_cmd_keys_list)
    p = keys.add_parser("revoke", help="disable a key by id")
    p.add_argument("key_id")
    p.set_defaults(func=_cmd_keys_revoke)

    policy = sub.add_parser("policy", help="test, check and evaluate Rego policy").add_subparsers()
    p = policy.add_parser("test", help="run every test_* rule under DIR (default: policy.dir of the config)")
    p.add_argument("dir", nargs="?", type=Path)
    p.add_argument("--coverage", action="store_true", help="also report the policy lines no test evaluated")
    p.add_argument("--run", metavar="TEXT", help="only tests whose data path contains TEXT")
    p.add_argument("-q", "--quiet", action="store_true", help="print failures and the summary only")
    p.set_defaults(func=_cmd_policy_test)
    p = policy.add_parser("check", help="parse and compile the policy under DIR, errors as file:line:col: message")
    p.add_argument("dir", nargs="?", type=Path)
    p.add_argument("--query", help="the decision rule (default: data.ztgate.decision)")
    p.set_defaults(func=_cmd_policy_check)
    p = policy.add_parser("eval", help="print the decision for an input document")
    p.add_argument("--input", required=True, type=Path, help="a policy input document (JSON)")
    p.add_argument("--data", "--dir", dest="dir", type=Path, help="the policy directory (default: policy.dir of the config)")
    p.add_argument("--query", help="the rule to evaluate (default: data.ztgate.decision)")
    p.add_argument("--explain", action="store_true", help="also show which rules fired: denials per package and their outcome, request changes")
    p.set_defaults(func=_cmd_policy_eval)

    from .admin_cli import add_admin_parsers
    from .detect.scan_cli import add_scan_parser
    from .telemetry.audit_verify import add_audit_parser

    add_scan_parser(sub)  # `ztgate scan`: the gateway's detectors over texts
    add_audit_parser(sub)  # `ztgate audit verify`: audit lines parse and their hash chain holds
    add_admin_parsers(sub, policy, _settings)  # `ztgate usage`, `ztgate status`, `ztgate policy reload`
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    import os

    path = args.config or os.environ.get("ZTGATE_CONFIG")
    if path is None and Path(DEFAULT_CONFIG).exists():
        path = DEFAULT_CONFIG
    return load_settings(path)


def _logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop: cheaper per gRPC message than the default event loop."""
    import uvloop

    return uvloop.run(coro)


def _cmd_serve(args: argparse.Namespace) -> int:
    from .server import serve

    settings = _settings(args)
    _logging(settings)
    run_async(serve(settings))
    return 0


def _cmd_up(args: argparse.Namespace) -> int:
    from .up import run_up

    settings = _settings(args)
    _logging(settings)
    return run_async(run_up(settings, run_dir=args.run_dir, envoy_log_level=args.envoy_log_level))


def _cmd_envoy_config(args: argparse.Namespace) -> int:
    from . import envoy_config

    settings = _settings(args)
    if args.output:
        envoy_config.write(settings, args.output, extproc=not args.no_extproc)
    else:
        sys.stdout.write(envoy_config.render_yaml(settings, extproc=not args.no_extproc))
    return 0


def _cmd_keys_create(args: argparse.Namespace) -> int:
    from .identity.keys import create_key

    settings = _settings(args)
    expires = None
    if args.expires:
        expires = datetime.fromisoformat(args.expires)
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=timezone.utc)
    key = create_key(settings.path(settings.keys_file), args.subject, args.groups, expires)
    print(key)
    print(f"(stored only as a hash in {settings.path(settings.keys_file)}; this is the only time it is shown)", file=sys.stderr)
    return 0


def _cmd_keys_list(args: argparse.Namespace) -> int:
    from .identity.keys import list_keys

    settings = _settings(args)
    for record in list_keys(settings.path(settings.keys_file)):
        groups = ",".join(record.groups) or "-"
        state = "disabled" if record.disabled else "active"
        print(f"{record.id}\t{record.subject}\t{groups}\t{state}\texpires={record.expires or 'never'}")
    return 0


def _cmd_keys_revoke(args: argparse.Namespace) -> int:
    from .identity.keys import revoke_key

    settings = _settings(args)
    if not revoke_key(settings.path(settings.keys_file), args.key_id):
        print(f"ztgate: no key with id {args.key_id}", file=sys.stderr)
        return 1
    return 0


def _policy_dir(args: argparse.Namespace, given: Path | None) -> Path:
    if given is not None:
        return given
    settings = _settings(args)
    return settings.path(settings.policy.dir)


def _cmd_policy_test(args: argparse.Namespace) -> int:
    from .policy.testing import format_results, run_tests, run_tests_with_coverage

    directory = _policy_dir(args, args.dir)
    if args.coverage:
        from .policy.coverage import format_coverage

        results, coverage = run_tests_with_coverage(directory, match=args.run)
    else:
        results, coverage = run_tests(directory, match=args.run), None
    print(format_results(results, verbose=not args.quiet))
    if coverage is not None:
        print(format_coverage(coverage))
    return 0 if results and all(r.passed for r in results) else 1


def _cmd_policy_check(args: argparse.Namespace) -> int:
    from .policy.check import check_policy, format_check

    result = check_policy(_policy_dir(args, args.dir), args.query or "data.ztgate.decision")
    print(format_check(result))
    return 0 if result.ok else 1


def _cmd_policy_eval(args: argparse.Namespace) -> int:
    from .policy.testing import evaluate_file, read_input

    directory = _policy_dir(args, args.dir)
    query = args.query or "data.ztgate.decision"
    if args.explain:
        from .policy.explain import explain

        result = explain(directory, read_input(args.input), query)
    else:
        result = evaluate_file(directory, args.input, query)
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

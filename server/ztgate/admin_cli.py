"""`ztgate usage`, `ztgate status` and `ztgate policy reload`: clients of a running ztgate's admin API."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import grpc
import orjson
from google.protobuf import json_format

from .config import Settings
from .v1 import admin_pb2 as pb
from .v1 import admin_pb2_grpc as pb_grpc

TIMEOUT_S = 10.0


def add_admin_parsers(sub: Any, policy: Any, settings: Any) -> None:
    """`settings` turns the parsed arguments into Settings (cli._settings): where the admin API listens."""
    p = sub.add_parser("usage", help="tokens, requests and cost per identity, group, model or provider (asks the running ztgate)")
    p.add_argument("--since", default="", help="first day, YYYY-MM-DD (UTC); default: today")
    p.add_argument("--until", default="", help="last day, inclusive; default: --since")
    p.add_argument("--by", default="identity", choices=("identity", "group", "model", "provider"))
    p.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    p.set_defaults(func=lambda args: _usage(args, settings(args)))
    p = sub.add_parser("status", help="the running ztgate's policy revision, reload errors and usage store")
    p.set_defaults(func=lambda args: _status(settings(args)))
    p = policy.add_parser("reload", help="reload the running ztgate's policy now (as SIGHUP does)")
    p.set_defaults(func=lambda args: _reload(settings(args)))


def _stub(settings: Settings) -> tuple[grpc.Channel, pb_grpc.AdminStub]:
    if not settings.control.port:
        raise SystemExit("ztgate: the admin API is off (control.port: 0)")
    channel = grpc.insecure_channel(f"{settings.control.host}:{settings.control.port}")
    return channel, pb_grpc.AdminStub(channel)


def _call(settings: Settings, method: str, request: Any) -> Any:
    channel, stub = _stub(settings)
    with channel:
        try:
            return getattr(stub, method)(request, timeout=TIMEOUT_S)
        except grpc.RpcError as exc:
            where = f"{settings.control.host}:{settings.control.port}"
            if exc.code() == grpc.StatusCode.UNAVAILABLE:
                print(f"ztgate: no ztgate answers at {where} (is it running? control in the config)", file=sys.stderr)
            else:
                print(f"ztgate: {exc.details()}", file=sys.stderr)
            raise SystemExit(2) from None


def _usage(args: argparse.Namespace, settings: Settings) -> int:
    report = _call(settings, "GetUsage", pb.UsageRequest(since=args.since, until=args.until, by=args.by))
    if args.json:  # numbers as numbers (proto3 JSON would write 64-bit counts as strings)
        rows = [
            {
                "key": r.key,
                "requests": r.requests,
                "input_tokens": r.input_tokens,
                "output_tokens": r.output_tokens,
                "cached_input_tokens": r.cached_input_tokens,
                "cost_usd": r.cost_usd,
            }
            for r in report.rows
        ]
        print(orjson.dumps({"since": report.since, "until": report.until, "by": report.by, "rows": rows}).decode())
        return 0
    print(f"usage by {report.by}, {report.since} .. {report.until} (UTC days)")
    header = ("key", "requests", "input tokens", "output tokens", "cached", "cost USD")
    rows = [(r.key, f"{r.requests:,}", f"{r.input_tokens:,}", f"{r.output_tokens:,}", f"{r.cached_input_tokens:,}", f"{r.cost_usd:.4f}") for r in report.rows]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    for i, row in enumerate([header, *rows]):
        print("  ".join(cell.ljust(w) if j == 0 else cell.rjust(w) for j, (cell, w) in enumerate(zip(row, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    if not rows:
        print("(no exchanges)")
    return 0


def _status(settings: Settings) -> int:
    reply = _call(settings, "GetStatus", pb.StatusRequest())
    print(orjson.dumps(json_format.MessageToDict(reply, preserving_proto_field_name=True, always_print_fields_with_no_presence=True), option=orjson.OPT_INDENT_2).decode())
    return 0


def _reload(settings: Settings) -> int:
    reply = _call(settings, "ReloadPolicy", pb.ReloadPolicyRequest())
    if reply.reloaded:
        print(f"policy reloaded: revision {reply.revision}")
        return 0
    print(f"ztgate: the new policy was rejected, revision {reply.revision} stays in force: {reply.error}", file=sys.stderr)
    return 1

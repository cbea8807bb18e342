"""The admin gRPC API (proto/ztgate/v1/admin.proto): what `ztgate usage`, `ztgate policy reload`
and `ztgate status` ask a running ztgate. It listens on its own localhost port (settings.control),
apart from the ext_proc port Envoy reaches, so a workload that can reach ext_proc cannot read usage
reports or trigger reloads."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc

from .extproc.gateway import Gateway
from .reload import PolicyReloader
from .v1 import admin_pb2 as pb
from .v1 import admin_pb2_grpc as pb_grpc

BY = ("identity", "group", "model", "provider")


class AdminServicer(pb_grpc.AdminServicer):
    def __init__(self, gateway: Gateway, reloader: PolicyReloader) -> None:
        self._gateway = gateway
        self._reloader = reloader

    async def GetUsage(self, request: pb.UsageRequest, context: grpc.aio.ServicerContext) -> pb.UsageReport:  # noqa: N802
        accountant = self._gateway.accountant
        if accountant is None:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "usage accounting is off (usage.enabled: false)")
        by = request.by or "identity"
        if by not in BY:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"by must be one of {', '.join(BY)}")
        since = request.since or datetime.now(UTC).strftime("%Y-%m-%d")
        until = request.until or since
        for day in (since, until):
            try:
                datetime.strptime(day, "%Y-%m-%d")
            except ValueError:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{day!r} is not a day (YYYY-MM-DD)")
        if until < since:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "until is before since")
        rows = await accountant.store.report(since, until, by)
        return pb.UsageReport(
            since=since,
            until=until,
            by=by,
            rows=[
                pb.UsageRow(
                    key=str(row["key"]),
                    requests=int(row["requests"]),
                    input_tokens=int(row["input_tokens"]),
                    output_tokens=int(row["output_tokens"]),
                    cached_input_tokens=int(row["cached_input_tokens"]),
                    cost_usd=float(row["cost_usd"]),
                )
                for row in rows
            ],
        )

    async def ReloadPolicy(self, request: pb.ReloadPolicyRequest, context: grpc.aio.ServicerContext) -> pb.ReloadPolicyReply:  # noqa: N802
        reloaded = await self._reloader.reload("admin API")
        status = self._reloader.status
        return pb.ReloadPolicyReply(reloaded=reloaded, revision=status.revision, error=status.last_error or "")

    async def GetStatus(self, request: pb.StatusRequest, context: grpc.aio.ServicerContext) -> pb.StatusReply:  # noqa: N802
        status = self._reloader.status
        reply = pb.StatusReply(
            policy_revision=status.revision,
            policy_engine=self._gateway.settings.policy.engine,
            last_reload_error=status.last_error or "",
            reload_failures=status.failures,
        )
        accountant = self._gateway.accountant
        if accountant is not None:
            store = accountant.store.status
            reply.usage_store = str(store.get("backend", ""))
            reply.usage_store_available = bool(store.get("available", True))
            reply.usage_queued = int(store.get("queued", 0))
        return reply


async def start_admin_server(host: str, port: int, gateway: Gateway, reloader: PolicyReloader) -> grpc.aio.Server:
    server = grpc.aio.server()
    pb_grpc.add_AdminServicer_to_server(AdminServicer(gateway, reloader), server)
    address = f"{host}:{port}"
    if server.add_insecure_port(address) == 0:
        raise OSError(f"cannot listen on {address} (control)")
    await server.start()
    return server

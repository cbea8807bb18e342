#!/usr/bin/env python3
"""The do-nothing ext_proc baseline for bench/run.py.

A grpc.aio ExternalProcessor that does the least the Envoy configuration ztgate renders allows:
- the request body is FULL_DUPLEX_STREAMED: the headers are held until the body has arrived, then
  answered with dynamic metadata `{"ztgate": {"allowed": true}}` and `clear_route_cache` (so the
  provider route matches), and the collected body is sent back unchanged (in full duplex mode the
  upstream receives only what the processor sends back);
- a request without a body is allowed in the headers reply;
- every other message gets the matching empty response.

It uses the same gRPC API style as ztgate's servicer (an async generator over the request iterator)
so that the difference between the two is ztgate's own work, not the gRPC plumbing. Every response
object is built once at import time.

    python bench/noop_extproc.py --port 50061     # prints "READY 127.0.0.1:50061" when listening
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import AsyncIterator

import grpc
import uvloop
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as pb_grpc
from google.protobuf import struct_pb2

METADATA_NAMESPACE = "ztgate"  # ztgate.extproc.names.METADATA_NAMESPACE; not imported to stay standalone


def _allowed_metadata() -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update({METADATA_NAMESPACE: {"allowed": True}})
    return struct


def _allow(kind: str) -> pb.ProcessingResponse:
    """The reply that lets the provider route match: metadata + clear_route_cache.

    Envoy (1.40) honours clear_route_cache only when the response carries a header mutation ("NOT
    clearing route cache. No header mutation in the response"), so an empty one is attached: present,
    mutating nothing.
    """
    response = pb.ProcessingResponse(dynamic_metadata=_allowed_metadata())
    common = getattr(response, kind).response
    common.clear_route_cache = True
    common.header_mutation.SetInParent()
    return response


_EMPTY = {
    "request_headers": pb.ProcessingResponse(request_headers=pb.HeadersResponse()),
    "response_headers": pb.ProcessingResponse(response_headers=pb.HeadersResponse()),
    "request_body": pb.ProcessingResponse(request_body=pb.BodyResponse()),
    "response_body": pb.ProcessingResponse(response_body=pb.BodyResponse()),
    "request_trailers": pb.ProcessingResponse(request_trailers=pb.TrailersResponse()),
    "response_trailers": pb.ProcessingResponse(response_trailers=pb.TrailersResponse()),
}
_ALLOW_HEADERS = _allow("request_headers")


def _body_back(body: bytes) -> pb.ProcessingResponse:
    response = pb.ProcessingResponse()
    streamed = response.request_body.response.body_mutation.streamed_response
    streamed.body = body
    streamed.end_of_stream = True
    return response


class NoopProcessor(pb_grpc.ExternalProcessorServicer):
    async def Process(  # noqa: N802 - the gRPC method name
        self, request_iterator: AsyncIterator[pb.ProcessingRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.ProcessingResponse]:
        chunks: list[bytes] = []
        async for request in request_iterator:
            kind = request.WhichOneof("request")
            if kind == "request_body":
                chunks.append(request.request_body.body)
                if request.request_body.end_of_stream:
                    yield _ALLOW_HEADERS
                    yield _body_back(b"".join(chunks))
            elif kind == "request_headers":
                if request.request_headers.end_of_stream:
                    yield _ALLOW_HEADERS
            else:
                yield _EMPTY[kind]


async def serve(host: str, port: int) -> None:
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    pb_grpc.add_ExternalProcessorServicer_to_server(NoopProcessor(), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot listen on {host}:{port}")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"READY {host}:{bound}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="do-nothing Envoy ext_proc server (benchmark baseline)")
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port (printed in the READY line)")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    uvloop.run(serve(args.host, args.port))  # the same event loop as `ztgate serve`: only ztgate's work differs
    return 0


if __name__ == "__main__":
    sys.exit(main())

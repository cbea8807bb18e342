"""The Envoy edge: the only module that speaks ext_proc protobuf.

It reads each ProcessingRequest into plain values, hands them to the Exchange for this stream, and turns
the Exchange's Continue/Reject back into ProcessingResponse messages.
"""

from __future__ import annotations

import logging
from typing import Any, AsyncIterator

import grpc
from envoy.config.core.v3 import base_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as pb_grpc
from envoy.type.v3 import http_status_pb2
from google.protobuf import json_format, struct_pb2

from ..envoy_config import METADATA_NAMESPACE
from .actions import PASS, Action, Continue, Reject
from .exchange import Exchange, Gateway

log = logging.getLogger("ztgate.extproc")

_EXTPROC_FILTER = "envoy.filters.http.ext_proc"


class ExtProcServicer(pb_grpc.ExternalProcessorServicer):
    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    async def Process(  # noqa: N802 - the gRPC method name
        self, request_iterator: AsyncIterator[pb.ProcessingRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.ProcessingResponse]:
        exchange = Exchange(self._gateway, trace_context=_trace_context(context))
        try:
            async for request in request_iterator:
                kind = request.WhichOneof("request")
                if kind is None:  # nothing to answer; Envoy never sends this
                    continue
                if request.attributes:
                    exchange.add_attributes(_attributes(request))
                if kind == "request_body":
                    if request.HasField("metadata_context"):
                        exchange.add_metadata(_metadata(request.metadata_context))
                    body = request.request_body
                    action = exchange.on_request_body(body.body, body.end_of_stream)
                elif kind == "response_body":
                    body = request.response_body
                    action = exchange.on_response_body(body.body, body.end_of_stream)
                elif kind == "request_headers":
                    if request.HasField("metadata_context"):
                        exchange.add_metadata(_metadata(request.metadata_context))
                    exchange.add_headers(_headers(request.request_headers.headers))
                    action = exchange.on_request_headers(request.request_headers.end_of_stream)
                elif kind == "response_headers":
                    exchange.add_response_headers(_headers(request.response_headers.headers))
                    action = exchange.on_response_headers()
                else:  # trailers: processing mode never asks for them; let them pass
                    action = PASS
                yield _to_proto(kind, action)
                if isinstance(action, Reject):
                    break
        finally:
            # Runs on normal end, on a client disconnect (Envoy cancels the stream) and on errors.
            exchange.finish()


def _trace_context(context: grpc.aio.ServicerContext) -> dict[str, str]:
    metadata = context.invocation_metadata() or ()
    return {k: v for k, v in metadata if k in ("traceparent", "tracestate") and isinstance(v, str)}


def _attributes(request: pb.ProcessingRequest) -> dict[str, Any]:
    attrs = request.attributes.get(_EXTPROC_FILTER)
    if attrs is None:
        return {}
    # Attribute values are scalars; read them directly rather than via MessageToDict (hot path).
    out: dict[str, Any] = {}
    for key, value in attrs.fields.items():
        which = value.WhichOneof("kind")
        if which == "string_value":
            out[key] = value.string_value
        elif which == "number_value":
            out[key] = value.number_value
        elif which == "bool_value":
            out[key] = value.bool_value
        elif which in ("struct_value", "list_value"):
            out[key] = json_format.MessageToDict(getattr(value, which))
    return out


def _metadata(metadata: base_pb2.Metadata) -> dict[str, Any]:
    return {ns: json_format.MessageToDict(struct) for ns, struct in metadata.filter_metadata.items()}


def _headers(header_map: base_pb2.HeaderMap) -> dict[str, str]:
    return {h.key: (h.raw_value.decode("utf-8", "replace") if h.raw_value else h.value) for h in header_map.headers}


def _header_mutation(set_headers: dict[str, str], remove: list[str]) -> pb.HeaderMutation:
    return pb.HeaderMutation(
        set_headers=[
            base_pb2.HeaderValueOption(
                header=base_pb2.HeaderValue(key=k, raw_value=v.encode()),
                append_action=base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD,
            )
            for k, v in set_headers.items()
        ],
        remove_headers=remove,
    )


def _dynamic_metadata(values: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update({METADATA_NAMESPACE: values})
    return struct


_PASS_BY_KIND = {
    "request_headers": pb.ProcessingResponse(request_headers=pb.HeadersResponse()),
    "response_headers": pb.ProcessingResponse(response_headers=pb.HeadersResponse()),
    "request_body": pb.ProcessingResponse(request_body=pb.BodyResponse()),
    "response_body": pb.ProcessingResponse(response_body=pb.BodyResponse()),
    "request_trailers": pb.ProcessingResponse(request_trailers=pb.TrailersResponse()),
    "response_trailers": pb.ProcessingResponse(response_trailers=pb.TrailersResponse()),
}


def _to_proto(kind: str | None, action: Action) -> pb.ProcessingResponse:
    if isinstance(action, Reject):
        response = pb.ProcessingResponse(
            immediate_response=pb.ImmediateResponse(
                status=http_status_pb2.HttpStatus(code=action.status),
                headers=_header_mutation(action.headers, []),
                body=action.body,
                details=action.details,
            )
        )
        if action.metadata:
            response.dynamic_metadata.CopyFrom(_dynamic_metadata(action.metadata))
        return response
    if (action is PASS or kind not in _MUTABLE) and kind in _PASS_BY_KIND:
        return _PASS_BY_KIND[kind]
    return _continue(kind, action)


_MUTABLE = ("request_headers", "response_headers", "request_body", "response_body")


def _continue(kind: str, action: Continue) -> pb.ProcessingResponse:
    common = pb.CommonResponse(clear_route_cache=action.clear_route_cache)
    if action.set_headers or action.remove_headers:
        common.header_mutation.CopyFrom(_header_mutation(action.set_headers, action.remove_headers))
    if action.body is not None:
        common.body_mutation.body = action.body
    response = pb.ProcessingResponse()
    getattr(response, kind).response.CopyFrom(common)
    if action.metadata:
        response.dynamic_metadata.CopyFrom(_dynamic_metadata(action.metadata))
    return response

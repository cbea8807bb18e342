"""The Envoy edge: the only module that speaks ext_proc protobuf.

It reads each ProcessingRequest into plain values, hands them to the Exchange for this stream, and turns
the Exchange's Continue/Reject back into ProcessingResponse messages.
"""

from __future__ import annotations

import logging
from typing import Any, AsyncIterator

import grpc
from envoy.config.core.v3 import base_pb2
from envoy.extensions.filters.http.ext_proc.v3 import processing_mode_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as pb_grpc
from envoy.type.v3 import http_status_pb2
from google.protobuf import json_format, struct_pb2

from .names import METADATA_NAMESPACE
from .actions import PASS, Action, Continue, Reject
from .exchange import Exchange, Gateway

log = logging.getLogger("ztgate.extproc")

_EXTPROC_FILTER = "envoy.filters.http.ext_proc"


class ExtProcServicer(pb_grpc.ExternalProcessorServicer):
    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self.in_flight = 0  # ext_proc streams (exchanges) in progress, for metrics

    async def Process(  # noqa: N802 - the gRPC method name
        self, request_iterator: AsyncIterator[pb.ProcessingRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.ProcessingResponse]:
        exchange = Exchange(self._gateway, trace_context=_trace_context(context))
        self.in_flight += 1
        # FULL_DUPLEX_STREAMED request bodies (what envoy_config renders): Envoy sends headers and body
        # chunks without waiting, and ztgate answers the headers only once the body has decided, so
        # one round trip decides a request. BUFFERED also works: headers are answered at once.
        full_duplex = False
        try:
            async for request in request_iterator:
                kind = request.WhichOneof("request")
                if kind is None:  # nothing to answer; Envoy never sends this
                    continue
                if request.HasField("protocol_config"):
                    full_duplex = request.protocol_config.request_body_mode == _FULL_DUPLEX
                if request.attributes:
                    exchange.add_attributes(_attributes(request))
                if kind in _REQUEST_PHASES and request.metadata_context.filter_metadata:
                    exchange.add_metadata(_metadata(request.metadata_context))
                if kind == "request_headers":
                    exchange.add_headers(_headers(request.request_headers.headers))
                    action = await exchange.on_request_headers(request.request_headers.end_of_stream)
                    if action is None:
                        if full_duplex:
                            continue  # held until the body decides
                        action = PASS
                elif kind == "request_body":
                    body = request.request_body
                    action = await exchange.on_request_body(body.body, body.end_of_stream)
                    if action is None:
                        continue
                    if full_duplex and isinstance(action, Continue):
                        for response in _full_duplex_decision(action, exchange.request_body, end_of_stream=True):
                            yield response
                        continue
                elif kind == "request_trailers" and full_duplex:
                    action = await exchange.on_request_trailers()
                    if isinstance(action, Continue):
                        for response in _full_duplex_decision(action, exchange.request_body, end_of_stream=False):
                            yield response
                        yield _PASS_BY_KIND["request_trailers"]
                        continue
                elif kind == "response_body":
                    body = request.response_body
                    action = await exchange.on_response_body(body.body, body.end_of_stream)
                elif kind == "response_headers":
                    exchange.add_response_headers(_headers(request.response_headers.headers))
                    action = exchange.on_response_headers()
                else:  # trailers the processing mode does not ask for: let them pass
                    action = PASS
                yield _to_proto(kind, action)
                if isinstance(action, Reject):
                    break
        finally:
            # Runs on normal end, on a client disconnect (Envoy cancels the stream) and on errors.
            self.in_flight -= 1
            exchange.finish()


_FULL_DUPLEX = processing_mode_pb2.ProcessingMode.FULL_DUPLEX_STREAMED
_REQUEST_PHASES = frozenset({"request_headers", "request_body"})  # forwarded metadata (JWT claims) matters here


def _full_duplex_decision(action: Continue, original: bytes, *, end_of_stream: bool) -> list[pb.ProcessingResponse]:
    """The held headers reply (mutations, route cache, metadata), then the whole body in one chunk:
    in full duplex mode the upstream receives only the body ztgate sends back."""
    headers = _continue("request_headers", Continue(action.set_headers, action.remove_headers, None, action.metadata, action.clear_route_cache))
    body = pb.ProcessingResponse()
    streamed = body.request_body.response.body_mutation.streamed_response
    streamed.body = action.body if action.body is not None else original
    streamed.end_of_stream = end_of_stream
    return [headers, body]


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
    """{"ztgate": values}. Flat scalars are set directly: Struct.update's generic walk costs several
    times more on this per-request path."""
    struct = struct_pb2.Struct()
    fields = struct.fields[METADATA_NAMESPACE].struct_value.fields
    for key, value in values.items():
        if isinstance(value, bool):
            fields[key].bool_value = value
        elif isinstance(value, str):
            fields[key].string_value = value
        elif isinstance(value, (int, float)):
            fields[key].number_value = value
        else:  # None, lists and objects a policy put in dynamic_metadata
            holder = struct_pb2.Struct()
            holder.update({"v": value})
            fields[key].CopyFrom(holder.fields["v"])
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
    if action.body == b"":
        common.body_mutation.clear_body = True  # a held chunk: nothing goes downstream yet
    elif action.body is not None:
        common.body_mutation.body = action.body
    response = pb.ProcessingResponse()
    getattr(response, kind).response.CopyFrom(common)
    if action.metadata:
        response.dynamic_metadata.CopyFrom(_dynamic_metadata(action.metadata))
    return response

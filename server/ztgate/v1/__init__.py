"""ztgate's own protobuf API (proto package `ztgate.v1`), generated from proto/ztgate/v1/*.proto.

The proto package and this Python package share one path, so `ztgate/v1/audit.proto` compiles to
`ztgate.v1.audit_pb2` and protoc's generated imports resolve without sys.path changes.
Every *_pb2.py / *_pb2.pyi / *_pb2_grpc.py here is generated: do not edit them; run
`python scripts/gen_proto.py` after changing a .proto (tests/unit/test_proto_fresh.py checks this).
"""

#!/usr/bin/env python3
"""Print the opentelemetry-proto requirement to reinstall last (`opentelemetry-proto==X`).

xds-protos (Envoy's API stubs) ships its own, much older copy of the `opentelemetry/proto/...`
modules. When pip happens to install it after opentelemetry-proto, the old copy wins and the OTLP
exporters fail to import (`cannot import name 'InstrumentationScope'`). The Makefile and the
Dockerfile therefore reinstall opentelemetry-proto, at the version its exporter pins, after
everything else.
"""

from importlib.metadata import version

print(f"opentelemetry-proto=={version('opentelemetry-exporter-otlp-proto-grpc')}")

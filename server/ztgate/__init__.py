"""ztgate: a Zero Trust policy server for LLM traffic, run as an Envoy ext_proc server."""

__version__ = "0.1.0"

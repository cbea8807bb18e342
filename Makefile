# Quick start: `make run` starts the gateway, `make test` runs every test. Both create .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test unit e2e bench proto envoy-config clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/ztgate -c ztgate.yaml up

test: $(STAMP)
	$(BIN)/pytest -q

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

e2e: $(STAMP)
	$(BIN)/pytest -q tests/e2e

bench: $(STAMP)
	$(BIN)/python bench/run.py

proto: $(STAMP)
	$(BIN)/python scripts/gen_proto.py

envoy-config: $(STAMP)
	$(BIN)/ztgate -c ztgate.yaml envoy-config -o envoy/envoy.yaml

clean:
	rm -rf $(VENV) .pytest_cache

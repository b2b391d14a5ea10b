# syntax=docker/dockerfile:1
# The alertstream image: the wheel in a slim Python, run as a non-root user, `alertstream` as the
# entrypoint (the Helm chart's image; deploy/helm/alertstream/values.yaml `image.repository`).
# The build stage compiles setup.py's hot modules with mypyc (gcc) and any dependency without a
# wheel; the final stage has no compiler, no pip cache and no build tools.

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
WORKDIR /src
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/alertstream \
 && /opt/alertstream/bin/pip install --no-cache-dir --upgrade pip==26.3
COPY pyproject.toml setup.py README.md LICENSE ./
COPY alertstream ./alertstream
COPY schemas ./schemas
COPY runtime ./runtime
COPY streams ./streams
COPY consumers ./consumers
COPY api ./api
# The same two steps the wheel test in `make test` runs (tests/integration/alertstream/test_release.py).
RUN /opt/alertstream/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /dist . \
 && /opt/alertstream/bin/pip install --no-cache-dir /dist/alertstream-*.whl

FROM python:${PYTHON_VERSION}-slim-bookworm
LABEL org.opencontainers.image.title="alertstream" \
      org.opencontainers.image.description="Event-driven alert processor on Kafka" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 alertstream \
 && useradd --system --uid 10001 --gid alertstream --no-create-home --shell /usr/sbin/nologin alertstream \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/alertstream
COPY --from=build /opt/alertstream /opt/alertstream
ENV PATH=/opt/alertstream/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# Faust keeps its table data directory under the working directory: one the user may write
# (the Helm chart, with a read-only root filesystem, runs in an emptyDir at /tmp instead).
WORKDIR /var/lib/alertstream
USER 10001:10001
ENTRYPOINT ["alertstream"]
CMD ["--help"]

# The code location's image: the pipeline's code and its Spark client, run as Dagster's code server by default and,
# through the Docker or Kubernetes run launcher, as each run's worker (README, "Beyond one machine").
# Build: docker build -t service-performance .   Lint (what the tests do here): hadolint Dockerfile
FROM python:3.11-slim-bookworm

# Java for the Spark driver (engine spark, client mode) and tini to pass signals to the run's process.
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless=17.* tini=0.19.* \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GX_ANALYTICS_ENABLED=false \
    DAGSTER_HOME=/opt/dagster/home \
    PIPELINE_DATA_DIR=/data \
    PIPELINE_CONFIG_DIR=/opt/service-performance/config

WORKDIR /opt/service-performance
COPY pyproject.toml README.md workspace.yaml ./
COPY pipelines ./pipelines
COPY transforms ./transforms
COPY expectations ./expectations
COPY examples ./examples
COPY config ./config
# The spark and connect extras (the Spark client, classic and Connect) and the launchers' packages (deploy); every
# version is pinned in pyproject.toml, which hadolint cannot see.
# hadolint ignore=DL3013
RUN pip install --no-cache-dir '.[spark,connect,deploy]' \
    && mkdir -p "$DAGSTER_HOME" /data \
    && cp config/dagster-deploy.yaml "$DAGSTER_HOME/dagster.yaml" \
    && useradd --system --uid 10001 --home-dir /opt/service-performance pipeline \
    && chown -R pipeline "$DAGSTER_HOME" /data

USER 10001
EXPOSE 4000
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["dagster", "api", "grpc", "--host", "0.0.0.0", "--port", "4000", "--module-name", "pipelines.definitions"]

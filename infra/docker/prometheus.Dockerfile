# Prometheus for docker-compose.yml: Debian bookworm's own package (2.42), no upstream image needed.
#
# Why not prom/prometheus: the machines this project is developed on reach no image registry, only
# Debian's archive (see /work/shared/CONTAINERS.md); an apt-installed Prometheus builds there from the
# same local Debian base as the offline compose test. The scrape configuration is
# infra/prometheus/prometheus.yml (copied here, and mounted by compose so an edit needs no rebuild).
#
# Build from the repository root:  docker build -f infra/docker/prometheus.Dockerfile -t fraudstream/prometheus:dev .
# DEBIAN_IMAGE lets the offline compose test (tests/compose/offline/) substitute its local debootstrap base.
# The tag is not pinned by digest: no registry was reachable here to read one; pin it where one is.
# checkov:skip=CKV_DOCKER_7: FROM is an ARG (for the offline stand-in)
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_IMAGE}

ARG PROMETHEUS_VERSION=2.42.*
RUN apt-get update \
 && apt-get install -y --no-install-recommends "prometheus=${PROMETHEUS_VERSION}" curl \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /prometheus && chown prometheus:prometheus /prometheus

COPY infra/prometheus/prometheus.yml /etc/prometheus/prometheus.yml

USER prometheus
EXPOSE 9090
VOLUME ["/prometheus"]
HEALTHCHECK --interval=10s --timeout=5s --retries=12 CMD curl -fs http://127.0.0.1:9090/-/healthy > /dev/null || exit 1
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", "--storage.tsdb.retention.time=2d", "--web.listen-address=0.0.0.0:9090"]

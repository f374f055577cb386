# syntax=docker/dockerfile:1
#
# backup_exporter container image (docs/deployment.md: "Run it as a container").
#
#   docker build -t backup_exporter --build-arg BACKUP_EXPORTER_REVISION="$(git rev-parse --short HEAD)" .
#   docker run -d --name backup_exporter -p 127.0.0.1:9871:9871 \
#     -v "$PWD/config.toml:/etc/backup_exporter/config.toml:ro" \
#     -v "$PWD/crashplan_password:/run/secrets/crashplan_password:ro" \
#     backup_exporter
#
# The image runs `backup_exporter run` as an unprivileged user (uid/gid 10001), reading its
# configuration from /etc/backup_exporter/config.toml (BACKUP_EXPORTER_CONFIG) and listening on
# 0.0.0.0:9871 (BACKUP_EXPORTER_LISTEN, which wins over `listen` in the file). Secrets are files
# named by the configuration's `*_file` keys, by convention under /run/secrets/. Arguments given
# to `docker run` replace `run`: `check-config`, `once`, `demo`.
#
# tests/container.rs reads the runtime stage below and runs the binary the way the image does.

# ---- build ----
FROM rust:1-bookworm AS builder
WORKDIR /build

# Shown by backup_exporter_build_info{revision=...}; "unknown" when not given.
ARG BACKUP_EXPORTER_REVISION=unknown

# The whole tree (less .dockerignore): Cargo.toml declares targets outside src/ (benches/),
# which cargo wants to find even when it builds only the binary.
COPY . .

# The cache mounts keep the crate registry and build artifacts between builds (BuildKit); the
# binary is copied out of the cached target folder in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/build/target \
    BACKUP_EXPORTER_RUSTC="$(rustc --version)" cargo build --release --locked --bin backup_exporter \
    && install -m 0755 target/release/backup_exporter /usr/local/bin/backup_exporter

# ---- run ----
FROM debian:bookworm-slim

# CA certificates: the exporter verifies the backup servers' TLS certificates against the
# system's trust store. The user owns only /var/lib/backup_exporter, for an optional state
# file (`state_file`) on a volume mounted there; it reads the mounted files.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 backup_exporter \
    && useradd --system --uid 10001 --gid backup_exporter --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin backup_exporter \
    && mkdir -p /etc/backup_exporter /var/lib/backup_exporter \
    && chown 10001:10001 /var/lib/backup_exporter

COPY --from=builder /usr/local/bin/backup_exporter /usr/local/bin/backup_exporter

# Declared late: a RUN after an ARG would be rebuilt whenever the revision changes.
ARG BACKUP_EXPORTER_REVISION=unknown
LABEL org.opencontainers.image.title="backup_exporter" \
      org.opencontainers.image.description="Prometheus exporter for backup systems" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.revision="${BACKUP_EXPORTER_REVISION}"

# The mounted configuration file; `docker run IMAGE check-config` and `once` read it too.
ENV BACKUP_EXPORTER_CONFIG=/etc/backup_exporter/config.toml
# All interfaces of the container's own network namespace, whatever the file says: a file
# written for a host (`listen = "127.0.0.1:9871"`) would be unreachable from outside the
# container. Change the port with `-e BACKUP_EXPORTER_LISTEN=0.0.0.0:PORT`.
ENV BACKUP_EXPORTER_LISTEN=0.0.0.0:9871

USER 10001:10001
EXPOSE 9871

# Exec form: the exporter is PID 1 and receives the stop signal itself. It handles SIGTERM (and
# SIGINT): stops refreshing, lets open scrapes finish (up to 10 s), exits 0. It starts no child
# processes, so it needs no init to reap them.
STOPSIGNAL SIGTERM
ENTRYPOINT ["backup_exporter"]
CMD ["run"]

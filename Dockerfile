# syntax=docker/dockerfile:1
#
# backup_exporter container image.
#
#   docker build -t backup_exporter --build-arg BACKUP_EXPORTER_REVISION="$(git rev-parse --short HEAD)" .
#   docker run -d -p 9871:9871 \
#     -v "$PWD/config.toml:/etc/backup_exporter/config.toml:ro" \
#     -v "$PWD/crashplan_password:/run/secrets/crashplan_password:ro" \
#     backup_exporter
#
# The image runs `backup_exporter --config /etc/backup_exporter/config.toml` as an unprivileged
# user; arguments given to `docker run` replace that (e.g. `check-config --config ...`, `demo
# --listen 0.0.0.0:9871`).

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
    BACKUP_EXPORTER_RUSTC="$(rustc --version)" cargo build --release --locked \
    && install -m 0755 target/release/backup_exporter /usr/local/bin/backup_exporter

# ---- run ----
FROM debian:bookworm-slim

# CA certificates: the exporter verifies the backup servers' TLS certificates against the
# system's trust store.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 backup_exporter \
    && useradd --system --uid 10001 --gid backup_exporter --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin backup_exporter \
    && mkdir -p /etc/backup_exporter

COPY --from=builder /usr/local/bin/backup_exporter /usr/local/bin/backup_exporter

USER 10001:10001
EXPOSE 9871
ENTRYPOINT ["backup_exporter"]
CMD ["--config", "/etc/backup_exporter/config.toml"]

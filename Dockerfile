# syntax=docker/dockerfile:1.7
#
# Participe's container image: one static-ish binary (templates, static files and migrations
# are embedded in it) on a slim Debian, running as an unprivileged user, happy on a
# read-only root filesystem.
#
#   docker build -t participe:0.1.0 .
#   docker run --rm -p 8080:8080 -e DATABASE_URL=postgres://… -e PARTICIPE_BASE_DOMAIN=… \
#     --read-only --tmpfs /tmp -v participe-data:/var/lib/participe participe:0.1.0
#
# Stages: `chef` (toolchain + cargo-chef), `planner` (the dependency recipe), `builder`
# (dependencies in a layer of their own, rebuilt only when Cargo.toml/Cargo.lock change, then
# the workspace), `runtime` (debian:12-slim + CA certificates + the binary).
# The build never needs a database: `.cargo/config.toml` sets SQLX_OFFLINE=true and the
# compile-time query data is committed under `.sqlx/`.
#
# checkov:skip=CKV_DOCKER_2:No HEALTHCHECK: the image ships no HTTP client on purpose; Kubernetes probes GET /healthz and /readyz (see charts/participe).

ARG RUST_VERSION=1.95
ARG CARGO_CHEF_VERSION=0.1.78

FROM rust:${RUST_VERSION}-bookworm AS chef
ARG CARGO_CHEF_VERSION
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}"
WORKDIR /src

# The recipe lists every manifest of the workspace (the root package `participe` and the
# members under services/ and tenant-admin/) with dummy sources and build scripts, so that
# it changes only when dependencies do.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
ENV SQLX_OFFLINE=true \
    CARGO_TERM_COLOR=never
COPY --from=planner /src/recipe.json recipe.json
# The cached layer: every third-party crate the `participe` binary needs, compiled.
RUN cargo chef cook --release --locked --recipe-path recipe.json --package participe --bin participe
# Then the workspace itself (Cargo.toml, Cargo.lock, .cargo/, .sqlx/, migrations/, locales/,
# services/, tenant-admin/, src/): see .dockerignore for what stays out.
COPY . .
RUN cargo build --release --locked --package participe --bin participe \
    && install -D -m 0755 target/release/participe /out/participe

FROM debian:12-slim AS runtime
# CA certificates: TLS to a managed PostgreSQL, SMTP, OTLP, S3 and Stripe. Nothing else.
# The user is created with fixed ids so that Kubernetes can check runAsNonRoot and volumes
# can be prepared for uid/gid 10001.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 participe \
    && useradd --uid 10001 --gid 10001 --no-create-home \
       --home-dir /var/lib/participe --shell /usr/sbin/nologin participe \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/participe

COPY --from=builder /out/participe /usr/local/bin/participe

# The only places the process writes: the data dir (uploads, outbox; mount a volume or an
# emptyDir) and the temporary dir (mount an emptyDir or a tmpfs). Everything else may be
# read-only. Listeners bind all interfaces inside the container; the metrics port (9464,
# /metrics and /tls-allowed) must stay off the public network (NetworkPolicy in the chart).
ENV PARTICIPE_DATA_DIR=/var/lib/participe \
    TMPDIR=/tmp \
    PARTICIPE_LISTEN=0.0.0.0:8080 \
    PARTICIPE_METRICS_LISTEN=0.0.0.0:9464
VOLUME ["/var/lib/participe"]
WORKDIR /var/lib/participe
USER 10001:10001
EXPOSE 8080 9464

# `participe serve` handles SIGTERM itself (drains in-flight requests), so no init process
# is needed. Other commands: `migrate`, `migrate --check`, `tenant …`.
ENTRYPOINT ["/usr/local/bin/participe"]
CMD ["serve"]

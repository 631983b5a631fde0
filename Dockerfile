# syntax=docker/dockerfile:1
# The kpledger node as a container image: built in a Rust image, run from a
# slim Debian one as an unprivileged user. docs/operations.md says how to
# build and run it.
#
#   docker build --build-arg KPLEDGER_GIT_COMMIT=$(git rev-parse HEAD) -t kpledger .
#   docker run --rm kpledger --version

# ---- build ----
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# The commit for `kpledger --version` (the build context has no .git).
ARG KPLEDGER_GIT_COMMIT=unknown
ENV KPLEDGER_GIT_COMMIT=${KPLEDGER_GIT_COMMIT}
# The image's own toolchain builds: rust-toolchain.toml names the channel
# and components a developer's rustup installs, which a build needs not.
RUN rm -f rust-toolchain.toml \
    && cargo build --release --locked -p kpledger --bin kpledger \
    && cp target/release/kpledger /usr/local/bin/kpledger \
    && /usr/local/bin/kpledger --version

# ---- run ----
FROM debian:bookworm-slim
# tini reaps children and forwards SIGTERM, so `docker stop` stops the node
# cleanly (it flushes its store on SIGTERM).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 kpledger \
    && useradd --system --uid 10001 --gid kpledger --home-dir /var/lib/kpledger \
       --shell /usr/sbin/nologin kpledger \
    && install -d -o kpledger -g kpledger -m 0700 /var/lib/kpledger
COPY --from=build /usr/local/bin/kpledger /usr/local/bin/kpledger
USER kpledger:kpledger
WORKDIR /var/lib/kpledger
# The node's data, keys and config live here (mount a volume).
VOLUME ["/var/lib/kpledger"]
# Peers (libp2p) and HTTP RPC, as `kpledger testnet` numbers them for node 0.
EXPOSE 26600 26601
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/kpledger"]
CMD ["node", "--config", "/var/lib/kpledger/node.toml"]

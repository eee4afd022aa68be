# MedLedger node image (README: Operating a facility node).
#
#   docker build -t medledger .                      the node image (target "node")
#   docker build -t medledger-inspector --target inspector .
#
# Stage 1 builds medledger and medledger-inspect with Tools/build, the same release build and flags
# as CI, on the official Swift image (6.3, CI's toolchain; at least 6.2, which swift-metrics and
# swift-prometheus need: --build-arg SWIFT_IMAGE=swift:6.2-bookworm); the Swift runtime is linked
# in statically, so stage 2 needs only Debian slim with the system libraries behind CZlib and
# COpenSSL.

ARG SWIFT_IMAGE=swift:6.3-bookworm
FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends zlib1g-dev libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
# The manifest names the test targets, and SwiftPM wants their folders to exist (nothing in them is built).
COPY Tests ./Tests
COPY Tools/build ./Tools/build
RUN Tools/build --static-swift-stdlib \
    && mkdir -p /out \
    && cp "$(swift build -c release --static-swift-stdlib --show-bin-path)/medledger" \
          "$(swift build -c release --static-swift-stdlib --show-bin-path)/medledger-inspect" /out/

# The node: non-root, its home on a volume, health from its own /healthz.
FROM debian:bookworm-slim AS node
RUN apt-get update \
    && apt-get install -y --no-install-recommends libssl3 zlib1g \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 medledger \
    && useradd --system --uid 10001 --gid medledger --home-dir /var/lib/medledger --shell /usr/sbin/nologin medledger \
    && mkdir -p /var/lib/medledger \
    && chown medledger:medledger /var/lib/medledger \
    && chmod 0700 /var/lib/medledger
COPY --from=build /out/medledger /out/medledger-inspect /usr/local/bin/
USER medledger
WORKDIR /var/lib/medledger
VOLUME ["/var/lib/medledger"]
# p2p, client, metrics (/metrics and /healthz). The listeners are set with MEDLEDGER_*_LISTEN.
EXPOSE 26656 26657 26660
ENV MEDLEDGER_P2P_LISTEN=0.0.0.0:26656 \
    MEDLEDGER_CLIENT_LISTEN=0.0.0.0:26657 \
    MEDLEDGER_METRICS_LISTEN=0.0.0.0:26660
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["medledger", "health", "--home", "/var/lib/medledger", "--timeout", "3"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["medledger"]
CMD ["node", "--home", "/var/lib/medledger"]

# The inspector: tcpdump and medledger-inspect, for the compose file's "inspector" profile.
FROM node AS inspector
USER root
RUN apt-get update \
    && apt-get install -y --no-install-recommends tcpdump \
    && rm -rf /var/lib/apt/lists/*
ENTRYPOINT []
CMD ["medledger-inspect", "--help"]

# The default target is the node image.
FROM node

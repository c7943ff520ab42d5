# syntax=docker/dockerfile:1
#
# tufbox container image: one compiled binary on a slim Debian base.
#
#   docker build -t tufbox --build-arg TUFBOX_COMMIT=$(git rev-parse --short=12 HEAD) .
#   docker run -p 8080:8080 -v tufbox-data:/data tufbox           # quickstart demo
#   docker run -p 8080:8080 -v tufbox-data:/data -e TUFBOX_ADMIN_TOKEN_FILE=/run/secrets/token tufbox serve
#
# Multi-arch: `docker buildx build --platform linux/amd64,linux/arm64 .` The
# build stage always runs on the build machine's own architecture and
# cross-compiles (Bun needs no emulator for that), so arm64 images build fast.

# ---------------------------------------------------------------- build
FROM --platform=$BUILDPLATFORM oven/bun:1.4.4 AS build
ARG TARGETARCH
# .git is not in the build context (see .dockerignore): pass the commit in.
ARG TUFBOX_COMMIT=unknown
WORKDIR /src

# Dependencies first, so editing the source does not re-run the install.
COPY package.json bun.lock ./
RUN bun install --frozen-lockfile

COPY . .
# scripts/build.ts runs `bun build --compile --minify --sourcemap` with the
# version and commit defined in. TARGETARCH (set by BuildKit) is amd64/arm64.
# The smoke test runs only when the binary can run here (not cross-compiled).
RUN set -eu; \
    case "${TARGETARCH:-amd64}" in \
      amd64) arch=x64 ;; \
      arm64) arch=arm64 ;; \
      *) echo "unsupported TARGETARCH=${TARGETARCH}" >&2; exit 1 ;; \
    esac; \
    TUFBOX_COMMIT="$TUFBOX_COMMIT" bun scripts/build.ts --target "linux-$arch"; \
    install -m 0755 "dist/tufbox-linux-$arch" /tufbox; \
    if [ "$(dpkg --print-architecture)" = "${TARGETARCH:-amd64}" ]; then /tufbox version; fi

# ---------------------------------------------------------------- runtime
# The compiled binary needs only glibc (it carries its own TLS roots), so
# debian:12-slim is enough; gcr.io/distroless/cc-debian12 works too.
FROM debian:12-slim

# A fixed numeric uid/gid so Kubernetes' runAsNonRoot can verify it and
# volume ownership is predictable across image rebuilds.
RUN groupadd --system --gid 10001 tufbox \
 && useradd --system --uid 10001 --gid tufbox --home-dir /data --no-create-home --shell /usr/sbin/nologin tufbox \
 && mkdir -p /data \
 && chown tufbox:tufbox /data

COPY --from=build /tufbox /usr/local/bin/tufbox

# stderr is not a terminal in a container, so logs default to JSON lines.
# Secrets: TUFBOX_ADMIN_TOKEN_FILE / TUFBOX_ONLINE_KEY_FILE pointing at
# /run/secrets/...; never bake them into the image.
# In a container 127.0.0.1 is unreachable from outside, so every command
# defaults to all interfaces and the volume.
ENV TUFBOX_DATA_DIR=/data \
    TUFBOX_LISTEN=0.0.0.0:8080

USER 10001:10001
WORKDIR /data
# Declared after the chown so a fresh named volume starts owned by tufbox.
VOLUME /data
EXPOSE 8080

# No HEALTHCHECK: the image has no curl/wget, and adding them only for this
# grows the attack surface. When tufbox gains a `tufbox healthcheck`
# subcommand (GET /healthz on the configured listen address, exit 0/1):
#   HEALTHCHECK --interval=30s --timeout=5s CMD ["/usr/local/bin/tufbox", "healthcheck"]
# Orchestrators can probe GET /healthz and /readyz directly meanwhile.

ENTRYPOINT ["/usr/local/bin/tufbox"]
CMD ["quickstart", "--data-dir", "/data", "--listen", "0.0.0.0:8080"]

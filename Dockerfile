# syntax=docker/dockerfile:1
#
# tufbox container image: the compiled binary and the few glibc files it
# loads, on `scratch` (no shell, no package manager, nothing else), running as
# uid 10001 with its state in the /data volume.
#
#   docker build -t tufbox --build-arg TUFBOX_COMMIT=$(git rev-parse --short=12 HEAD) .
#   docker buildx build --platform linux/amd64,linux/arm64 -t tufbox .   # multi-arch
#   docker run -p 8080:8080 -v tufbox-data:/data tufbox                   # quickstart demo
#   docker run -p 8080:8080 -v tufbox-data:/data -e TUFBOX_ADMIN_TOKEN_FILE=/run/secrets/token tufbox serve
#
# Without Docker, or where no base image can be pulled: scripts/image.sh builds
# this same file with buildah, handing it the build stage's output (made on the
# host with the same scripts) through --build-context, so only the runtime
# stage below runs. Keep the two in step: both go through
# scripts/build.ts and scripts/image-rootfs.ts.
#
# The build stage always runs on the build machine's own architecture and
# cross-compiles (Bun needs no emulator for that); for the other architecture
# it takes glibc from Debian's libc6-arm64-cross / libc6-amd64-cross, so both
# images build fast on either kind of machine.

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
# /image/rootfs: binary + glibc files + /etc/passwd,group + /tmp; /image/data: the empty volume.
# The smoke test runs only when the binary can run here (not cross-compiled).
RUN set -eu; \
    case "${TARGETARCH:-amd64}" in \
      amd64) arch=x64 ;; \
      arm64) arch=arm64 ;; \
      *) echo "unsupported TARGETARCH=${TARGETARCH}" >&2; exit 1 ;; \
    esac; \
    if [ "$(dpkg --print-architecture)" != "${TARGETARCH:-amd64}" ]; then \
      apt-get update -qq && apt-get install -y -qq --no-install-recommends "libc6-${TARGETARCH:-amd64}-cross"; \
    fi; \
    TUFBOX_COMMIT="$TUFBOX_COMMIT" bun scripts/build.ts --target "linux-$arch" --out /out; \
    bun scripts/image-rootfs.ts --binary "/out/tufbox-linux-$arch" --arch "$arch" --out /image; \
    if [ "$(dpkg --print-architecture)" = "${TARGETARCH:-amd64}" ]; then /image/rootfs/usr/local/bin/tufbox version; fi

# ---------------------------------------------------------------- runtime
FROM scratch

COPY --from=build /image/rootfs/ /
# The volume's directory must belong to the service's user, else SQLite
# cannot create its database there; a fresh named volume starts as a copy of it.
COPY --from=build --chown=10001:10001 /image/data/ /data/

# stderr is not a terminal in a container, so logs are JSON lines.
# Secrets: TUFBOX_ADMIN_TOKEN_FILE / TUFBOX_ONLINE_KEY_FILE pointing at
# /run/secrets/...; never bake them into the image.
# In a container 127.0.0.1 is unreachable from outside, so every command
# defaults to all interfaces and the volume. Change the port with
# TUFBOX_LISTEN (not a --listen flag): `tufbox healthcheck` reads the same
# variable, so the health check follows.
ENV TUFBOX_DATA_DIR=/data \
    TUFBOX_LISTEN=0.0.0.0:8080

# A fixed numeric uid/gid so Kubernetes' runAsNonRoot can verify it and
# volume ownership is predictable across image rebuilds.
USER 10001:10001
WORKDIR /data
VOLUME /data
EXPOSE 8080

# No curl or wget in the image: the binary checks itself (GET /healthz on TUFBOX_LISTEN).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["/usr/local/bin/tufbox", "healthcheck"]

ENTRYPOINT ["/usr/local/bin/tufbox"]
CMD ["quickstart"]

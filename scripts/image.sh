#!/usr/bin/env bash
# Build the tufbox container image with buildah, without Docker and without
# pulling any base image: the Dockerfile's runtime stage is `FROM scratch`,
# and its build stage is replaced by files made here with the same scripts it
# runs (scripts/build.ts, scripts/image-rootfs.ts), handed to buildah as the
# build context named "build".
#
#   scripts/image.sh                              # tufbox:latest from dist/tufbox-linux-x64 (built if missing)
#   scripts/image.sh --arch arm64                 # an arm64 image (needs libc6-arm64-cross for its glibc)
#   scripts/image.sh --binary FILE --tag NAME     # a given binary, a given name
#
# Runs as root with Debian's buildah. Storage and isolation default to what
# works in unprivileged containers (vfs, chroot); buildah's own STORAGE_DRIVER
# and BUILDAH_ISOLATION variables override them, CONTAINERS_STORAGE_CONF moves
# the storage. To run the image: buildah from --name C IMAGE, then
# buildah run C -- /usr/local/bin/tufbox quickstart (or podman/docker run).
set -euo pipefail

cd "$(dirname "$0")/.."

arch=x64
binary=""
tag=tufbox:latest
while (($# > 0)); do
  case $1 in
    --arch) arch=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "image.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case $arch in
  x64 | amd64) arch=x64; platform=linux/amd64 ;;
  arm64) platform=linux/arm64 ;;
  *) echo "image.sh: --arch $arch: use x64 or arm64" >&2; exit 2 ;;
esac

if ! command -v buildah >/dev/null; then
  echo "image.sh: buildah not found (Debian: apt-get install buildah)" >&2
  exit 1
fi

if [[ -z $binary ]]; then
  binary=dist/tufbox-linux-$arch
  [[ -x $binary ]] || bun scripts/build.ts --target "linux-$arch"
fi
[[ -x $binary ]] || { echo "image.sh: $binary is not an executable" >&2; exit 1; }

export STORAGE_DRIVER=${STORAGE_DRIVER:-vfs}
export BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}

work=$(mktemp -d "${TMPDIR:-/tmp}/tufbox-image-XXXXXX")
trap 'rm -rf "$work"' EXIT
# What the Dockerfile's build stage leaves in /image.
bun scripts/image-rootfs.ts --binary "$binary" --arch "$arch" --out "$work/build/image"
# The main context stays empty: the runtime stage copies only from "build".
mkdir "$work/context"

commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
# --format docker: the OCI image format has no HEALTHCHECK.
buildah bud \
  --format docker \
  --platform "$platform" \
  --build-context "build=$work/build" \
  --build-arg "TUFBOX_COMMIT=$commit" \
  --label "org.opencontainers.image.revision=$commit" \
  --label "org.opencontainers.image.source=tufbox" \
  --tag "$tag" \
  --file "$PWD/Dockerfile" \
  "$work/context"

size=$(buildah images --format '{{.Size}}' "$tag" | head -n 1)
echo "image.sh: built $tag ($platform, $size)"

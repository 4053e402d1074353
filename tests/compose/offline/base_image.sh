#!/usr/bin/env bash
# Makes the local Debian base image (local/debian:bookworm) that every stand-in builds on, since
# no image registry is reachable here: debootstrap --variant=minbase from the mirror apt uses,
# then `docker import`. Skipped when the image exists. About 35 s and 127 MB.
set -euo pipefail

IMAGE="${BASE_IMAGE:-local/debian:bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if docker image inspect "$IMAGE" >/dev/null 2>&1; then echo "$IMAGE present"; exit 0; fi
rootfs="$(mktemp -d /tmp/fraudstream-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
echo "debootstrap bookworm into $rootfs"
debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$rootfs.log" 2>&1 \
  || { tail -20 "$rootfs.log" >&2; exit 1; }
rm -f "$rootfs.log"
tar -C "$rootfs" -c . | docker import - "$IMAGE" >/dev/null
echo "$IMAGE imported"

#!/usr/bin/env bash
# Installs what the offline compose test needs and is missing: dockerd (docker.io), debootstrap,
# and Compose v2 + buildx as CLI plugins. Bookworm has only Compose 1.29, so the two plugins come
# as .deb files from Debian's next release, fetched from the pool of the mirror apt already uses
# (the host's apt sources stay unchanged). Both need only libc6 >= 2.34. Idempotent.
set -euo pipefail

MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
COMPOSE_DEB="${COMPOSE_DEB:-docker-compose_2.26.1-4_amd64.deb}"
BUILDX_DEB="${BUILDX_DEB:-docker-buildx_0.13.1+ds1-3_amd64.deb}"

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v curl >/dev/null || need+=(curl)
if ((${#need[@]})); then
  echo "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

fetch_plugin() {  # $1 = pool dir, $2 = deb file, $3 = plugin name
  if docker "$3" version >/dev/null 2>&1; then return; fi
  local tmp; tmp="$(mktemp -d)"
  echo "installing docker $3 from $2"
  curl -fsSL -o "$tmp/$2" "$MIRROR/pool/main/d/$1/$2"
  dpkg -i "$tmp/$2" >/dev/null
  rm -rf "$tmp"
}
fetch_plugin docker-compose "$COMPOSE_DEB" compose
fetch_plugin docker-buildx "$BUILDX_DEB" buildx
docker compose version
docker buildx version

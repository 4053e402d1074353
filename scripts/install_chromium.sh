#!/usr/bin/env bash
# Headless Chromium for the dashboard's browser test, from the system packages (Debian: chromium).
# Idempotent: does nothing when a chromium binary is already on PATH. Needs root (or sudo) for apt.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo -n"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends chromium >/dev/null || {
  $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends chromium >/dev/null
}
command -v chromium >/dev/null 2>&1

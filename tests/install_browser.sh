#!/usr/bin/env bash
# Installs what the browser tests and the board pack need from Debian when missing: Chromium and its
# driver (selenium; kaleido draws charts with it) and Pango (WeasyPrint typesets the board pack with it).
# Part of the README's test command, so CI on a fresh machine gets them too.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 \
  && compgen -G '/usr/lib/*/libpangoft2-1.0.so.0' >/dev/null; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core \
  libpango-1.0-0 libpangoft2-1.0-0 >/dev/null
chromium --version

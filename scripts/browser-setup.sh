#!/bin/sh
# Install Debian's headless browser and its driver for the web tests (tests/web), and systemd's
# own tools for the unit checks (systemd-analyze), when missing.
# `playwright install` cannot work here (no browser downloads at run time); apt can.
set -eu
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 \
    && command -v systemd-analyze >/dev/null 2>&1; then
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing chromium, chromium-driver and systemd for the browser and unit tests ..." >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq chromium chromium-driver systemd >/dev/null

#!/bin/sh
# Create ./.venv and install pc6band into it (non-editable, as a user would).
# Usage: sh scripts/setup.sh [EXTRAS]   e.g. sh scripts/setup.sh '[test]'
set -eu
cd "$(dirname "$0")/.."
extras="${1:-}"
py="${PYTHON:-python3}"

if ! command -v "$py" >/dev/null 2>&1; then
    echo "pc6band needs Python 3.11 or newer: sudo apt-get install -y python3 python3-venv" >&2
    exit 1
fi
if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "pc6band needs Python 3.11 or newer; $py is $("$py" -V 2>&1)" >&2
    exit 1
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating ./.venv with $("$py" -V 2>&1) ..." >&2
    # Debian and Raspberry Pi OS ship venv separately, and pip refuses system installs.
    if ! "$py" -m venv .venv >/dev/null 2>&1; then
        rm -rf .venv
        sudo=""
        if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
        echo "installing python3-venv (Debian's venv module) ..." >&2
        $sudo apt-get update -qq
        $sudo apt-get install -y -qq python3-venv >/dev/null
        "$py" -m venv .venv
    fi
fi

echo "setup: installing pc6band${extras} and its dependencies into ./.venv (about half a minute the first time) ..." >&2
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check ".${extras}"
echo "setup: done; pc6 is .venv/bin/pc6 (it is not on PATH; or first run: . .venv/bin/activate)" >&2

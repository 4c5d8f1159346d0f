#!/usr/bin/env bash
# Installs what onerec needs on Debian 12 that is not there yet. Safe to run again.
set -euo pipefail
packages=(liblmdb-dev librdkafka-dev libopenblas-dev pkg-config kcat python3-venv util-linux libcurl4)

if ! command -v swift >/dev/null 2>&1; then
    echo "setup: no 'swift' on PATH: install the Swift 6.x toolchain for Debian 12 from swift.org first" >&2
    exit 1
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

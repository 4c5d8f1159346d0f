#!/usr/bin/env bash
# The engine's speed next to PyTorch on the same machine, in one run: installs Debian's python3-torch
# (benchmark only; the tests never need it), builds onerec in release mode and runs `onerec bench train`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "bench: installing python3-torch (about 250 Debian packages)"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-torch >/dev/null
fi
swift build -c release --product onerec
exec .build/release/onerec bench train "$@"

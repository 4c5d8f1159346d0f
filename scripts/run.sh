#!/usr/bin/env bash
# Sets up, builds onerec in release mode and runs the daemon on its embedded defaults
# (HTTP on 127.0.0.1:8080, store in ./onerec-data). Extra arguments go to `onerec serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product onerec
exec .build/release/onerec serve "$@"

#!/usr/bin/env bash
# Sets up, starts the test Kafka broker, runs the whole test suite, stops the broker.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/test-broker.sh start
trap 'scripts/test-broker.sh stop' EXIT
export ONEREC_TEST_KAFKA="$(scripts/test-broker.sh address)"
swift build --build-tests
swift test --skip-build "$@"
# Fuzz the event decoder and the HTTP request targets for a bounded time (scripts/fuzz.sh SECONDS for longer runs).
scripts/fuzz.sh 30

#!/usr/bin/env bash
# Fuzzes the event decoder (and its JSON parser) with libFuzzer and AddressSanitizer for a bounded time.
#   scripts/fuzz.sh [SECONDS]    default 60; CI runs it for 30
# Inputs that crash are written to .fuzz/crash-* and the script fails; the seed corpus is Tests/Fuzz/corpus,
# new interesting inputs collect in .fuzz/corpus (kept between runs, not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
swift build --scratch-path .build-fuzz -c release --product event-decoder-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING
mkdir -p .fuzz/corpus
.build-fuzz/release/event-decoder-fuzz -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
    -artifact_prefix=.fuzz/ .fuzz/corpus Tests/Fuzz/corpus 2>&1 | grep -E "^(Done|stat::number_of_executed_units|==|SUMMARY)|ERROR" || true
if ls .fuzz/crash-* >/dev/null 2>&1; then
    echo "fuzzing found crashing inputs: $(ls .fuzz/crash-*)" >&2
    exit 1
fi

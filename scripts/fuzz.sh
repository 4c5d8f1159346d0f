#!/usr/bin/env bash
# Fuzzes, with libFuzzer and AddressSanitizer, for a bounded time each:
#   event-decoder-fuzz  the event decoder and its JSON parser (seed corpus Tests/Fuzz/event-corpus)
#   http-query-fuzz     the HTTP API's request targets: Hummingbird's URI parser and our parameter
#                       checks (seed corpus Tests/Fuzz/query-corpus)
#   scripts/fuzz.sh [SECONDS]    per target, default 60; CI runs 30
# Inputs that crash are written to .fuzz/<target>/crash-* and the script fails; new interesting inputs
# collect in .fuzz/<target>/corpus (kept between runs, not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
build() {
    swift build --scratch-path .build-fuzz -c release --product "$1" -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING
}
build event-decoder-fuzz
build http-query-fuzz
failed=0
for target in event-decoder-fuzz:event-corpus:4096 http-query-fuzz:query-corpus:1024; do
    IFS=: read -r name seeds maxlen <<<"$target"
    mkdir -p ".fuzz/$name/corpus"
    echo "$name:"
    ".build-fuzz/release/$name" -max_total_time="$seconds" -max_len="$maxlen" -print_final_stats=1 \
        -artifact_prefix=".fuzz/$name/" ".fuzz/$name/corpus" "Tests/Fuzz/$seeds" 2>&1 \
        | grep -E "^(Done|stat::number_of_executed_units|==|SUMMARY)|ERROR" || true
    if ls ".fuzz/$name"/crash-* >/dev/null 2>&1; then
        echo "fuzzing found crashing inputs: $(ls ".fuzz/$name"/crash-*)" >&2
        failed=1
    fi
done
exit "$failed"

#!/usr/bin/env bash
# Renders the daemon's status page in headless Chromium and checks what a browser shows: the serving
# version, the three plots with data, the versions table. Installs chromium if missing, runs a daemon on
# the embedded simulator (tiny model, fast traffic) in a temporary directory, saves a screenshot.
#   scripts/check-status-page.sh [screenshot.png]
set -euo pipefail
cd "$(dirname "$0")/.."
shot="${1:-status-page.png}"
scripts/setup.sh
if ! command -v chromium >/dev/null 2>&1; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
swift build -c release --product onerec >/dev/null
dir="$(mktemp -d)"
port=18765
ONEREC_STORE_PATH="$dir/store" ONEREC_HTTP_PORT=$port ONEREC_TRAINER_PRESET=tiny ONEREC_TRAINER_MINIMUM_SESSIONS=100 \
ONEREC_TRAINER_PUBLISH_EVERY_STEPS=100 ONEREC_SIMULATOR_SESSIONS_PER_SECOND=300 \
    .build/release/onerec serve > "$dir/serve.log" 2>&1 &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 120); do
    .build/release/onerec status --url http://127.0.0.1:$port --store "$dir/store" 2>/dev/null | grep -q "^serving *: version" && break
    sleep 1
done
.build/release/onerec align --url http://127.0.0.1:$port --store "$dir/store" || true
sleep 6  # one more ingest-rate sample and a refresh of the loss curves
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1700,1100)
chromium "${flags[@]}" --dump-dom "http://127.0.0.1:$port/" > "$dir/dom.html" 2>/dev/null
chromium "${flags[@]}" --screenshot="$shot" "http://127.0.0.1:$port/" >/dev/null 2>&1
fail() { echo "status page check failed: $*" >&2; exit 1; }
grep -q 'id="serving">serving: version' "$dir/dom.html" || fail "no serving version shown"
[ "$(grep -o '<svg' "$dir/dom.html" | wc -l)" -eq 3 ] || fail "expected 3 plots"
[ "$(grep -o '<polyline' "$dir/dom.html" | wc -l)" -ge 4 ] || fail "plots without data"
grep -q 'id="versions"' "$dir/dom.html" || fail "no versions table"
grep -q 'id="rounds"' "$dir/dom.html" || fail "no rounds table"
echo "status page OK: $(grep -o '<polyline' "$dir/dom.html" | wc -l) curves in 3 plots; screenshot $shot"

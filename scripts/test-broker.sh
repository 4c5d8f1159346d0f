#!/usr/bin/env bash
# The Kafka-protocol broker the tests use: noida-db 0.2.3 from PyPI, in a venv inside the checkout.
#   scripts/test-broker.sh start    install if needed, start on 127.0.0.1:$ONEREC_TEST_KAFKA_PORT (19092)
#                                   from an empty data directory ($ONEREC_TEST_KAFKA_DATA, default .broker/)
#   scripts/test-broker.sh resume   start again on the data a stop left (the broker-outage test)
#   scripts/test-broker.sh stop     stop it (its data stays until the next start)
#   scripts/test-broker.sh address  print host:port
# Known defects of this broker, worked around by the tests and the daemon:
#   - a consumer killed with SIGKILL wedges its group unless the group uses static membership
#     (group.instance.id), which onerec's consumer turns on by default;
#   - two consumers joining a new group at the same moment can stall until max.poll.interval.ms:
#     tests start a group's members one after another;
#   - it saves to disk asynchronously: data written just before it stops may be lost. Each start
#     begins from an empty data directory so tests never depend on what a previous run left;
#   - it keeps all its data in one JSON file and rewrites the whole file after any write, offset commit
#     or consumer-group change: most of a core for about 5 s per million messages held, which a
#     consumer-group member pays on a 2-core machine and a plain (no group) consumer does not.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv-broker"
data="${ONEREC_TEST_KAFKA_DATA:-$root/.broker}"
port="${ONEREC_TEST_KAFKA_PORT:-19092}"
noida="$venv/bin/noida-db"

quiet() { grep -v "GLIBC_2.39" || true; }  # the wheel's binary warns about a symbol version it does not need

case "${1:-}" in
start|resume)
    if [ ! -x "$noida" ]; then
        /usr/bin/python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check noida-db==0.2.3
    fi
    "$noida" down --data-dir "$data" >/dev/null 2>&1 || true
    for _ in $(seq 1 100); do  # a broker that was just told to stop may take a moment to close its port
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
        sleep 0.1
    done
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        # Something else listens there: waiting for the port below would mistake it for this broker.
        echo "port $port is in use by another process" >&2
        exit 3
    fi
    if [ "$1" = start ]; then rm -rf "$data"; fi
    mkdir -p "$data"
    "$noida" up --only kafka --host 127.0.0.1 --kafka-port "$port" --data-dir "$data" 2>&1 | quiet >/dev/null
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "test broker listening on 127.0.0.1:$port"
            exit 0
        fi
        sleep 0.1
    done
    echo "test broker did not start; its log: $data/noida.log" >&2
    exit 1
    ;;
stop)
    [ -x "$noida" ] && "$noida" down --data-dir "$data" 2>&1 | quiet >/dev/null
    exit 0
    ;;
address)
    echo "127.0.0.1:$port"
    ;;
*)
    echo "usage: $0 start|resume|stop|address" >&2
    exit 2
    ;;
esac

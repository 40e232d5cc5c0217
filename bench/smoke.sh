#!/usr/bin/env bash
# smoke.sh -- a short end-to-end run of the load generator against theked.
#
#   bash bench/smoke.sh [BUILD_DIR]      (default: build)
#
# Writes a config into a temporary directory (plaintext c2s on a free
# loopback port, no direct TLS, no HTTP), creates u1..u20, starts theked,
# runs 10 pairs with 10 messages in flight for 3 s, and fails unless
# messages were delivered with no error and none lost. It checks that the
# pipeline works; the figures of one short run are not a benchmark.
set -euo pipefail

BUILD=${1:-build}
USERS=20
PAIRS=10
WINDOW=10
SECONDS_RUN=3

for b in theked thekectl loadgen; do
    if [ ! -x "$BUILD/$b" ]; then
        echo "smoke: $BUILD/$b missing; run make $BUILD/$b" >&2
        exit 1
    fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/theke-bench.XXXXXX")
pid=
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

port=$(/usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')

conf=$tmp/theke.conf
cat > "$conf" <<EOF
domain = localhost
data_dir = $tmp/data
c2s = 127.0.0.1:$port
c2s_tls = off
http = off
c2s_require_encryption = false
registration = closed
log_level = warn
EOF
mkdir -p "$tmp/data"

for i in $(seq 1 "$USERS"); do
    "$BUILD/thekectl" -c "$conf" user add "u$i@localhost" pw >/dev/null
done

"$BUILD/theked" -c "$conf" >"$tmp/theked.log" 2>&1 &
pid=$!

# Wait up to 10 s for the listener.
up=0
for _ in $(seq 1 200); do
    if ! kill -0 "$pid" 2>/dev/null; then
        break
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        up=1
        break
    fi
    sleep 0.05
done
if [ "$up" != 1 ]; then
    echo "smoke: theked did not start listening on port $port" >&2
    cat "$tmp/theked.log" >&2
    exit 1
fi

out=$("$BUILD/loadgen" --host 127.0.0.1 --port "$port" --domain localhost \
    --users "$USERS" --prefix u --password pw --pairs "$PAIRS" \
    --window "$WINDOW" --seconds "$SECONDS_RUN") || {
    echo "smoke: loadgen failed" >&2
    cat "$tmp/theked.log" >&2
    exit 1
}
echo "$out"

/usr/bin/python3 -c '
import json, sys
r = json.loads(sys.argv[1])
bad = []
if r["errors"] != 0:
    bad.append("errors = %d" % r["errors"])
if r["lost"] != 0:
    bad.append("lost = %d" % r["lost"])
if r["messages"] <= 0:
    bad.append("no message delivered")
if bad:
    sys.exit("smoke: " + ", ".join(bad))
' "$out"

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
if [ "$rc" != 0 ]; then
    echo "smoke: theked exited with status $rc after SIGTERM" >&2
    cat "$tmp/theked.log" >&2
    exit 1
fi
echo "smoke: ok"

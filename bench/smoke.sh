#!/usr/bin/env bash
# smoke.sh -- a short end-to-end run of the load generator against theked.
#
#   bash bench/smoke.sh [BUILD_DIR]      (default: build)
#
# Writes a config into a temporary directory (plaintext and STARTTLS c2s
# and direct TLS on free loopback ports, no HTTP), creates u1..u600, starts
# theked and runs loadgen against it:
#
#   pairs     10 pairs, 10 messages in flight, 2 s
#   login     --mech plain
#   login     --tls direct
#   login     --tls starttls --mech scram-sha-256-plus (tls-exporter)
#   idle      --ping-interval 1 for 2 s
#   pairs     --tls starttls
#   pairs     --procs 2
#   pairs     300 pairs (u1..u600), 1 s: loop turns with more ready
#             plaintext sockets than the I/O helper threads start at
#   pairs     against bench/floor.c, the relay of make bench
#
# Each run must log every account in, with no error and nothing lost
# (messages delivered, pings answered). It checks that the pipeline
# works; the figures of these short runs are not a benchmark.
set -euo pipefail

BUILD=${1:-build}
USERS=20
MANY_USERS=600
PAIRS=10
WINDOW=10
SECONDS_RUN=2

for b in theked thekectl loadgen floor; do
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

free_port() {
    /usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}
port=$(free_port)
tls_port=$(free_port)

conf=$tmp/theke.conf
cat > "$conf" <<EOF
domain = localhost
data_dir = $tmp/data
c2s = 127.0.0.1:$port
c2s_tls = 127.0.0.1:$tls_port
http = off
c2s_require_encryption = false
registration = closed
log_level = warn
EOF
mkdir -p "$tmp/data"

for i in $(seq 1 "$MANY_USERS"); do
    echo "u$i@localhost pw"
done | "$BUILD/thekectl" -c "$conf" user import >/dev/null

"$BUILD/theked" -c "$conf" >"$tmp/theked.log" 2>&1 &
pid=$!

# wait_listening PORT NAME: wait up to 10 s until $pid listens on PORT.
wait_listening() {
    local _
    for _ in $(seq 1 200); do
        if ! kill -0 "$pid" 2>/dev/null; then
            break
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    echo "smoke: $2 did not start listening on port $1" >&2
    cat "$log" >&2
    exit 1
}
log=$tmp/theked.log
label=theke
wait_listening "$port" theked

# stop_cleanly NAME: SIGTERM $pid, which must exit with status 0.
stop_cleanly() {
    local rc=0
    kill -TERM "$pid"
    wait "$pid" || rc=$?
    pid=
    if [ "$rc" != 0 ]; then
        echo "smoke: $1 exited with status $rc after SIGTERM" >&2
        cat "$log" >&2
        exit 1
    fi
}

# run NAME LOADGEN-ARGS...: runs loadgen against $pid (its log in $log)
# and checks its JSON line.
run() {
    local name=$1 out
    shift
    local users=${RUN_USERS:-$USERS}
    out=$("$BUILD/loadgen" --host 127.0.0.1 --domain localhost \
        --users "$users" --prefix u --password pw --server-pid "$pid" \
        --label "$label" "$@") || {
        echo "smoke: $name: loadgen failed" >&2
        cat "$log" >&2
        exit 1
    }
    echo "$name: $out"
    /usr/bin/python3 -c '
import json, sys
name, users, r = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
bad = []
for k in ("errors", "lost"):
    if r[k] != 0:
        bad.append("%s = %d" % (k, r[k]))
if r["connections"] != users:
    bad.append("%d of %d logged in" % (r["connections"], users))
if r["scenario"] in ("pairs", "pingpong") and r["messages"] <= 0:
    bad.append("no message delivered")
if r["scenario"] == "idle" and not 0 < r["pings_answered"] == r["pings_sent"]:
    bad.append("pings %d sent, %d answered"
               % (r["pings_sent"], r["pings_answered"]))
if bad:
    sys.exit("smoke: %s: %s" % (name, ", ".join(bad)))
' "$name" "$users" "$out" || exit 1
}

run pairs --port "$port" --pairs "$PAIRS" --window "$WINDOW" \
    --seconds "$SECONDS_RUN"
run login-plain --port "$port" --scenario login --mech plain
run login-direct-tls --port "$tls_port" --scenario login --tls direct
run login-plus --port "$port" --scenario login --tls starttls \
    --mech scram-sha-256-plus
run idle-ping --port "$port" --scenario idle --seconds 2 --ping-interval 1
run pairs-starttls --port "$port" --tls starttls --pairs "$PAIRS" \
    --window "$WINDOW" --seconds "$SECONDS_RUN"
run pairs-procs --port "$port" --procs 2 --pairs "$PAIRS" \
    --window "$WINDOW" --seconds "$SECONDS_RUN"
RUN_USERS=$MANY_USERS run pairs-many --port "$port" \
    --pairs $((MANY_USERS / 2)) --window "$WINDOW" --seconds 1

stop_cleanly theked

floor_port=$(free_port)
log=$tmp/floor.log
label=floor
"$BUILD/floor" --port "$floor_port" --users "$USERS" >"$log" 2>&1 &
pid=$!
wait_listening "$floor_port" floor
run pairs-floor --port "$floor_port" --pairs "$PAIRS" --window "$WINDOW" \
    --seconds 1
stop_cleanly floor
echo "smoke: ok"

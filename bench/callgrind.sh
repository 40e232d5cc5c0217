#!/usr/bin/env bash
# callgrind.sh -- instructions theked executes per delivered message.
#
#   bash bench/callgrind.sh [BUILD_DIR]      (default: build)
#
# Time on a shared 2-core machine is noisy; instruction counts are not.
# theked runs twice under valgrind --tool=callgrind with the same logins
# (20 pairs, PLAIN) and a message phase of two different lengths; the
# difference of the two totals divided by the difference of the messages
# is the cost of one message (parse, route, serialise, syscalls' user
# side), with start-up and logins cancelled out. Prints one JSON line
# and, with CALLGRIND_TOP=N, the N costliest functions of the long run.
set -euo pipefail

BUILD=${1:-build}
PAIRS=20
WINDOW=10
SHORT=2
LONG=6

for b in theked thekectl loadgen; do
    if [ ! -x "$BUILD/$b" ]; then
        echo "callgrind: $BUILD/$b missing; run make $BUILD/$b" >&2
        exit 1
    fi
done
command -v valgrind >/dev/null || {
    echo "callgrind: valgrind is not installed (apt-get install valgrind)" >&2
    exit 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/theke-callgrind.XXXXXX")
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
cat >"$conf" <<EOF
domain = localhost
data_dir = $tmp/data
c2s = 127.0.0.1:$port
c2s_tls = off
http = off
c2s_require_encryption = false
registration = closed
log_level = warn
worker_threads = 1
io_threads = 1
EOF
mkdir -p "$tmp/data"
for i in $(seq 1 $((2 * PAIRS))); do
    echo "u$i@localhost pw"
done | "$BUILD/thekectl" -c "$conf" user import 2>/dev/null

# run SECONDS: prints "INSTRUCTIONS MESSAGES"
run() {
    local out=$tmp/cg.$1
    valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$BUILD/theked" -c "$conf" >"$tmp/theked.log" 2>&1 &
    pid=$!
    local up=0
    for _ in $(seq 1 600); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            up=1
            break
        fi
        sleep 0.1
    done
    if [ "$up" != 1 ]; then
        echo "callgrind: theked did not start" >&2
        cat "$tmp/theked.log" >&2
        exit 1
    fi
    local json
    json=$("$BUILD/loadgen" --port "$port" --users $((2 * PAIRS)) \
        --password pw --mech plain --scenario pairs --pairs $PAIRS \
        --window $WINDOW --seconds "$1" --label theke-callgrind) || {
        echo "callgrind: loadgen failed: $json" >&2
        exit 1
    }
    kill -TERM "$pid"
    wait "$pid" || true
    pid=
    local ir msgs
    ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$out")
    msgs=$(/usr/bin/python3 -c 'import json, sys
print(json.loads(sys.argv[1])["messages"])' "$json")
    echo "$ir $msgs"
}

run $SHORT >"$tmp/short"
run $LONG >"$tmp/long"
read -r ir_short msgs_short <"$tmp/short"
read -r ir_long msgs_long <"$tmp/long"
/usr/bin/python3 - "$ir_short" "$msgs_short" "$ir_long" "$msgs_long" <<'EOF'
import json, sys
ir_s, m_s, ir_l, m_l = (int(x) for x in sys.argv[1:])
if m_l <= m_s:
    sys.exit("callgrind: the long run delivered no more messages "
             "(%d <= %d)" % (m_l, m_s))
print(json.dumps({
    "scenario": "callgrind", "server": "theke",
    "instructions_per_msg": round((ir_l - ir_s) / (m_l - m_s)),
    "messages_short": m_s, "messages_long": m_l,
    "instructions_short": ir_s, "instructions_long": ir_l}))
EOF
if [ -n "${CALLGRIND_TOP:-}" ]; then
    callgrind_annotate "$tmp/cg.$LONG" 2>/dev/null |
        awk '/file:function/ { on = 1; next } on && NF' |
        head -n "$CALLGRIND_TOP"
fi

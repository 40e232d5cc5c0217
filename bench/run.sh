#!/usr/bin/env bash
# run.sh -- theked, Prosody and ejabberd under the same c2s load.
#
#   bash bench/run.sh [BUILD_DIR]      (default: build; `make bench` runs it)
#
# For each server in turn: start it on free loopback ports in a temporary
# directory (bench/peers/SERVER.sh), create the same accounts u1..uN with
# password pw, run the same loadgen scenarios against it, restarting it
# before each run, and stop it.
# Then print the comparison table (bench/peers/results.py). Every line
# loadgen printed is kept in bench/out/results-DATE.jsonl.
#
# Environment:
#   BENCH_SERVERS="theke prosody"   which servers (default: theke,
#                                   prosody, ejabberd and floor)
#   BENCH_QUICK=1                   small sizes and short runs, to check
#                                   the pipeline (about 2 minutes)
#   BENCH_PEER_ARCHIVE=1            Prosody and ejabberd archive every
#                                   message (mod_mam) as theke does
#
# The peers are installed from Debian with apt-get if missing; see the
# comments in bench/peers/prosody.sh and ejabberd.sh for their
# configuration, and README.md "Benchmark" for how to read the table.
# "floor" is bench/floor.c, a relay that moves the messages without any
# server's work: it takes part in the message runs only, to show the
# CPU and latency that relaying over loopback costs by itself.
set -euo pipefail

BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
SERVERS=${BENCH_SERVERS:-theke prosody ejabberd floor}
DOMAIN=localhost
PREFIX=u
PASSWORD=pw
RESULTS_PY="/usr/bin/python3 $HERE/peers/results.py"

if [ "${BENCH_QUICK:-0}" = 1 ]; then
    IDLE_SIZES="200 1000"
    LOGIN_USERS=400
    PAIRS="50:1 50:10 200:1"
    MSG_SECONDS=3
    IDLE_SECONDS=6
    PING_SECONDS=2
    TLS_IDLE="200"
    TLS_PAIRS=50:1
    RATE_RUN=50:2000
    MAX_CONNS=2000
    MAX_SECONDS=10
else
    IDLE_SIZES="1000 10000"
    LOGIN_USERS=2000
    PAIRS="100:1 100:10 1000:1 1000:10"
    MSG_SECONDS=10
    IDLE_SECONDS=10
    PING_SECONDS=5
    TLS_IDLE="1000 10000"
    TLS_PAIRS=100:1
    # K:R -- K pairs, R messages/s in all, for latency at equal load:
    # below what the slowest peer manages with one message in flight.
    RATE_RUN=100:5000
    # As many connections as the machine allows: a process may hold
    # 20 000 descriptors here, the server needs a few more of its own.
    MAX_CONNS=19000
    MAX_SECONDS=60
fi
PING_INTERVAL=5
LOGIN_CONCURRENCY=200
# Each run is bounded, so that one stuck server cannot hold up the rest.
RUN_TIMEOUT=300

# As many accounts as the largest run needs.
NUSERS=$LOGIN_USERS
for n in $IDLE_SIZES $TLS_IDLE $MAX_CONNS; do
    [ "$n" -gt "$NUSERS" ] && NUSERS=$n
done
for kw in $PAIRS $TLS_PAIRS; do
    n=$((2 * ${kw%:*}))
    [ "$n" -gt "$NUSERS" ] && NUSERS=$n
done

for b in theked thekectl loadgen floor; do
    if [ ! -x "$BUILD/$b" ]; then
        echo "bench: $BUILD/$b missing; run make all $BUILD/loadgen $BUILD/floor" >&2
        exit 1
    fi
done
LOADGEN=$(cd "$(dirname "$BUILD/loadgen")" && pwd)/loadgen
export THEKE_BUILD=$(cd "$BUILD" && pwd)

mkdir -p "$HERE/out"
RESULTS=$HERE/out/results-$(date -u +%Y%m%dT%H%M%SZ).jsonl
: > "$RESULTS"

# Up to 19 000 connections over two generator processes; root may raise
# the hard limit, others get what it allows.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

dir=
server=
cleanup() {
    if [ -n "$dir" ]; then
        bash "$HERE/peers/$server.sh" stop "$dir" || true
        rm -rf "$dir"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    /usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# restart: stop the server if it runs and start it again on its
# directory, keeping its accounts. Every run starts on a fresh process, so
# that no run inherits another's connections, queues or garbage, and a
# run's memory growth is not hidden by what an earlier run left in the
# server's allocator.
restart() {
    [ -z "$pid" ] || bash "$HERE/peers/$server.sh" stop "$dir"
    pid=$(bash "$HERE/peers/$server.sh" start "$dir" "$port" "$tlsport" "$DOMAIN")
}

# run NAME TRANSPORT LOADGEN-ARGS...: one loadgen run against a freshly
# started server, its JSON line added to the results file.
run() {
    local name=$1 transport=$2 out err rc=0
    shift 2
    echo "bench: $server, $transport, $name" >&2
    restart
    err=$dir/loadgen.err
    out=$(timeout "$RUN_TIMEOUT" "$LOADGEN" --host 127.0.0.1 --port "$port" \
        --domain "$DOMAIN" --prefix "$PREFIX" --password "$PASSWORD" \
        --server-pid "$pid" --label "$server" --tls "$transport" \
        "$@" 2>"$err") || rc=$?
    # loadgen exits 1 on errors or lost messages but still reports; the
    # table marks such a run.
    out=$(printf '%s\n' "$out" | grep '^{' | tail -n 1) || true
    if [ -n "$out" ]; then
        [ "$rc" = 0 ] ||
            echo "bench: $server $name: status $rc: $(tail -n 3 "$err")" >&2
        printf '%s\n' "$out" |
            $RESULTS_PY add "$RESULTS" "$name" "$server" "$transport"
    else
        echo "bench: $server $name failed (status $rc): $(tail -n 3 "$err")" >&2
        $RESULTS_PY fail "$RESULTS" "$name" "$server" "$transport" \
            "status $rc: $(tail -n 3 "$err")"
    fi
}

for server in $SERVERS; do
    if [ ! -f "$HERE/peers/$server.sh" ]; then
        echo "bench: no bench/peers/$server.sh" >&2
        exit 1
    fi
    dir=$(mktemp -d "${TMPDIR:-/tmp}/theke-bench-$server.XXXXXX")
    # The peers run as their own users and must reach their files.
    chmod 755 "$dir"
    port=$(free_port)
    tlsport=$(free_port)
    echo "bench: starting $server on 127.0.0.1:$port" >&2
    pid=
    restart
    echo "bench: creating $NUSERS accounts on $server" >&2
    bash "$HERE/peers/$server.sh" users "$dir" "$NUSERS" "$PREFIX" "$PASSWORD"

    # The floor logs anyone in without hashing and keeps nothing: only
    # the message runs say something about it.
    messages_only=false
    [ "$server" = floor ] && messages_only=true

    $messages_only || for n in $IDLE_SIZES; do
        run "idle N=$n" none --scenario idle --users "$n" --procs 2 \
            --seconds "$IDLE_SECONDS" --ping-interval "$PING_INTERVAL" \
            --concurrency "$LOGIN_CONCURRENCY" --mech auto
    done
    $messages_only || run "login N=$LOGIN_USERS PLAIN" none --scenario login \
        --users "$LOGIN_USERS" --mech plain \
        --concurrency "$LOGIN_CONCURRENCY" --procs 2
    for kw in $PAIRS; do
        k=${kw%:*}
        w=${kw#*:}
        run "pairs K=$k W=$w" none --scenario pairs --users $((2 * k)) \
            --pairs "$k" --window "$w" --seconds "$MSG_SECONDS" --mech auto
    done
    k=${RATE_RUN%:*}
    r=${RATE_RUN#*:}
    run "pairs K=$k R=$r" none --scenario pairs --users $((2 * k)) \
        --pairs "$k" --window 10 --rate "$r" --seconds "$MSG_SECONDS" \
        --mech auto
    run "pingpong" none --scenario pingpong --users 2 --pairs 1 --window 1 \
        --seconds "$PING_SECONDS" --mech auto
    $messages_only || run "idle N=$MAX_CONNS ${MAX_SECONDS}s" none --scenario idle \
        --users "$MAX_CONNS" --procs 2 --seconds "$MAX_SECONDS" \
        --ping-interval 10 --concurrency "$LOGIN_CONCURRENCY" --mech auto

    $messages_only || for n in $TLS_IDLE; do
        run "idle N=$n" starttls --scenario idle --users "$n" \
            --procs 2 --seconds "$IDLE_SECONDS" \
            --ping-interval "$PING_INTERVAL" \
            --concurrency "$LOGIN_CONCURRENCY" --mech auto
    done
    k=${TLS_PAIRS%:*}
    w=${TLS_PAIRS#*:}
    $messages_only || run "pairs K=$k W=$w" starttls --scenario pairs --users $((2 * k)) \
        --pairs "$k" --window "$w" --seconds "$MSG_SECONDS" --mech auto

    bash "$HERE/peers/$server.sh" stop "$dir"
    rm -rf "$dir"
    dir=
done

# What was measured, for whoever reads the table later.
{
    echo "theke $(git -C "$HERE/.." describe --always --dirty 2>/dev/null ||
        echo '(no git)'), loadgen from the same tree"
    for p in prosody ejabberd erlang-base lua5.4; do
        dpkg-query -W -f '${Package} ${Version}\n' "$p" 2>/dev/null || true
    done
    echo "$(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo |
        head -n 1)), Linux $(uname -r)"
} | tee "${RESULTS%.jsonl}.txt"
$RESULTS_PY table "$RESULTS" $SERVERS | tee -a "${RESULTS%.jsonl}.txt"
echo
echo "bench: results in $RESULTS, table in ${RESULTS%.jsonl}.txt"

#!/usr/bin/env bash
# floor.sh -- start and stop bench/floor.c, the relay that shows what
# moving a message over loopback costs without any server's work.
#
#   bash bench/peers/floor.sh start DIR PORT TLSPORT DOMAIN   (prints the PID)
#   bash bench/peers/floor.sh users DIR N PREFIX PASSWORD
#   bash bench/peers/floor.sh stop DIR
#
# The binary comes from $THEKE_BUILD (default: build). It keeps no
# accounts: "users" only records how many and their prefix, and any
# password logs in. No TLS (TLSPORT is unused).
set -euo pipefail

PEER_NAME=floor
. "$(dirname "$0")/lib.sh"
BUILD=${THEKE_BUILD:-build}

start() {
    local dir=$1 port=$2 domain=$4 users=20000 prefix=u
    [ -x "$BUILD/floor" ] || peer_die "$BUILD/floor missing; run make $BUILD/floor"
    [ -f "$dir/users" ] && read -r users prefix < "$dir/users"
    peer_launch "$dir" "$port" "$dir/floor.log" \
        "$BUILD/floor" --port "$port" --domain "$domain" \
        --prefix "$prefix" --users "$users"
}

users() {
    echo "$2 $3" > "$1/users"
}

stop() {
    peer_stop_pid "$1/pid"
}

peer_main "$@"

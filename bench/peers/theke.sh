#!/usr/bin/env bash
# theke.sh -- start, fill and stop a theked for the benchmark.
#
#   bash bench/peers/theke.sh start DIR PORT TLSPORT DOMAIN   (prints the PID)
#   bash bench/peers/theke.sh users DIR N PREFIX PASSWORD
#   bash bench/peers/theke.sh stop DIR
#
# The binaries come from $THEKE_BUILD (default: build). The configuration
# is the one bench/README.md describes: plaintext allowed on the loopback
# c2s port (which also offers STARTTLS), direct TLS on TLSPORT with a
# generated self-signed certificate, no HTTP, SCRAM with 4096 iterations.
set -euo pipefail

PEER_NAME=theke
. "$(dirname "$0")/lib.sh"
BUILD=${THEKE_BUILD:-build}

start() {
    local dir=$1 port=$2 tlsport=$3 domain=$4
    for b in theked thekectl; do
        [ -x "$BUILD/$b" ] || peer_die "$BUILD/$b missing; run make"
    done
    mkdir -p "$dir/data"
    echo "$domain" > "$dir/domain"
    cat > "$dir/theke.conf" <<EOF
domain = $domain
data_dir = $dir/data
c2s = 127.0.0.1:$port
c2s_tls = 127.0.0.1:$tlsport
http = off
c2s_require_encryption = false
registration = closed
scram_iterations = 4096
log_level = warn
EOF
    peer_launch "$dir" "$port" "$dir/theked.log" \
        "$BUILD/theked" -c "$dir/theke.conf"
}

# thekectl user import, then one salt for all: the peers' accounts share
# one salt too (they are copies of one account), and loadgen computes
# SCRAM's SaltedPassword once per salt, so with a salt per account only
# theke's runs would make the generator spend a PBKDF2 per login.
users() {
    local dir=$1 n=$2 prefix=$3 password=$4 domain i
    domain=$(cat "$dir/domain")
    for ((i = 1; i <= n; i++)); do
        printf '%s%d@%s %s\n' "$prefix" "$i" "$domain" "$password"
    done | "$BUILD/thekectl" -c "$dir/theke.conf" user import >/dev/null ||
        peer_die "thekectl user import failed"
    /usr/bin/python3 - "$dir/data/theke.db" "$prefix" <<'EOF' ||
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=30)
first = sys.argv[2] + "1"
with db:
    db.execute(
        "UPDATE users SET"
        " creds_sha1 = (SELECT creds_sha1 FROM users WHERE username = ?),"
        " creds_sha256 = (SELECT creds_sha256 FROM users WHERE username = ?)"
        " WHERE username GLOB ? AND username != ?",
        (first, first, sys.argv[2] + "[0-9]*", first))
EOF
        peer_die "could not give the accounts one salt"
}

stop() {
    peer_stop_pid "$1/pid"
}

peer_main "$@"

#!/usr/bin/env bash
# prosody.sh -- start, fill and stop a Prosody for the benchmark.
#
#   bash bench/peers/prosody.sh start DIR PORT TLSPORT DOMAIN   (prints the PID)
#   bash bench/peers/prosody.sh users DIR N PREFIX PASSWORD
#   bash bench/peers/prosody.sh stop DIR
#
# Debian 12's prosody (0.12), installed if missing, with its system service
# stopped. The configuration written into DIR is tuned for throughput as
# Prosody's documentation recommends, with nothing that throttles:
# - the epoll network backend, a listen backlog of 1024;
# - Lua 5.4's generational garbage collector (Prosody's default,
#   incremental, gave 45 % of the message rate of 100 pairs with 10 in
#   flight here, for about a quarter less memory per idle connection);
# - mod_limits not loaded (Debian's own config loads it at 10 kB/s);
# - no s2s, no HTTP; c2s on 127.0.0.1:PORT allows plaintext and PLAIN and
#   offers STARTTLS, direct TLS on 127.0.0.1:TLSPORT, self-signed cert;
# - internal_hashed accounts (SCRAM-SHA-1) with 4096 iterations;
# - with BENCH_PEER_ARCHIVE=1, mod_mam archiving every chat message
#   (default_archive_policy = true) in Prosody's default archive storage
#   (internal, files under DIR/data), as theke always does.
# Prosody refuses to run as root, so it runs as the prosody user through
# setpriv (which, unlike su, keeps the raised descriptor limit), with its
# data in DIR owned by that user.
set -euo pipefail

PEER_NAME=prosody
. "$(dirname "$0")/lib.sh"

start() {
    local dir=$1 port=$2 tlsport=$3 domain=$4
    peer_install prosody
    peer_no_service prosody /run/prosody/prosody.pid
    mkdir -p "$dir/data"
    echo "$domain" > "$dir/domain"
    local archive=""
    if [ "${BENCH_PEER_ARCHIVE:-0}" = 1 ]; then
        archive='"mam";'
    fi
    peer_cert "$dir" "$domain" prosody:prosody
    # The certificate directory Prosody indexes at start (certmanager).
    mkdir -p "$dir/certs"
    ln -sfn ../cert.pem "$dir/certs/$domain.crt"
    ln -sfn ../key.pem "$dir/certs/$domain.key"
    cat > "$dir/prosody.cfg.lua" <<EOF
-- Written by bench/peers/prosody.sh; see the comment there.
data_path = "$dir/data"
pidfile = "$dir/prosody.pid"
log = { warn = "$dir/prosody.log" }

network_backend = "epoll"
network_settings = { tcp_backlog = 1024 }
gc = { mode = "generational" }

interfaces = { "127.0.0.1" }
c2s_interfaces = { "127.0.0.1" }
c2s_ports = { $port }
c2s_direct_tls_interfaces = { "127.0.0.1" }
c2s_direct_tls_ports = { $tlsport }
s2s_ports = { }
http_ports = { }
https_ports = { }

c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_hashed"
default_iteration_count = 4096
certificates = "$dir/certs"
ssl = { certificate = "$dir/cert.pem", key = "$dir/key.pem" }

modules_enabled = {
    "roster"; "saslauth"; "tls"; "disco"; "ping"; "version"; $archive
}
default_archive_policy = true
archive_expires_after = "1w"
modules_disabled = { "limits"; "s2s"; "s2s_auth_certs" }

VirtualHost "$domain"
EOF
    chown -R prosody:prosody "$dir"
    cd "$dir"
    peer_launch "$dir" "$port" "$dir/prosody.out" \
        setpriv --reuid=prosody --regid=prosody --init-groups \
        prosody --config "$dir/prosody.cfg.lua" -F
}

# One account through prosodyctl, then its file copied N-1 times under
# the other names: registering 10 000 accounts one prosodyctl call at a
# time takes about 17 minutes. All accounts share one salt, which does
# not matter for a benchmark.
users() {
    local dir=$1 n=$2 prefix=$3 password=$4 domain adir
    domain=$(cat "$dir/domain")
    printf '%s\n%s\n' "$password" "$password" |
        setpriv --reuid=prosody --regid=prosody --init-groups \
            prosodyctl --config "$dir/prosody.cfg.lua" \
            adduser "${prefix}1@$domain" >/dev/null 2>&1 ||
        peer_die "prosodyctl adduser failed"
    # Prosody encodes the host in the data path (util.datamanager).
    adir="$dir/data/$(printf '%s' "$domain" |
        sed 's/%/%25/g; s/\./%2e/g; s/-/%2d/g')/accounts"
    [ -f "$adir/${prefix}1.dat" ] || peer_die "no account file in $adir"
    grep -q 'iteration_count"\] = 4096' "$adir/${prefix}1.dat" ||
        peer_die "account not hashed with 4096 iterations"
    /usr/bin/python3 - "$adir" "$n" "$prefix" <<'EOF'
import os, shutil, sys
adir, n, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
src = os.path.join(adir, prefix + "1.dat")
st = os.stat(src)
for i in range(2, n + 1):
    dst = os.path.join(adir, "%s%d.dat" % (prefix, i))
    shutil.copyfile(src, dst)
    os.chown(dst, st.st_uid, st.st_gid)
EOF
}

stop() {
    peer_stop_pid "$1/pid"
}

peer_main "$@"

#!/usr/bin/env bash
# ejabberd.sh -- start, fill and stop an ejabberd for the benchmark.
#
#   bash bench/peers/ejabberd.sh start DIR PORT TLSPORT DOMAIN   (prints the PID)
#   bash bench/peers/ejabberd.sh users DIR N PREFIX PASSWORD
#   bash bench/peers/ejabberd.sh stop DIR
#
# Debian 12's ejabberd (23.01, Erlang/OTP 25), installed if missing, with
# its system service stopped. The configuration written into DIR has
# nothing that throttles (Debian's own shapes normal users to 3 000 B/s
# and listens with a backlog of 5):
# - no shaper on the c2s listeners (shaper: none) and no c2s_shaper rule,
#   backlog 1024, max_fsm_queue 100 000, access c2s allowing everyone,
#   no mod_fail2ban, no mod_pres_counter;
# - c2s on 127.0.0.1:PORT allows plaintext and PLAIN and offers STARTTLS,
#   direct TLS on 127.0.0.1:TLSPORT, self-signed cert; no s2s, no HTTP;
# - accounts in Mnesia stored as SCRAM (auth_password_format: scram,
#   auth_scram_hash: sha256), 4096 iterations (ejabberd's fixed count,
#   checked after the first account is created);
# - the VM with 2 schedulers (+S 2:2, the machine has 2 cores), kernel
#   poll and the process and port limits ejabberdctl sets;
# - with BENCH_PEER_ARCHIVE=1, mod_mam archiving every chat message
#   (default: always), as theke always does, in Mnesia, ejabberd's
#   default database (with SQLite, through Debian's erlang-p1-sqlite3
#   and ejabberd's lite.sql schema, it was slower here: 350 messages/s
#   for 50 pairs with one message in flight, against 1 300 in Mnesia).
# The node is started directly as the ejabberd user through setpriv,
# not through ejabberdctl: that one switches users with su, whose PAM
# session resets the descriptor limit to 1 024. The Erlang distribution
# (epmd and the node) listens on loopback only.
set -euo pipefail

PEER_NAME=ejabberd
. "$(dirname "$0")/lib.sh"

EJ_LIBS=/usr/lib/x86_64-linux-gnu

start() {
    local dir=$1 port=$2 tlsport=$3 domain=$4
    peer_install ejabberd
    peer_no_service ejabberd /run/ejabberd/ejabberd.pid
    mkdir -p "$dir/spool" "$dir/logs"
    echo "$domain" > "$dir/domain"
    echo "bench$port@localhost" > "$dir/node"
    od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > "$dir/cookie"
    chmod 600 "$dir/cookie"
    peer_cert "$dir" "$domain" ejabberd:ejabberd
    cat "$dir/cert.pem" "$dir/key.pem" > "$dir/ejabberd.pem"
    cat > "$dir/ejabberd.yml" <<EOF
# Written by bench/peers/ejabberd.sh; see the comment there.
hosts:
  - "$domain"
loglevel: warning
log_rotate_count: 0
certfiles:
  - "$dir/ejabberd.pem"
auth_method: internal
auth_password_format: scram
auth_scram_hash: sha256
max_fsm_queue: 100000
disable_sasl_mechanisms:
  - "digest-md5"
  - "X-OAUTH2"
listen:
  -
    port: $port
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls: true
    starttls_required: false
    shaper: none
    access: c2s
    backlog: 1024
    max_fsm_queue: 100000
    max_stanza_size: 262144
  -
    port: $tlsport
    ip: "127.0.0.1"
    module: ejabberd_c2s
    tls: true
    shaper: none
    access: c2s
    backlog: 1024
    max_fsm_queue: 100000
    max_stanza_size: 262144
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
shaper_rules:
  max_user_sessions: 10
  max_user_offline_messages: 1000
modules:
  mod_disco: {}
  mod_ping: {}
  mod_roster:
    versioning: true
  mod_offline:
    access_max_user_messages: max_user_offline_messages
  mod_version: {}
EOF
    if [ "${BENCH_PEER_ARCHIVE:-0}" = 1 ]; then
        cat >> "$dir/ejabberd.yml" <<EOF
  mod_mam:
    default: always
    db_type: mnesia
EOF
    fi
    chown -R ejabberd:ejabberd "$dir"
    cd "$dir/spool"
    peer_launch "$dir" "$port" "$dir/logs/erl.out" \
        env HOME="$dir/spool" \
        EJABBERD_CONFIG_PATH="$dir/ejabberd.yml" \
        EJABBERD_LOG_PATH="$dir/logs/ejabberd.log" \
        ERL_CRASH_DUMP="$dir/logs/erl_crash.dump" \
        ERL_LIBS="$EJ_LIBS" ERL_MAX_PORTS=32000 ERL_MAX_ETS_TABLES=1400 \
        ERL_EPMD_ADDRESS=127.0.0.1 \
        setpriv --reuid=ejabberd --regid=ejabberd --init-groups \
        erl -sname "$(cat "$dir/node")" -setcookie "$(cat "$dir/cookie")" \
        +K true +P 250000 +S 2:2 -env ERL_CRASH_DUMP_BYTES 0 \
        -kernel inet_dist_use_interface '{127,0,0,1}' \
        -mnesia dir "\"$dir/spool\"" -ejabberd log_rotate_count 0 \
        -s ejabberd -noinput
}

# ctl DIR CODE: evaluate Erlang CODE in a hidden node that can reach the
# server's node as Node.
ctl() {
    ERL_EPMD_ADDRESS=127.0.0.1 erl -sname "ctl$$@localhost" -hidden \
        -setcookie "$(cat "$1/cookie")" -noinput \
        -kernel inet_dist_use_interface '{127,0,0,1}' \
        -eval "Node = '$(cat "$1/node")', $2"
}

# One account through ejabberd_auth:try_register/3, then its Mnesia
# record written N-1 times under the other names in one RPC: one
# ejabberdctl register call per account takes hours for 10 000. All
# accounts share one salt, which does not matter for a benchmark.
users() {
    local dir=$1 n=$2 prefix=$3 password=$4 domain out
    domain=$(cat "$dir/domain")
    out=$(EJ_HOST=$domain EJ_PREFIX=$prefix EJ_PASSWORD=$password EJ_N=$n \
        ctl "$dir" '
        Env = fun(K) -> list_to_binary(os:getenv(K)) end,
        Host = Env("EJ_HOST"), Prefix = Env("EJ_PREFIX"),
        N = binary_to_integer(Env("EJ_N")),
        U1 = <<Prefix/binary, "1">>,
        case rpc:call(Node, ejabberd_auth, try_register,
                      [U1, Host, Env("EJ_PASSWORD")]) of
            ok -> ok;
            {error, exists} -> ok;
            Err -> io:format("try_register: ~p~n", [Err]), halt(1)
        end,
        [Rec] = rpc:call(Node, mnesia, dirty_read, [passwd, {U1, Host}]),
        Recs = [setelement(2, Rec, {<<Prefix/binary,
                                      (integer_to_binary(I))/binary>>, Host})
                || I <- lists:seq(2, N)],
        ok = rpc:call(Node, lists, foreach, [fun mnesia:dirty_write/1, Recs],
                      600000),
        io:format("~p~n", [element(3, Rec)]),
        halt(0).' 2>&1) || peer_die "creating accounts failed: $out"
    # {scram, StoredKey, ServerKey, Salt, sha256, 4096}
    case $out in
    *"sha256,4096}"*) ;;
    *) peer_die "accounts not stored as SCRAM-SHA-256, 4096 iterations: $out" ;;
    esac
}

stop() {
    peer_stop_pid "$1/pid"
    # epmd was started by this node; stop it when no node is left.
    if command -v epmd >/dev/null &&
        ! ERL_EPMD_ADDRESS=127.0.0.1 epmd -names 2>/dev/null | grep -q '^name '; then
        ERL_EPMD_ADDRESS=127.0.0.1 epmd -kill >/dev/null 2>&1 || true
    fi
}

peer_main "$@"

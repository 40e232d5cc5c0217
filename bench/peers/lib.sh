# lib.sh -- helpers shared by the bench/peers/*.sh server wrappers.
#
# Sourced, not run. Each wrapper starts one XMPP server on loopback in a
# directory it is given, creates accounts fast, and stops it again. The
# servers run detached from the caller, with their output in DIR, so a
# caller can read the PID from the wrapper's standard output.

# Descriptors for 10 000 client connections and the server's own files.
# setpriv keeps resource limits, unlike su, which resets them through PAM.
PEER_NOFILE=20000

peer_die() {
    echo "$PEER_NAME: $*" >&2
    exit 1
}

# peer_alive PID: true while PID runs. A process that exited but was not
# reaped (its parent, the start call, is gone) is a zombie and counts as
# dead.
peer_alive() {
    local state
    [ -r "/proc/$1/stat" ] || return 1
    state=$(sed 's/^.*) \(.\).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# peer_install PKG...: apt-get install the packages that are missing. The
# Debian packages start their system service on install; a policy-rc.d
# that denies every start keeps them from holding 5222 and other ports.
peer_install() {
    local missing=() p own_policy=0
    for p in "$@"; do
        if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
            missing+=("$p")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "$PEER_NAME: installing ${missing[*]}" >&2
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    local rc=0
    apt-get update -q >&2 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends "${missing[@]}" >&2 || rc=$?
    [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    [ "$rc" = 0 ] || peer_die "apt-get install ${missing[*]} failed"
}

# peer_no_service NAME PIDFILE: stop the Debian service NAME and keep it
# from starting at boot, so only the instance under test serves. Without
# systemd, only if PIDFILE names a live process: ejabberd's init script
# starts an epmd on all interfaces just to find out nothing runs.
peer_no_service() {
    local pid
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        systemctl disable --now "$1" >/dev/null 2>&1 || true
        return 0
    fi
    pid=$(cat "$2" 2>/dev/null) || return 0
    if [ -n "$pid" ] && peer_alive "$pid" && [ -x "/etc/init.d/$1" ]; then
        echo "$PEER_NAME: stopping the $1 system service" >&2
        "/etc/init.d/$1" stop >/dev/null 2>&1 || true
    fi
}

# peer_cert DIR DOMAIN OWNER: a self-signed certificate for DOMAIN in
# DIR/cert.pem and DIR/key.pem, readable by OWNER.
peer_cert() {
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=$2" \
        -addext "subjectAltName=DNS:$2" \
        -keyout "$1/key.pem" -out "$1/cert.pem" >/dev/null 2>&1 ||
        peer_die "openssl req failed"
    chown "$3" "$1/key.pem" "$1/cert.pem"
    chmod 600 "$1/key.pem"
}

# peer_wait_port PORT PID LOG: wait up to 60 s until 127.0.0.1:PORT
# accepts, failing with the server's log if PID exits first.
peer_wait_port() {
    local i
    for i in $(seq 1 600); do
        if ! peer_alive "$2"; then
            tail -n 40 "$3" >&2 2>/dev/null
            peer_die "server exited before listening on $1"
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    tail -n 40 "$3" >&2 2>/dev/null
    peer_die "nothing listens on 127.0.0.1:$1 after 60 s"
}

# peer_stop_pid PIDFILE: SIGTERM the process, SIGKILL it after 30 s.
peer_stop_pid() {
    local pid i
    [ -f "$1" ] || return 0
    pid=$(cat "$1")
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 300); do
        peer_alive "$pid" || break
        sleep 0.1
    done
    if peer_alive "$pid"; then
        echo "$PEER_NAME: $pid ignored SIGTERM, killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$1"
}

# peer_launch DIR PORT LOG CMD...: run CMD detached, with its output in
# LOG and the raised descriptor limit, record its PID in DIR/pid, wait
# until it listens on PORT, and print the PID.
peer_launch() {
    local dir=$1 port=$2 log=$3 pid
    shift 3
    ulimit -n "$PEER_NOFILE" 2>/dev/null || {
        echo "$PEER_NAME: descriptor limit $(ulimit -Hn), not $PEER_NOFILE" >&2
        ulimit -n "$(ulimit -Hn)"
    }
    setsid "$@" </dev/null >"$log" 2>&1 &
    pid=$!
    echo "$pid" > "$dir/pid"
    peer_wait_port "$port" "$pid" "$log"
    echo "$pid"
}

# peer_main "$@": dispatch to the wrapper's start, users and stop.
peer_main() {
    case ${1:-} in
    start)
        [ $# = 5 ] || peer_die "usage: start DIR PORT TLSPORT DOMAIN"
        start "${@:2}"
        ;;
    users)
        [ $# = 5 ] || peer_die "usage: users DIR N PREFIX PASSWORD"
        users "${@:2}"
        ;;
    stop)
        [ $# = 2 ] || peer_die "usage: stop DIR"
        stop "$2"
        ;;
    *) peer_die "usage: start|users|stop ..." ;;
    esac
}

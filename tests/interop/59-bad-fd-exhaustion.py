#!/usr/bin/python3
"""Out of file descriptors: theked stops accepting for a moment instead of
spinning on accept(), says so in its log, and serves new clients again
once descriptors are free. Clients already logged in keep chatting."""
import os
import socket
import time

import theke
from theke import check

FD_LIMIT = 64


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])     # utime + stime


async def main(srv):
    alice = await srv.client("alice", resource="a")
    bob = await srv.client("bob", resource="b")
    socks = []
    for _ in range(FD_LIMIT + 16):
        s = socket.create_connection(("127.0.0.1", srv.c2s_port), timeout=5)
        socks.append(s)
    time.sleep(0.5)
    check("out of file descriptors" in srv.log_tail(20000),
          "no log line about running out of descriptors")
    # Spinning on a readable listener would burn a whole core.
    before = cpu_ticks(srv.proc.pid)
    time.sleep(1.0)
    used = cpu_ticks(srv.proc.pid) - before
    hz = os.sysconf("SC_CLK_TCK")
    check(used < hz // 4,
          "theked used %d%% of a CPU while out of descriptors" %
          (100 * used // hz))
    await theke.exchange(alice, bob)
    for s in socks:
        s.close()
    time.sleep(0.5)
    carol = await srv.client("carol", resource="c")
    await theke.exchange(carol, alice)


theke.run(main, users=["alice", "bob", "carol"], fd_limit=FD_LIMIT)

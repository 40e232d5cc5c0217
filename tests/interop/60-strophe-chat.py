#!/usr/bin/python3
"""libstrophe (C) logs in over STARTTLS and direct TLS, pings the server
and chats with a slixmpp client.  The client is built from
strophe_client.c with Debian's libstrophe-dev."""
import asyncio
import os
import subprocess

import theke
from theke import check

HERE = os.path.dirname(os.path.abspath(__file__))


async def main(srv):
    exe = os.path.join(srv.dir, "strophe_client")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs",
                            "libstrophe"], capture_output=True, text=True)
    check(flags.returncode == 0, "libstrophe-dev is not installed "
          "(scripts/deps.sh installs it): %s" % flags.stderr.strip())
    cc = subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-Wall",
                         "-Wextra", "-o", exe,
                         os.path.join(HERE, "strophe_client.c")] +
                        flags.stdout.split(), capture_output=True, text=True)
    check(cc.returncode == 0, "building strophe_client failed:\n%s" %
          cc.stderr)

    bob = await srv.client("bob", resource="echo")

    def echo(msg):
        if msg["body"] and not msg["body"].startswith("echo: "):
            bob.send_message(mto=msg["from"], mbody="echo: " + msg["body"],
                             mtype="chat")
    bob.add_event_handler("message", echo)

    for mode, port in (("starttls", srv.c2s_port),
                       ("directtls", srv.tls_port)):
        proc = await asyncio.create_subprocess_exec(
            exe, srv.jid("alice") + "/strophe-" + mode,
            theke.password("alice"), str(port), srv.jid("bob"), mode,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), 30)
        except asyncio.TimeoutError:
            proc.kill()
            theke.fail("libstrophe client (%s) hung" % mode)
        out = out.decode("utf-8", "replace")
        check(proc.returncode == 0,
              "libstrophe client over %s: exit status %d; it saw:\n%s" % (
                  mode, proc.returncode, out))
        check("secured=1" in out, "libstrophe over %s not secured:\n%s" % (
            mode, out))


theke.run(main, users=["alice", "bob"])

#!/usr/bin/python3
"""Socket reads and writes spread over I/O threads (io_threads = 3) keep
every conversation in order and lose nothing: 40 TLS clients each send
bursts to a neighbour at the same moment, so many sockets are ready in
the same loop turn and go through the parallel path."""
import re

import theke
from theke import check

N = 40
ROUNDS = 5


async def main(srv):
    users = ["p%d" % i for i in range(N)]

    def login_all():
        raws = []
        for u in users:
            r = theke.Raw(srv)
            r.login(u, resource="r")
            r.read_until(r"<presence", 5, "own presence of %s" % u)
            raws.append(r)
        return raws
    raws = await theke.in_thread(login_all)

    def exchange():
        for rnd in range(ROUNDS):
            # Everyone writes before anyone reads.
            for i, r in enumerate(raws):
                to = srv.jid(users[(i + 1) % N]) + "/r"
                burst = "".join(
                    "<message to='%s' type='chat'><body>%d-%d-%d</body>"
                    "</message>" % (to, i, rnd, k) for k in range(3))
                r.send(burst)
            for i, r in enumerate(raws):
                sender = (i - 1) % N
                for k in range(3):
                    data = r.read_until(r"</message>", 10,
                                        "message %d of round %d to %s" %
                                        (k, rnd, users[i]))
                    m = re.search(rb"<body>([^<]*)</body>", data)
                    got = m.group(1).decode() if m else None
                    want = "%d-%d-%d" % (sender, rnd, k)
                    check(got == want, "%s got %r, expected %r" % (
                        users[i], got, want))
    await theke.in_thread(exchange)
    for r in raws:
        r.close()


theke.run(main, users=["p%d" % i for i in range(N)],
          config={"io_threads": "3"})

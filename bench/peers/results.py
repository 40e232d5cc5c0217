#!/usr/bin/python3
"""results.py -- collect loadgen's JSON lines and print the comparison.

    results.py add FILE RUN SERVER TLS     (one loadgen line on stdin)
    results.py fail FILE RUN SERVER TLS MESSAGE
    results.py table FILE [SERVER...]

`add` appends loadgen's line to FILE with three keys of its own: `run`
(which scenario and size, e.g. "pairs K=100 W=1"), `peer` (theke, prosody
or ejabberd) and `transport` (none or starttls, as --tls). `fail` appends a line
that marks a run that did not complete. `table` prints one table per
transport: a row per run and metric, a column per server, and the ratios
theke/peer oriented so that a value above 1 means theke did better
(higher rates, lower latency, memory and CPU).

Standard library only; run with Debian's /usr/bin/python3.
"""
import json
import sys

# (loadgen field, label, True if higher is better, format)
METRICS = {
    "idle": [
        ("connections", "connections", True, "{:.0f}"),
        ("logins_per_s", "logins/s", True, "{:.0f}"),
        ("login_server_ms", "server CPU ms/login", False, "{:.2f}"),
        ("rss_per_conn_kib", "server RSS KiB/conn", False, "{:.1f}"),
        ("pings_answered_pct", "pings answered %", True, "{:.1f}"),
    ],
    "login": [
        ("logins_per_s", "logins/s", True, "{:.0f}"),
        ("login_server_ms", "server CPU ms/login", False, "{:.2f}"),
    ],
    "pairs": [
        ("msgs_per_s", "msgs/s", True, "{:.0f}"),
        ("p50_ms", "p50 ms", False, "{:.2f}"),
        ("p99_ms", "p99 ms", False, "{:.2f}"),
        ("server_cpu_us_per_msg", "server CPU us/msg", False, "{:.1f}"),
    ],
    "pingpong": [
        ("msgs_per_s", "msgs/s", True, "{:.0f}"),
        ("p50_ms", "p50 ms", False, "{:.3f}"),
        ("p99_ms", "p99 ms", False, "{:.3f}"),
        ("server_cpu_us_per_msg", "server CPU us/msg", False, "{:.1f}"),
    ],
}

TRANSPORTS = [("none", "plaintext c2s"), ("starttls", "c2s over STARTTLS")]


def add(path, run, peer, transport, line):
    try:
        rec = json.loads(line)
    except ValueError:
        return fail(path, run, peer, transport, "unreadable output: " + line)
    rec.update(run=run, peer=peer, transport=transport)
    with open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")
    return 0


def fail(path, run, peer, transport, message):
    rec = {"run": run, "peer": peer, "transport": transport,
           "failed": True, "message": message.strip()[-400:]}
    with open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")
    return 0


def derive(r):
    """Add the per-login and per-ping figures the table shows."""
    if r.get("pings_sent"):
        r["pings_answered_pct"] = (100.0 * r.get("pings_answered", 0)
                                   / r["pings_sent"])
    if r.get("connections") and r.get("login_server_cpu_s") is not None:
        r["login_server_ms"] = (1000.0 * r["login_server_cpu_s"]
                                / r["connections"])


def cell(rec, field, fmt):
    """The text of one value, with its markers; None if not measured."""
    if rec is None:
        return "-", None
    if rec.get("failed"):
        return "FAIL", None
    v = rec.get(field)
    if v is None:
        return "n/a", None
    text = fmt.format(v)
    if rec.get("gen_limited"):
        text += "*"
    if rec.get("errors") or rec.get("lost"):
        text += "!"
    return text, float(v)


def ratio(theke, peer, higher_better):
    if theke is None or peer is None:
        return "-"
    if not higher_better and (theke <= 0 or peer <= 0):
        # A negative memory delta is noise of a small run, not a figure.
        return "-"
    if higher_better:
        num, den = theke, peer
    else:
        num, den = peer, theke
    if den == 0:
        return "inf" if num > 0 else "-"
    return "{:.2f}".format(num / den)


def table(path, servers):
    recs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                recs.append(json.loads(line))
    for r in recs:
        derive(r)
    if not servers:
        servers = []
        for r in recs:
            if r["peer"] not in servers:
                servers.append(r["peer"])
    peers = [s for s in servers if s != "theke"]
    cols = ["run", "metric"] + servers
    if "theke" in servers:
        cols += ["theke/" + p for p in peers]
    notes = []
    for transport, title in TRANSPORTS:
        runs = []
        for r in recs:
            if r["transport"] == transport and r["run"] not in runs:
                runs.append(r["run"])
        if not runs:
            continue
        rows = []
        for run in runs:
            by_peer = {r["peer"]: r for r in recs
                       if r["transport"] == transport and r["run"] == run}
            kind = run.split()[0]
            for field, label, higher, fmt in METRICS.get(kind, []):
                row = [run, label]
                vals = {}
                for s in servers:
                    text, vals[s] = cell(by_peer.get(s), field, fmt)
                    row.append(text)
                if "theke" in servers:
                    for p in peers:
                        row.append(ratio(vals["theke"], vals[p], higher))
                rows.append(row)
                run = ""
            for s in servers:
                r = by_peer.get(s)
                if r and r.get("failed"):
                    notes.append("%s %s %s failed: %s"
                                 % (title, r["run"], s, r["message"]))
                elif r and (r.get("errors") or r.get("lost")):
                    notes.append("%s %s %s: errors %s, lost %s"
                                 % (title, r["run"], s, r.get("errors"),
                                    r.get("lost")))
        print("\n" + title)
        widths = [max(len(str(x)) for x in col)
                  for col in zip(cols, *rows)]
        for i, row in enumerate([cols] + rows):
            print("  ".join(str(x).ljust(w) if j < 2 else str(x).rjust(w)
                            for j, (x, w) in enumerate(zip(row, widths))))
            if i == 0:
                print("  ".join("-" * w for w in widths))
    print("\nRatios: theke/peer for rates, peer/theke for latency, memory "
          "and CPU; above 1 means theke did better.")
    print("* the generator was the limit (gen_limited): the server may do "
          "more.  ! errors or lost messages (listed below).")
    for n in notes:
        print("  " + n)
    return 0


def main(argv):
    if len(argv) >= 6 and argv[1] == "add":
        return add(argv[2], argv[3], argv[4], argv[5], sys.stdin.read())
    if len(argv) >= 7 and argv[1] == "fail":
        return fail(argv[2], argv[3], argv[4], argv[5], argv[6])
    if len(argv) >= 3 and argv[1] == "table":
        return table(argv[2], argv[3:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

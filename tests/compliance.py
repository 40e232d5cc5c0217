#!/usr/bin/python3
"""compliance.py -- the XEP-0479 summary: which server requirements of
the Core, Web, IM, Mobile and A/V suites a test covers.

    /usr/bin/python3 tests/compliance.py [tests/compliance.tsv]

Reads the table (see the comment at its top), checks that every test it
names exists, and prints one line per feature: covered (with its tests),
or not covered. A feature is never counted as covered without a test.
Exits 1 when the table is malformed or names a test that does not exist.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LEVELS = ("yes", "no", "n/a")


def load(path):
    rows, errors = [], []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) != 7:
                errors.append("%s:%d: %d columns, expected 7"
                              % (path, n, len(cols)))
                continue
            suite, feature, server, adv, providers, tests, note = cols
            if server not in LEVELS or adv not in LEVELS:
                errors.append("%s:%d: levels must be yes, no or n/a" %
                              (path, n))
                continue
            names = [] if tests.strip() == "-" else tests.split()
            for t in names:
                if not os.path.isfile(os.path.join(HERE, t)):
                    errors.append("%s:%d: %s: no such test %s"
                                  % (path, n, feature, t))
            rows.append(dict(suite=suite, feature=feature, server=server,
                             advanced=adv, providers=providers, tests=names,
                             note=note))
    return rows, errors


def main(argv):
    path = argv[1] if len(argv) > 1 else os.path.join(HERE, "compliance.tsv")
    rows, errors = load(path)
    for e in errors:
        print("compliance: " + e, file=sys.stderr)
    if errors:
        return 1
    width = max(len(r["feature"]) for r in rows)
    counts = {"server": [0, 0], "advanced": [0, 0]}
    suite = None
    print("XEP-0479 (Compliance Suites 2023), server side")
    for r in rows:
        if r["suite"] != suite:
            suite = r["suite"]
            print("\n%s" % suite)
        covered = bool(r["tests"])
        for level in ("server", "advanced"):
            if r[level] == "yes":
                counts[level][1] += 1
                counts[level][0] += covered
        need = ("required" if r["server"] == "yes" else
                "advanced" if r["advanced"] == "yes" else "not required")
        state = ("covered: " + " ".join(os.path.basename(t)
                                       for t in r["tests"])
                 if covered else "NOT COVERED")
        print("  %-*s  %-12s %-28s %s%s" % (
            width, r["feature"], need, r["providers"], state,
            "  (%s)" % r["note"] if r["note"] else ""))
    print("\nserver level: %d of %d required features covered by tests"
          % tuple(counts["server"]))
    print("advanced server level: %d of %d covered by tests"
          % tuple(counts["advanced"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

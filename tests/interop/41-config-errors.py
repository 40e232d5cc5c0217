#!/usr/bin/python3
"""A bad config file stops theked (and thekectl) with a non-zero exit
status and a message naming the offending line."""
import os
import re
import subprocess

import theke
from theke import check

GOOD = ["# comment", "domain = localhost", "data_dir = %(data)s",
        "c2s = 127.0.0.1:%(port)d", "c2s_tls = off", "http = off"]

CASES = [
    ("unknown key", "no_such_key = 1", "no_such_key"),
    ("bad integer", "max_stanza_size = lots", "max_stanza_size"),
    ("bad enum", "registration = maybe", "registration"),
    ("bad level", "log_level = loud", "log_level"),
    ("bad address", "c2s_tls = 127.0.0.1:99999", "c2s_tls"),
    ("bad boolean", "c2s_require_encryption = perhaps",
     "c2s_require_encryption"),
    ("no equals sign", "domain localhost", None),
]


def names_line(text, lineno):
    return re.search(r"(line\s*%d\b|:%d\b)" % (lineno, lineno), text)


async def main(srv):
    port = theke.free_ports(1)[0]
    d = os.path.join(srv.dir, "bad")
    os.makedirs(os.path.join(d, "data"))
    conf = os.path.join(d, "bad.conf")
    for what, line, key in CASES:
        lines = [l % {"data": os.path.join(d, "data"), "port": port}
                 for l in GOOD] + [line]
        lineno = len(lines)
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        for prog, args in ((theke.THEKED, []),
                           (theke.THEKECTL, ["user", "list"])):
            try:
                r = subprocess.run([prog, "-c", conf] + args,
                                   capture_output=True, text=True,
                                   timeout=5, cwd=d)
            except subprocess.TimeoutExpired:
                theke.fail("%s kept running with a config with %s (%r)" % (
                    os.path.basename(prog), what, line))
            name = os.path.basename(prog)
            theke.check_no_sanitizer(r.stderr, name)
            check(r.returncode != 0, "%s accepted a config with %s (%r)" % (
                name, what, line))
            check(names_line(r.stderr, lineno),
                  "%s: message for %s does not name line %d: %r" % (
                      name, what, lineno, r.stderr))
            if key is not None and name == "theked":
                check(key in r.stderr, "%s: message for %s does not name "
                      "the key %s: %r" % (name, what, key, r.stderr))

    r = subprocess.run([theke.THEKED, "-c", os.path.join(d, "missing.conf")],
                       capture_output=True, text=True, timeout=5)
    check(r.returncode != 0 and r.stderr.strip(),
          "theked with a missing config file: status %d, %r" % (
              r.returncode, r.stderr))


theke.run(main, users=[])

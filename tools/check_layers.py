#!/usr/bin/env python3
"""Checks the one-way layering of src/ (README "Architecture"): a file may include headers of
its own folder and of folders strictly BELOW it; nothing includes a folder above it, and
folders on the same level do not include each other.  Only store/ includes sqlite3.h.

    util            0   helpers (JSON, time, base64url, log, status)
    net             0.25 the one outbound HTTP client (URL parsing, loopback rule, TLS)
    config.h        0.5 the parsed configuration (src/config.*, src/version.h)
    fhir, auth      1   the FHIR model (pure) / token validation and decisions
    store           2   SQLite only (implements auth's persistence interface)
    service         3   the interaction layer: every data access, with the caller's Access
    sync            4   store-and-forward to an upstream server
    http            5   the REST API (parses and formats only)
    app             5.5 the wiring of a running server from a parsed config (and its checks)
    cli             6   the command-line front-ends, one file per command
    main.cpp        7

Exit 1 listing every violation.  Run by `make test` (and so by CI)."""
import os
import re
import sys

RANK = {"util": 0, "net": 0.25, "config": 0.5, "version": 0.5, "fhir": 1, "auth": 1, "store": 2, "service": 3, "sync": 4, "http": 5, "app": 5.5, "cli": 6,
        "main": 7}
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
INCLUDE = re.compile(r'^\s*#\s*include\s+[<"]([^">]+)[">]')


def folder_of(rel):
    parts = rel.split("/")
    if len(parts) == 1:
        return "main" if parts[0].startswith("main.") else parts[0].split(".")[0]
    return parts[0]


def main():
    bad = []
    for dirpath, _, files in os.walk(ROOT):
        for f in sorted(files):
            if not f.endswith((".h", ".cpp")):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, ROOT).replace(os.sep, "/")
            me = folder_of(rel)
            if me not in RANK:
                bad.append("%s: folder '%s' has no layer (add it to tools/check_layers.py)" % (rel, me))
                continue
            with open(path, encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    inc = m.group(1)
                    if inc == "sqlite3.h" and me != "store":
                        bad.append("%s:%d includes sqlite3.h (only store/ may)" % (rel, n))
                        continue
                    if "/" not in inc and inc not in ("config.h", "version.h"):
                        continue  # system or library header
                    them = "config" if inc in ("config.h", "version.h") else inc.split("/")[0]
                    if them not in RANK:
                        continue
                    if them == me:
                        continue
                    if RANK[them] >= RANK[me]:
                        bad.append("%s:%d includes %s: %s (layer %g) may not include %s (layer %g)" %
                                   (rel, n, inc, me, RANK[me], them, RANK[them]))
    for b in bad:
        print("layering: " + b)
    print("layering: %s" % ("ok" if not bad else "%d violation(s)" % len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Instructions per create, the deterministic twin of tools/bench_writes.py (not part of
`make bench`): the server under `valgrind --tool=callgrind`, 16 wrk clients sending the same
small POST /Observation (tools/bench/post_observation.lua) for SECONDS after a 3-s warm-up;
counters zeroed (callgrind_control -z) after the warm-up and dumped at the end, creates
counted in the database.  Wall-clock figures on a shared 2-core machine swing with the
neighbours; instruction counts do not, so a change to the CPU per create can be measured
alone.  Usage:
  python3 tools/callgrind_writes.py BINARY on|off process|power [SECONDS]
prints Ir per create and the mean group size of the measured part, and leaves the dump
(callgrind_annotate --inclusive=yes DIR/callgrind.out.1) in the temporary folder it names."""
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
import bench_writes  # noqa: E402


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    binary, gc, dur = os.path.abspath(sys.argv[1]), sys.argv[2] == "on", sys.argv[3]
    secs = sys.argv[4] if len(sys.argv) > 4 else "10"
    tmp = tempfile.mkdtemp(prefix="edgefhir-callgrind-")
    port = bench.free_port()
    db = os.path.join(tmp, "db.sqlite")
    cfg = {"listen": "127.0.0.1:%d" % port, "database": db, "auth": {"required": False}, "log_level": "warn",
           "durability": dur, "writer": {"group_commit": gc}}
    with open(os.path.join(tmp, "config.json"), "w") as f:
        json.dump(cfg, f)
    out = os.path.join(tmp, "callgrind.out")
    p = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, binary, "serve", "--config",
                          os.path.join(tmp, "config.json")], stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(tmp, "valgrind.err"), "w"))
    try:
        bench.wait_http(port, timeout=300)

        def count():
            c = sqlite3.connect(db)
            n = c.execute("SELECT COUNT(*) FROM resource").fetchone()[0]
            c.close()
            return n

        def metrics():
            return urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=60).read().decode()

        def val(name, m):
            mm = re.search(r"^%s (\S+)$" % re.escape(name), m, re.M)
            return float(mm.group(1)) if mm else 0.0
        wrk = ["wrk", "-t2", "-c16", "-s", bench_writes.SCRIPT, "http://127.0.0.1:%d" % port]
        subprocess.run(wrk[:3] + ["-d3s"] + wrk[3:], capture_output=True)
        time.sleep(1)
        n0, m0 = count(), metrics()
        subprocess.run(["callgrind_control", "-z", str(p.pid)], capture_output=True)
        subprocess.run(wrk[:3] + ["-d%ss" % secs] + wrk[3:], capture_output=True)
        time.sleep(2)
        subprocess.run(["callgrind_control", "-d", str(p.pid)], capture_output=True)
        n1, m1 = count(), metrics()
    finally:
        p.terminate()
        p.wait(120)
    with open(out + ".1") as f:
        ir = int(re.search(r"^(?:summary|totals): (\d+)", f.read(), re.M).group(1))
    k = "edgefhir_database_write_group_size_"
    groups = val(k + "count", m1) - val(k + "count", m0)
    g = (val(k + "sum", m1) - val(k + "sum", m0)) / groups if groups else 0
    n = n1 - n0
    print("%s group_commit=%s durability=%s: %d creates, %d instructions, %.0f per create, mean group %.2f; dump in %s"
          % (binary, "on" if gc else "off", dur, n, ir, ir / max(1, n), g, tmp))


if __name__ == "__main__":
    main()

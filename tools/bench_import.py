#!/usr/bin/env python3
"""Benchmark section `import` (run by `make bench` through tools/bench.py, or alone:
`python3 tools/bench_import.py`).  Loads every Synthea bundle in ../shared/testdata/synthea
(the number of resources is counted from the files) three ways, in the same run:

  floor   plain SQLite from Python: one table (id, json), the same JSON texts, one transaction
          per bundle, WAL with synchronous=NORMAL.  The cost of storing the bytes, nothing else.
  import  `edgefhir import DIR` into an empty database (full indexing, default durability).
  http    each bundle as a transaction (POST /) against `edgefhir serve`, auth off, empty
          database, default durability, one keep-alive connection.

and prints resources/s for each and its ratio to the floor, by wall-clock time and by CPU time
(user + system of the process doing the work: Python for the floor, the import process, the
server process), because this machine is shared and wall-clock times are noisy.  Targets: import >= 10,000/s,
http >= 5,000/s.  Also reports a second `edgefhir import` of the same files (resume: nothing
to write).  EDGEFHIR_BIN selects the binary (default build/edgefhir); BENCH_IMPORT_RUNS the
number of repetitions (best run reported, default 1)."""
import glob
import resource
import http.client
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, os.environ.get("EDGEFHIR_BIN", "build/edgefhir"))
# The full Synthea set (98 patients) beside the checkout when there is one, else the in-repo sample
# (tests/data/synthea, 8 patients); main() prints which.
_FULL = os.path.join(os.path.dirname(ROOT), "shared", "testdata", "synthea")
DATA = _FULL if os.path.isdir(_FULL) else os.path.join(ROOT, "tests", "data", "synthea")
DATA_NAME = ("the full Synthea set (%s)" % _FULL) if DATA == _FULL else \
    "the in-repo sample tests/data/synthea (no ../shared/testdata/synthea beside the checkout)"
RUNS = int(os.environ.get("BENCH_IMPORT_RUNS", "1"))
TARGETS = {"import": 10000, "http": 5000}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_bundles():
    files = sorted(glob.glob(os.path.join(DATA, "*.json")))
    bundles = []
    for f in files:
        with open(f, "rb") as fh:
            raw = fh.read()
        doc = json.loads(raw)
        if doc.get("resourceType") != "Bundle":
            continue
        bundles.append((f, raw, doc))
    return bundles


def floor(bundles, tmp):
    """Plain SQLite insert of the same resource texts: one table, one transaction per bundle."""
    texts = []
    for _, _, doc in bundles:
        rows = []
        for e in doc.get("entry", []):
            r = e["resource"]
            rid = e.get("fullUrl", "").rsplit(":", 1)[-1] or r.get("id")
            rows.append((r["resourceType"] + "/" + rid, json.dumps(r, separators=(",", ":"))))
        texts.append(rows)
    path = os.path.join(tmp, "floor.sqlite")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE resource (id TEXT PRIMARY KEY, json TEXT NOT NULL)")
    n = 0
    t0 = time.perf_counter()
    c0 = time.process_time()
    for rows in texts:
        db.execute("BEGIN")
        db.executemany("INSERT OR REPLACE INTO resource (id, json) VALUES (?, ?)", rows)
        db.execute("COMMIT")
        n += len(rows)
    dt = time.perf_counter() - t0
    cpu = time.process_time() - c0
    db.close()
    return n, dt, cpu


def write_config(tmp, name, port=None, extra=None):
    cfg = {"database": os.path.join(tmp, name + ".sqlite"), "auth": {"required": False}, "log_level": "warn"}
    cfg.update(extra or {})
    if port:
        cfg["listen"] = "127.0.0.1:%d" % port
    path = os.path.join(tmp, name + ".json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def run_import(tmp, name, expected):
    cfg = write_config(tmp, name)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run([BIN, "import", "--config", cfg, "--no-progress", DATA], cwd=ROOT, capture_output=True,
                       text=True, timeout=600)
    dt = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if p.returncode != 0:
        raise RuntimeError("edgefhir import failed (%d): %s %s" % (p.returncode, p.stdout, p.stderr[-2000:]))
    return dt, cpu, p.stdout.strip()


def run_http(bundles, tmp, name, expected, extra=None):
    port = free_port()
    cfg = write_config(tmp, name, port, extra)
    log = open(os.path.join(tmp, name + ".log"), "wb")
    proc = subprocess.Popen([BIN, "serve", "--config", cfg], cwd=ROOT, stdout=log, stderr=log)
    try:
        deadline = time.time() + 10
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/metadata")
                c.getresponse().read()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError("server did not start")
                time.sleep(0.02)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        n = 0
        c0 = proc_cpu(proc.pid)
        t0 = time.perf_counter()
        for f, raw, _ in bundles:
            c.request("POST", "/", body=raw, headers={"Content-Type": "application/fhir+json",
                                                      "Prefer": "return=minimal"})
            r = c.getresponse()
            body = r.read()
            if r.status != 200:
                raise RuntimeError("%s: HTTP %d %s" % (os.path.basename(f), r.status, body[:500]))
            n += len(json.loads(body)["entry"])
        dt = time.perf_counter() - t0
        cpu = proc_cpu(proc.pid) - c0
        c.close()
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
    if n != expected:
        raise RuntimeError("HTTP answered %d entries, the files hold %d" % (n, expected))
    return dt, cpu


def proc_cpu(pid):
    """user + system CPU seconds of a running process (all its threads)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    print("== import: all Synthea bundles (floor = plain SQLite insert of the same JSON) ==")
    if not os.path.exists(BIN):
        sys.exit("no binary at %s (make first)" % BIN)
    bundles = load_bundles()
    print("data: " + DATA_NAME)
    expected = sum(len(doc.get("entry", [])) for _, _, doc in bundles)
    print("%d bundles, %d resources (%.1f MB of JSON)" % (len(bundles), expected,
                                                         sum(len(r) for _, r, _ in bundles) / 1e6))
    wall, cpu = {}, {}
    notes = {}

    def keep(name, dt, c):
        wall[name] = min(wall.get(name, 1e9), dt)
        cpu[name] = min(cpu.get(name, 1e9), c)

    for i in range(RUNS):
        tmp = tempfile.mkdtemp(prefix="edgefhir-bench-import-")
        try:
            n, dt, c = floor(bundles, tmp)
            assert n == expected
            keep("floor", dt, c)
            dt, c, out = run_import(tmp, "import", expected)
            notes["import"] = out
            keep("import", dt, c)
            dt, c, out = run_import(tmp, "import", expected)  # same database again: resume, nothing new
            notes["resume"] = out
            keep("resume", dt, c)
            dt, c = run_http(bundles, tmp, "http", expected)
            keep("http", dt, c)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    fw, fc = expected / wall["floor"], expected / cpu["floor"]
    print("%-7s %7s %12s %7s %12s" % ("", "wall s", "resources/s", "cpu s", "per cpu-s"))
    print("%-7s %7.2f %12.0f %7.2f %12.0f" % ("floor", wall["floor"], fw, cpu["floor"], fc))
    for k in ("import", "resume", "http"):
        rw, rc = expected / wall[k], expected / cpu[k]
        line = "%-7s %7.2f %12.0f %7.2f %12.0f   ratio to floor %.2f (cpu %.2f)" % (
            k, wall[k], rw, cpu[k], rc, rw / fw, rc / fc)
        if k in TARGETS:
            line += "   target >= %d/s: %s" % (TARGETS[k], "met" if rw >= TARGETS[k] else "NOT met")
        print(line)
    print("import said: " + notes["import"])
    print("resume said: " + notes["resume"])


if __name__ == "__main__":
    main()

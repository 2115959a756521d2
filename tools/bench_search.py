#!/usr/bin/env python3
"""Benchmark section `search` (run by `make bench` through tools/bench.py, or alone:
`python3 tools/bench_search.py`).  Builds nothing: uses build/edgefhir or $EDGEFHIR_BIN.

1x   `edgefhir serve` (auth off, temporary database) gets every Synthea bundle in
     ../shared/testdata/synthea as a transaction (POST /; `edgefhir import` of the files if the
     server refuses one).  Then a fixed mix of searches, each with values taken from the data
     files (cycling over all patients, so every request differs; nothing hard-coded):
       Patient?name=<family>                        Patient?identifier=<MRN system>|<value>
       Observation?patient=&code=<LOINC>             Observation?patient=&date=ge<Y>&date=lt<Y+1>
       Observation?patient=&_include=Observation:subject
       Encounter?date=<day of one of the patient's encounters>
       Observation?subject:Patient.name=<family>
     Each runs N times (BENCH_SEARCH_N, default 200) sequentially on one keep-alive connection:
     p50/p99 latency and req/s; then with wrk (-t2 -c16, BENCH_SEARCH_SECONDS per query,
     default 3; 0 skips) over the same request list for throughput under concurrency.
floor SQLite's own primary-key lookups of the same rows (python sqlite3 on a copy of the
     database): for each of the N requests, `SELECT body FROM resource_version WHERE seq=?` for
     every resource that request returned.  ratio = edgefhir p50 / floor p50.
10x  a fresh database loaded with the set ten times, every UUID (fullUrls, references,
     identifiers) rewritten per copy so each copy is new patients with the same names and
     dates; the same mix (values of copy 0) shows how latency grows with the data.
Target: every query p50 < 5 ms at 1x.  BENCH_SEARCH_COPIES changes the 10 (e.g. 2 for a quick
run)."""
import collections
import glob
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
import http.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (free_port, wait_http, Edge)

ROOT = bench.ROOT
BIN = bench.BIN
# The full Synthea set (98 patients) beside the checkout when there is one, else the in-repo sample
# (tests/data/synthea, 8 patients); main() prints which.
_FULL = os.path.join(os.path.dirname(ROOT), "shared", "testdata", "synthea")
DATA = _FULL if os.path.isdir(_FULL) else os.path.join(ROOT, "tests", "data", "synthea")
DATA_NAME = ("the full Synthea set (%s)" % _FULL) if DATA == _FULL else \
    "the in-repo sample tests/data/synthea (no ../shared/testdata/synthea beside the checkout)"
N = int(os.environ.get("BENCH_SEARCH_N", "200"))
WRK_SECONDS = int(os.environ.get("BENCH_SEARCH_SECONDS", "3"))
COPIES = int(os.environ.get("BENCH_SEARCH_COPIES", "10"))
TARGET_MS = 5.0
UUID_RE = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
Q = urllib.parse.quote


# ---------------------------------------------------------------- data

class Data:
    """The bundles (raw bytes, patients first by file name; the two *Information bundles first)."""

    def __init__(self):
        files = sorted(glob.glob(os.path.join(DATA, "*.json")), key=lambda f: ("Information" not in f, f))
        self.files = files
        self.raw = [open(f, "rb").read() for f in files]
        self.docs = [json.loads(r) for r in self.raw]
        self.resources = sum(len(d.get("entry", [])) for d in self.docs)
        self.patients = []  # one dict per patient bundle: facts the queries are built from
        for d in self.docs:
            ents = d.get("entry", [])
            pat = [e for e in ents if e["resource"]["resourceType"] == "Patient"]
            if not pat:
                continue
            p, urn = pat[0]["resource"], pat[0]["fullUrl"]
            obs = [e["resource"] for e in ents if e["resource"]["resourceType"] == "Observation"]
            enc = [e["resource"] for e in ents if e["resource"]["resourceType"] == "Encounter"]
            official = [n for n in p.get("name", []) if n.get("use") == "official"] or p.get("name", [])
            mrn = [i for i in p.get("identifier", []) if any(c.get("code") == "MR" for c in i.get("type", {}).get("coding", []))]
            codes = collections.Counter(c["code"] for o in obs for c in o.get("code", {}).get("coding", [])
                                        if c.get("system") == "http://loinc.org")
            dates = sorted(o["effectiveDateTime"] for o in obs if "effectiveDateTime" in o)
            days = sorted(e["period"]["start"][:10] for e in enc if "period" in e)
            if not (official and mrn and codes and dates and days):
                continue
            self.patients.append({
                "urn": urn,
                "family": official[0]["family"],
                "mrn": mrn[0]["system"] + "|" + mrn[0]["value"],
                # most frequent LOINC code (ties: smallest), the year of the median observation
                "code": sorted(codes.items(), key=lambda kv: (-kv[1], kv[0]))[0][0],
                "year": int(dates[len(dates) // 2][:4]),
                "day": days[len(days) // 2],
            })

    def copy(self, k):
        """Bundle texts of copy k: every UUID replaced by a new one derived from (k, UUID)."""
        if k == 0:
            return self.raw
        ns = uuid.uuid5(uuid.NAMESPACE_URL, "edgefhir-bench-copy-%d" % k)
        memo = {}

        def sub(m):
            u = m.group(0)
            if u not in memo:
                memo[u] = str(uuid.uuid5(ns, u.decode())).encode()
            return memo[u]
        return [UUID_RE.sub(sub, r) for r in self.raw]


def mix(data, ids):
    """The query mix: name -> list of request paths (one per patient).  ids: urn -> "Type/id"."""
    out = collections.OrderedDict()
    ps = data.patients
    pid = lambda p: ids[p["urn"]].split("/", 1)[1]  # noqa: E731
    out["Patient?name="] = ["/Patient?name=" + Q(p["family"]) for p in ps]
    out["Patient?identifier="] = ["/Patient?identifier=" + Q(p["mrn"], safe="") for p in ps]
    out["Observation?patient=&code="] = ["/Observation?patient=%s&code=%s" % (pid(p), Q("http://loinc.org|" + p["code"], safe=""))
                                        for p in ps]
    out["Observation?patient=&date=ge&date=lt"] = ["/Observation?patient=%s&date=ge%d-01-01&date=lt%d-01-01"
                                                  % (pid(p), p["year"], p["year"] + 1) for p in ps]
    out["Observation?patient=&_include=subject"] = ["/Observation?patient=%s&_include=Observation:subject" % pid(p)
                                                   for p in ps]
    out["Encounter?date="] = ["/Encounter?date=" + p["day"] for p in ps]
    out["Observation?subject:Patient.name="] = ["/Observation?subject:Patient.name=" + Q(p["family"]) for p in ps]
    return out


# ---------------------------------------------------------------- server

class Client:
    """One keep-alive connection."""

    def __init__(self, port):
        self.port = port
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def req(self, method, path, body=None):
        h = {"Content-Type": "application/fhir+json"} if body is not None else {}
        try:
            self.c.request(method, path, body=body, headers=h)
            r = self.c.getresponse()
        except (http.client.HTTPException, OSError):
            self.c.close()
            self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            self.c.request(method, path, body=body, headers=h)
            r = self.c.getresponse()
        data = r.read()
        if r.getheader("Connection", "").lower() == "close":
            self.c.close()
        return r.status, data


def load_http(edge, bundles, copy_id_maps):
    """POSTs each bundle as a transaction; fills copy_id_maps (urn -> Type/id).  False if refused."""
    cl = Client(edge.port)
    for raw in bundles:
        st, body = cl.req("POST", "/", raw)
        if st != 200:
            print("  POST / of a bundle answered %d (%s); loading with `edgefhir import` instead"
                  % (st, body[:200].decode("utf-8", "replace")))
            return False
        req = json.loads(raw)
        resp = json.loads(body)
        for e, r in zip(req.get("entry", []), resp.get("entry", [])):
            loc = r.get("response", {}).get("location", "")
            if e.get("fullUrl", "").startswith("urn:uuid:") and loc:
                copy_id_maps[e["fullUrl"]] = "/".join(loc.split("/")[:2])
    return True


def load_import(edge, bundles, tmp):
    """Fallback: `edgefhir import` (a POST entry with fullUrl urn:uuid:X becomes Type/X)."""
    edge.proc.terminate()
    edge.proc.wait(10)
    d = os.path.join(tmp, "bundles")
    os.makedirs(d, exist_ok=True)
    for i, raw in enumerate(bundles):
        with open(os.path.join(d, "%06d.json" % i), "wb") as f:
            f.write(raw)
    p = subprocess.run([BIN, "import", "--no-progress", "--config", edge.cfg_path, d], cwd=ROOT, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("edgefhir import failed: " + p.stdout + p.stderr)
    shutil.rmtree(d)
    edge.start()
    ids = {}
    for raw in bundles:
        for e in json.loads(raw).get("entry", []):
            u = e.get("fullUrl", "")
            if u.startswith("urn:uuid:"):
                ids[u] = e["resource"]["resourceType"] + "/" + u[9:]
    return ids


def load(edge, copies_of_bundles):
    """Loads a list of bundle texts; returns (urn->Type/id of the first copy, seconds, method)."""
    t0 = time.perf_counter()
    first = {}
    ok = True
    for k, bundles in enumerate(copies_of_bundles):
        m = {}
        ok = load_http(edge, bundles, m)
        if not ok:
            break
        if k == 0:
            first = m
    if ok:
        return first, time.perf_counter() - t0, "POST / (transaction)"
    allb = [b for bs in copies_of_bundles for b in bs]
    # start again on an empty database so nothing is loaded twice
    edge.proc.terminate()
    edge.proc.wait(10)
    for suf in ("", "-wal", "-shm"):
        try:
            os.remove(os.path.join(edge.tmp, "db.sqlite") + suf)
        except FileNotFoundError:
            pass
    edge.start()
    t0 = time.perf_counter()
    ids = load_import(edge, allb, edge.tmp)
    first_urns = {e["fullUrl"] for raw in copies_of_bundles[0] for e in json.loads(raw).get("entry", [])}
    return {u: v for u, v in ids.items() if u in first_urns}, time.perf_counter() - t0, "edgefhir import"


# ---------------------------------------------------------------- measuring

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def measure(edge, paths):
    """Warm-up (each path once: result rows), then N sequential requests.  Latencies in ms."""
    cl = Client(edge.port)
    rows = {}
    for p in paths:
        st, body = cl.req("GET", p)
        if st != 200:
            sys.exit("%s answered %d: %s" % (p, st, body[:300]))
        b = json.loads(body)
        rows[p] = [(e["resource"]["resourceType"], e["resource"]["id"]) for e in b.get("entry", [])
                   if "resource" in e and e["resource"]["resourceType"] != "OperationOutcome"]
    lat = []
    t0 = time.perf_counter()
    for i in range(N):
        p = paths[i % len(paths)]
        s = time.perf_counter()
        st, _ = cl.req("GET", p)
        lat.append((time.perf_counter() - s) * 1000)
        if st != 200:
            sys.exit("%s answered %d" % (p, st))
    wall = time.perf_counter() - t0
    matches = statistics.mean(len(rows[paths[i % len(paths)]]) for i in range(N))
    return {"p50": pct(lat, 50), "p99": pct(lat, 99), "rps1": N / wall, "rows": rows, "entries": matches}


def wrk_rps(edge, paths, tmp):
    if WRK_SECONDS <= 0 or not shutil.which("wrk"):
        return None
    script = os.path.join(tmp, "paths.lua")
    with open(script, "w") as f:
        f.write("paths = {%s}\ni = 0\nrequest = function()\n  i = i + 1\n"
                "  return wrk.format(\"GET\", paths[(i %% #paths) + 1])\nend\n" % ",".join('"%s"' % p for p in paths))
    out = subprocess.run(["wrk", "-t2", "-c16", "-d%ds" % WRK_SECONDS, "-s", script, "http://127.0.0.1:%d" % edge.port],
                         capture_output=True, text=True, timeout=WRK_SECONDS + 60).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        print("  wrk: %s non-2xx responses" % bad.group(1))
    return float(m.group(1)) if m else None


def db_copy(edge, tmp):
    dst = os.path.join(tmp, "copy.sqlite")
    src = sqlite3.connect("file:%s?mode=ro" % os.path.join(edge.tmp, "db.sqlite"), uri=True)
    d = sqlite3.connect(dst)
    src.backup(d)
    src.close()
    return d


def floor(con, paths, rows):
    """N 'requests', each the PK lookups of the rows the edgefhir request returned.  ms."""
    seqs = {}
    for p in paths:
        seqs[p] = [con.execute("SELECT seq FROM resource WHERE type=? AND id=?", k).fetchone()[0] for k in rows[p]]
    lat = []
    for i in range(N):
        s = time.perf_counter()
        for q in seqs[paths[i % len(paths)]]:
            con.execute("SELECT body FROM resource_version WHERE seq=?", (q,)).fetchone()
        lat.append((time.perf_counter() - s) * 1000)
    return pct(lat, 50)


def run_scale(data, copies, tmp, with_floor):
    edge = bench.Edge({"log_level": "warn"}).start()
    try:
        texts = [data.copy(k) for k in range(copies)]
        ids, secs, how = load(edge, texts)
        n = data.resources * copies
        print("  loaded %s resources (%d bundles x %d) with %s in %.1f s (%.0f resources/s)"
              % (format(n, ","), len(data.raw), copies, how, secs, n / secs))
        size = sum(os.path.getsize(os.path.join(edge.tmp, f)) for f in os.listdir(edge.tmp) if f.startswith("db.sqlite"))
        print("  database %.1f MB" % (size / 1e6))
        out = collections.OrderedDict()
        con = db_copy(edge, tmp) if with_floor else None
        for name, paths in mix(data, ids).items():
            r = measure(edge, paths)
            r["wrk"] = wrk_rps(edge, paths, tmp)
            if con is not None:
                r["floor"] = floor(con, paths, r["rows"])
            del r["rows"]
            out[name] = r
        if con is not None:
            con.close()
        return out
    finally:
        edge.stop()


def main():
    if not os.path.exists(BIN):
        sys.exit("bench_search: %s is missing (make, or set EDGEFHIR_BIN)" % BIN)
    data = Data()
    print("data: " + DATA_NAME)
    print("== search: %d Synthea patients (%s resources in %d bundles), %d requests per query, keep-alive, auth off =="
          % (len(data.patients), format(data.resources, ","), len(data.raw), N))
    tmp = tempfile.mkdtemp(prefix="edgefhir-bench-search-")
    try:
        one = run_scale(data, 1, tmp, True)
        ten = run_scale(data, COPIES, tmp, False) if COPIES > 1 else None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    w = max(len(k) for k in one)
    hdr = "%-*s %7s %7s %7s %8s %8s %9s %7s" % (w, "query (1x)", "entries", "p50 ms", "p99 ms", "req/s 1c", "wrk -c16",
                                                 "floor p50", "ratio")
    if ten:
        hdr += "   %s %7s %7s %6s" % ("| %dx:" % COPIES, "p50 ms", "p99 ms", "growth")
    print(hdr)
    misses = []
    for k, r in one.items():
        line = "%-*s %7.1f %7.2f %7.2f %8.0f %8s %8.3fms %6.0fx" % (
            w, k, r["entries"], r["p50"], r["p99"], r["rps1"], "%.0f" % r["wrk"] if r.get("wrk") else "-", r["floor"],
            r["p50"] / r["floor"] if r["floor"] > 0 else 0)
        if ten:
            t = ten[k]
            line += "   | %4.0f e %7.2f %7.2f %5.1fx" % (t["entries"], t["p50"], t["p99"], t["p50"] / r["p50"])
        if r["p50"] >= TARGET_MS:
            misses.append(k)
            line += "  MISS"
        print(line)
    print("entries: average Bundle entries per request (matches + included, first page of 50); floor: SQLite primary-key")
    print("lookups of those same rows from Python (SELECT body FROM resource_version WHERE seq=?); ratio = p50 / floor p50.")
    print("target: every query p50 < %.0f ms at 1x: %s" % (TARGET_MS, "met" if not misses else "MISSED by " + ", ".join(misses)))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Benchmark section `terminology` (issue 21; run by `make bench` through tools/bench.py, or
alone: `python3 tools/bench_terminology.py`).  Uses build/edgefhir or $EDGEFHIR_BIN.

One `edgefhir serve` (auth off, temporary database):
  validate-code  a stored CodeSystem of 1,000 concepts and a stored ValueSet including all of
                 it; GET ValueSet/$validate-code?url=..&system=..&code=C<n> with wrk (-t2 -c16,
                 keep-alive, BENCH_SECONDS, default 5) over 1,000 different codes (a Lua script
                 cycles them).  Target >= 5,000 req/s on 2 cores.
  expand cached  GET ValueSet/$expand of the bundled administrative-gender, N times (BENCH_TERM_N,
                 default 300) sequentially on one keep-alive connection after one warm-up: p50.
                 Target p50 < 1 ms.
  expand uncached  POST ValueSet/$expand with an inline ValueSet (never cached) including the
                 whole 1,000-concept stored CodeSystem: p50 of N.  Target p50 < 10 ms.
  code:below     the Synthea bundles (../shared/testdata/synthea when present, else the in-repo
                 sample) loaded as transactions, a stored LOINC fragment CodeSystem whose concept
                 GROUP has the 20 most used LOINC codes of the data as children and SMALL three
                 codes of median frequency; GET Observation?code:below=http://loinc.org|<group>
                 &_count=50 p50 of N (the total is counted, as by default), checked against the
                 count computed from the files, next to the same codes as a plain OR list
                 (code=sys|a,sys|b,...: the baseline, same run).  Target p50 < 5 ms.
The machine is shared: the load average is printed with the figures."""
import glob
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

ROOT = bench.ROOT
N = int(os.environ.get("BENCH_TERM_N", "300"))
_FULL = os.path.join(os.path.dirname(ROOT), "shared", "testdata", "synthea")
DATA = _FULL if os.path.isdir(_FULL) else os.path.join(ROOT, "tests", "data", "synthea")
Q = lambda s: urllib.parse.quote(s, safe="")  # noqa: E731
CS_URL = "http://example.org/bench/cs"
VS_URL = "http://example.org/bench/vs"


def timed(conn, method, path, body=None):
    h = {"Content-Type": "application/fhir+json"} if body else {}
    t0 = time.perf_counter()
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    dt = (time.perf_counter() - t0) * 1000
    if r.status != 200:
        raise RuntimeError("%s %s -> %d %s" % (method, path, r.status, data[:300]))
    return dt, data


def p50(conn, method, path, body=None, n=N):
    timed(conn, method, path, body)  # warm-up
    return statistics.median(timed(conn, method, path, body)[0] for _ in range(n))


def settle_checkpoints(conn, quiet_s=1.0, max_s=15.0):
    """Wait until the background checkpointer has copied the load's WAL back (its counter in
    /metrics unchanged for quiet_s), so that the timed searches do not share the machine with
    the checkpoint of the data just loaded."""
    def count():
        conn.request("GET", "/metrics")
        for line in conn.getresponse().read().decode().splitlines():
            if line.startswith("edgefhir_database_checkpoints_total"):
                return line.split()[-1]
        return None
    end, last, since = time.monotonic() + max_s, count(), time.monotonic()
    while time.monotonic() < end and time.monotonic() - since < quiet_s:
        time.sleep(0.2)
        now = count()
        if now != last:
            last, since = now, time.monotonic()


def main():
    print("== terminology: $validate-code, $expand, code:below ==")
    print("load average before: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    e = bench.Edge().start()
    try:
        cs = {"resourceType": "CodeSystem", "id": "bench-cs", "url": CS_URL, "status": "active", "content": "complete",
              "concept": [{"code": "C%d" % i, "display": "Concept number %d" % i} for i in range(1000)]}
        vs = {"resourceType": "ValueSet", "id": "bench-vs", "url": VS_URL, "status": "active",
              "compose": {"include": [{"system": CS_URL}]}}
        for r in (cs, vs):
            st, body = e.request("PUT", "/%s/%s" % (r["resourceType"], r["id"]), json.dumps(r))
            assert st in (200, 201), body
        c = http.client.HTTPConnection("127.0.0.1", e.port, timeout=30)
        path = "/ValueSet/$validate-code?url=%s&system=%s&code=C" % (Q(VS_URL), Q(CS_URL))
        _, body = timed(c, "GET", path + "500")
        assert b'"valueBoolean":true' in body, body
        _, body = timed(c, "GET", path + "5000")
        assert b'"valueBoolean":false' in body, body
        lua = os.path.join(e.tmp, "codes.lua")
        with open(lua, "w") as f:
            f.write('local i = 0\nrequest = function()\n  i = (i + 1) %% 1000\n'
                    '  return wrk.format("GET", "%s" .. i)\nend\n' % path)
        cmd = ["wrk", "-t2", "-c" + bench.CONNS, "-d" + bench.DURATION + "s", "--latency", "-s", lua,
               "http://127.0.0.1:%d" % e.port]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=int(bench.DURATION) + 30).stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        print("ValueSet/$validate-code, 1,000-concept stored ValueSet, 1,000 codes cycled, keep-alive, "
              "wrk -t2 -c%s -d%ss: %.0f req/s (target >= 5,000)%s" % (bench.CONNS, bench.DURATION, rps,
                                                                     ", non-2xx %s" % non2xx.group(1) if non2xx else ""))

        c.close()  # idle during wrk: the server's keep-alive timeout may have closed it
        c = http.client.HTTPConnection("127.0.0.1", e.port, timeout=30)
        g = "/ValueSet/$expand?url=" + Q("http://hl7.org/fhir/ValueSet/administrative-gender")
        print("ValueSet/$expand bundled administrative-gender, cached: p50 %.3f ms of %d (target < 1 ms)" % (p50(c, "GET", g), N))
        inline = json.dumps({"resourceType": "Parameters", "parameter": [{"name": "valueSet", "resource": {
            "resourceType": "ValueSet", "url": "http://example.org/bench/inline", "status": "active",
            "compose": {"include": [{"system": CS_URL}]}}}]})
        _, body = timed(c, "POST", "/ValueSet/$expand", inline)
        assert json.loads(body)["expansion"]["total"] == 1000
        print("ValueSet/$expand inline (never cached) of the 1,000-concept stored CodeSystem: p50 %.3f ms of %d "
              "(target < 10 ms)" % (p50(c, "POST", "/ValueSet/$expand", inline), N))

        files = sorted(glob.glob(os.path.join(DATA, "*.json")))
        loinc = Counter()
        t0 = time.perf_counter()
        for f in files:
            with open(f, "rb") as fh:
                raw = fh.read()
            st, _ = e.request("POST", "/", raw)
            if st != 200:
                continue
            for en in json.loads(raw).get("entry", []):
                r = en.get("resource", {})
                if r.get("resourceType") == "Observation":
                    for cd in r.get("code", {}).get("coding", []):
                        if cd.get("system") == "http://loinc.org":
                            loinc[cd["code"]] += 1
        ranked = [code for code, _ in loinc.most_common()]
        top = ranked[:20]
        mid = ranked[len(ranked) // 2: len(ranked) // 2 + 3]  # three codes of median frequency
        frag = {"resourceType": "CodeSystem", "id": "loinc-frag", "url": "http://loinc.org", "status": "active",
                "content": "fragment", "hierarchyMeaning": "is-a",
                "concept": [{"code": "GROUP", "display": "bench group", "concept": [{"code": k} for k in top]},
                            {"code": "SMALL", "display": "bench small group", "concept": [{"code": k} for k in mid]}]}
        st, body = e.request("PUT", "/CodeSystem/loinc-frag", json.dumps(frag))
        assert st in (200, 201), body
        c.close()  # idle during the load
        c = http.client.HTTPConnection("127.0.0.1", e.port, timeout=30)
        print("loaded %d bundles from %s in %.1f s" % (len(files), DATA, time.perf_counter() - t0))
        settle_checkpoints(c)
        for group, codes in (("GROUP", top), ("SMALL", mid)):
            want = sum(loinc[k] for k in codes)
            q = "/Observation?code:below=" + Q("http://loinc.org|" + group)
            orlist = "/Observation?code=" + ",".join(Q("http://loinc.org|" + k) for k in codes)
            _, body = timed(c, "GET", q + "&_summary=count")
            got = json.loads(body)["total"]
            assert got == want, (group, got, want)
            below = p50(c, "GET", q + "&_count=50")
            base = p50(c, "GET", orlist + "&_count=50")
            print("Observation?code:below=http://loinc.org|%s&_count=50 (%d child codes, %d matches, total counted): "
                  "p50 %.3f ms of %d (target < 5 ms); the same codes as a plain OR list (baseline): p50 %.3f ms; "
                  "ratio %.2f" % (group, len(codes), want, below, N, base, below / base))
        print("RSS after the terminology bench: %.1f MB" % (e.rss_kb() / 1024))
        c.close()
    finally:
        e.stop()
    print("load average after: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))


if __name__ == "__main__":
    main()

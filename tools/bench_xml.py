#!/usr/bin/env python3
"""`make bench` section `xml`: GET /Patient/{id} with Accept: application/fhir+xml side by side
with the same read in JSON, on one server, wrk runs alternating JSON/XML BENCH_XML_ROUNDS times
(default 3); ratio = XML req/s / JSON req/s, median of the rounds (target >= 0.8).  Two
patients: the small one of the core section and the official patient-example (narrative,
extensions on primitives; tests/data/fhir-examples).  Run twice: with the XML read cache
(default limits.xml_cache_bytes; wrk reads one resource, so every XML read after the first is
a hit) and without it (xml_cache_bytes 0: every XML read converts).  Then the cache's memory:
RSS after reading BENCH_XML_MEM_RESOURCES (default 2000) distinct copies of patient-example
once each as XML, cache on vs off.
Usage: python3 tools/bench_xml.py   (or python3 tools/bench.py xml)"""
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

ROOT = bench.ROOT
SMALL = json.dumps({"resourceType": "Patient", "name": [{"family": "Bench", "given": ["Mark"]}],
                    "birthDate": "1980-01-01", "gender": "female"})


def example():
    with open(os.path.join(ROOT, "tests", "data", "fhir-examples", "patient-example.json")) as f:
        return f.read()


def post(e, label, body):
    st, out = e.request("POST", "/Patient", body)
    if st != 201:
        sys.exit("POST %s: %d %s" % (label, st, out[:300]))
    return json.loads(out)["id"]


def throughput(mode, config, rounds):
    ratios = {}
    e = bench.Edge(config).start()
    try:
        ids = {label: post(e, label, body) for label, body in
               (("small Patient", SMALL), ("patient-example", example().encode("utf-8")))}
        for label, pid in ids.items():
            url = "http://127.0.0.1:%d/Patient/%s" % (e.port, pid)
            st, j = e.request("GET", "/Patient/" + pid)
            st, x = e.request("GET", "/Patient/" + pid, headers={"Accept": "application/fhir+xml"})
            js, xs, rs = [], [], []
            for _ in range(rounds):
                a = bench.wrk(url, headers=("Accept: application/fhir+json",))
                b = bench.wrk(url, headers=("Accept: application/fhir+xml",))
                js.append(a)
                xs.append(b)
                rs.append(b["rps"] / a["rps"])
            ratios[label] = statistics.median(rs)
            print("%s, %s (JSON %d bytes, XML %d bytes), wrk -t2 -c%s -d%ss, %d alternating rounds:"
                  % (label, mode, len(j), len(x), bench.CONNS, bench.DURATION, rounds))
            print("  JSON : %s req/s  p50 %.3f ms  p99 %.3f ms  non-2xx %d" % (
                " / ".join("%.0f" % r["rps"] for r in js), statistics.median(r["p50_ms"] for r in js),
                statistics.median(r["p99_ms"] for r in js), sum(r["non2xx"] for r in js)))
            print("  XML  : %s req/s  p50 %.3f ms  p99 %.3f ms  non-2xx %d" % (
                " / ".join("%.0f" % r["rps"] for r in xs), statistics.median(r["p50_ms"] for r in xs),
                statistics.median(r["p99_ms"] for r in xs), sum(r["non2xx"] for r in xs)))
            print("  ratio XML/JSON: %.2f median of %s   (target >= 0.8)" % (ratios[label], ", ".join("%.2f" % r for r in rs)))
    finally:
        e.stop()
    return ratios


def memory(n):
    doc = json.loads(example())
    doc.pop("id", None)
    out = {}
    for mode, config in (("cache on", {}), ("cache off", {"limits": {"xml_cache_bytes": 0}})):
        e = bench.Edge(config).start()
        try:
            ids = []
            for i in range(n):
                doc["birthDate"] = "19%02d-01-%02d" % (i % 100, i % 28 + 1)
                doc["identifier"][0]["value"] = "bench-%d" % i
                ids.append(post(e, "copy", json.dumps(doc)))
            before = e.rss_kb()
            for pid in ids:
                e.request("GET", "/Patient/" + pid, headers={"Accept": "application/fhir+xml"})
            out[mode] = (before, e.rss_kb())
        finally:
            e.stop()
    print("XML read cache memory: %d distinct patient-example copies read once each as XML: RSS before/after "
          "reading: cache on %d/%d kB (+%d), cache off %d/%d kB (+%d)" % (
              n, out["cache on"][0], out["cache on"][1], out["cache on"][1] - out["cache on"][0],
              out["cache off"][0], out["cache off"][1], out["cache off"][1] - out["cache off"][0]))
    return out


def main():
    print("== xml: GET /Patient/{id} as FHIR XML vs JSON ==")
    rounds = int(os.environ.get("BENCH_XML_ROUNDS", "3"))
    ratios = {}
    for mode, config in (("XML read cache on", {}), ("XML read cache off", {"limits": {"xml_cache_bytes": 0}})):
        for label, r in throughput(mode, config, rounds).items():
            ratios["%s, %s" % (label, mode)] = r
    memory(int(os.environ.get("BENCH_XML_MEM_RESOURCES", "2000")))
    return ratios


if __name__ == "__main__":
    main()

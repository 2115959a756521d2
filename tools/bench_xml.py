#!/usr/bin/env python3
"""`make bench` section `xml`: GET /Patient/{id} with Accept: application/fhir+xml side by side
with the same read in JSON, on one server, wrk runs alternating JSON/XML BENCH_XML_ROUNDS times
(default 3); ratio = XML req/s / JSON req/s, median of the rounds (target >= 0.8).  Two
patients: the small one of the core section and the official patient-example (narrative,
extensions on primitives; tests/data/fhir-examples).
Usage: python3 tools/bench_xml.py   (or python3 tools/bench.py xml)"""
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

ROOT = bench.ROOT


def main():
    print("== xml: GET /Patient/{id} as FHIR XML vs JSON ==")
    rounds = int(os.environ.get("BENCH_XML_ROUNDS", "3"))
    e = bench.Edge().start()
    try:
        small = json.dumps({"resourceType": "Patient", "name": [{"family": "Bench", "given": ["Mark"]}],
                            "birthDate": "1980-01-01", "gender": "female"})
        with open(os.path.join(ROOT, "tests", "data", "fhir-examples", "patient-example.json")) as f:
            example = f.read().encode("utf-8")
        ids = {}
        for label, body in (("small Patient", small), ("patient-example", example)):
            st, out = e.request("POST", "/Patient", body)
            if st != 201:
                sys.exit("POST %s: %d %s" % (label, st, out[:300]))
            ids[label] = json.loads(out)["id"]
        ratios = {}
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
            print("%s (JSON %d bytes, XML %d bytes), wrk -t2 -c%s -d%ss, %d alternating rounds:"
                  % (label, len(j), len(x), bench.CONNS, bench.DURATION, rounds))
            print("  JSON : %s req/s  p50 %.3f ms  p99 %.3f ms  non-2xx %d" % (
                " / ".join("%.0f" % r["rps"] for r in js), statistics.median(r["p50_ms"] for r in js),
                statistics.median(r["p99_ms"] for r in js), sum(r["non2xx"] for r in js)))
            print("  XML  : %s req/s  p50 %.3f ms  p99 %.3f ms  non-2xx %d" % (
                " / ".join("%.0f" % r["rps"] for r in xs), statistics.median(r["p50_ms"] for r in xs),
                statistics.median(r["p99_ms"] for r in xs), sum(r["non2xx"] for r in xs)))
            print("  ratio XML/JSON: %.2f median of %s   (target >= 0.8)" % (ratios[label], ", ".join("%.2f" % r for r in rs)))
        return ratios
    finally:
        e.stop()


if __name__ == "__main__":
    main()

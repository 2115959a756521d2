#!/usr/bin/env python3
"""tools/bench_patch.py — FHIRPath Patch vs JSON Patch: the same edit (replace birthDate and the first given name) on one
Patient, N requests each, alternated in rounds; median request time per kind (one connection per request, each PATCH
an fsynced write).  Usage: EDGEFHIR_BIN=build/edgefhir python3 tools/bench_patch.py (not part of make bench)."""
import json, sys, time, statistics
import os
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from harness import Server
N, ROUNDS = 200, 5
s = Server().start()
try:
    s.request("PUT", "/Patient/b", {"resourceType": "Patient", "id": "b", "name": [{"family": "F", "given": ["A"]}],
                                    "birthDate": "1970-01-01"})
    def fp(i):
        return json.dumps({"resourceType": "Parameters", "parameter": [
            {"name": "operation", "part": [{"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "Patient.birthDate"},
                                           {"name": "value", "valueDate": "19%02d-01-01" % (i % 100)}]},
            {"name": "operation", "part": [{"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "Patient.name[0].given[0]"},
                                           {"name": "value", "valueString": "G%d" % i}]}]}), {"Content-Type": "application/fhir+json"}
    def jp(i):
        return json.dumps([{"op": "replace", "path": "/birthDate", "value": "19%02d-01-01" % (i % 100)},
                           {"op": "replace", "path": "/name/0/given/0", "value": "G%d" % i}]), {"Content-Type": "application/json-patch+json"}
    res = {"fhirpath": [], "json": []}
    k = 0
    for r in range(ROUNDS):
        for name, f in (("fhirpath", fp), ("json", jp)):
            t0 = time.perf_counter()
            for i in range(N):
                k += 1
                body, h = f(k)
                x = s.request("PATCH", "/Patient/b", body, headers=h)
                assert x.status == 200, x
            res[name].append((time.perf_counter() - t0) / N * 1000)
    for name, v in res.items():
        print("%s patch: median %.3f ms/request over %d rounds of %d" % (name, statistics.median(v), ROUNDS, N))
    print("ratio fhirpath/json: %.2f" % (statistics.median(res["fhirpath"]) / statistics.median(res["json"])))
finally:
    s.cleanup()

"""Terminology budgets and memory against the real binary (issue 21): the configured budgets
(limits.max_expansion_concepts, limits.terminology_cache_entries / _bytes) are applied and bad
values stop start-up; expanding every bundled ValueSet twice leaves the server's resident
memory within a stated budget of where it started (hostile RSS, like tests/e2e/test_hostile.py)
and the server answering; a ValueSet changed by ANOTHER process (`edgefhir import` while the
server runs) is seen by the next $expand although the old expansion was cached.

The bundled value set URLs are read from data/terminology.tsv (the table the binary embeds)."""
import json
import os
import time
import unittest
import urllib.parse

from harness import ROOT, Server, proc_kb, run_cli

MB = 1024 * 1024


def bundled_value_sets():
    with open(os.path.join(ROOT, "data", "terminology.tsv"), encoding="utf-8") as f:
        return [line.split("\t", 2)[1] for line in f if line.startswith("ValueSet\t")]


def metric(s, name):
    r = s.request("GET", "/metrics")
    assert r.status == 200, r
    for line in r.body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no metric " + name)


def expand(s, url, **params):
    q = {"url": url}
    q.update({k: str(v) for k, v in params.items()})
    return s.request("GET", "/ValueSet/$expand?" + urllib.parse.urlencode(q))


class TerminologyBudgets(unittest.TestCase):
    def test_max_expansion_concepts_and_cache_budget_apply(self):
        cfg = {"limits": {"max_expansion_concepts": 5, "terminology_cache_entries": 2,
                          "terminology_cache_bytes": 1048576}}
        with Server(config=cfg) as s:
            # administrative-gender has 4 concepts, observation-status 8
            r = expand(s, "http://hl7.org/fhir/ValueSet/administrative-gender")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["expansion"]["total"], 4)
            r = expand(s, "http://hl7.org/fhir/ValueSet/observation-status")
            self.assertEqual(r.status, 413, r)
            self.assertIn("more than 5 concepts", r.body.decode())
            for u in ("http://hl7.org/fhir/ValueSet/administrative-gender", "http://hl7.org/fhir/ValueSet/narrative-status",
                      "http://hl7.org/fhir/ValueSet/address-use", "http://hl7.org/fhir/ValueSet/link-type"):
                self.assertEqual(expand(s, u).status, 200)
            self.assertEqual(metric(s, "edgefhir_terminology_cache_entries"), 2)
            self.assertGreater(metric(s, "edgefhir_terminology_cache_bytes"), 0)
            # validation still checks bindings of value sets larger than the expansion budget
            obs = {"resourceType": "Observation", "status": "bogus",
                   "code": {"coding": [{"system": "http://loinc.org", "code": "1-8"}]}}
            r = s.request("POST", "/Observation/$validate", obs)
            self.assertIn("not in the required value set", r.body.decode())
        with Server(config={"limits": {"terminology_cache_entries": 0}}) as s:
            self.assertEqual(expand(s, "http://hl7.org/fhir/ValueSet/administrative-gender").status, 200)
            self.assertEqual(metric(s, "edgefhir_terminology_cache_entries"), 0)

    def test_bad_budgets_stop_start_up_naming_the_key(self):
        for key, value in (("max_expansion_concepts", 0), ("max_expansion_concepts", "10000"),
                           ("terminology_cache_entries", -1), ("terminology_cache_bytes", 1e12)):
            s = Server(config={"limits": {key: value}})
            try:
                with self.assertRaises(RuntimeError) as ctx:
                    s.start(timeout=5)
                self.assertIn("limits." + key, str(ctx.exception))
            finally:
                s.cleanup()


class TerminologyMemory(unittest.TestCase):
    # Budget for what stays resident after every bundled ValueSet was expanded twice:
    #   the expansion cache, bounded here by limits.terminology_cache_bytes = 4 MB (its byte
    #   count is an estimate: the real heap is up to ~2x, 8 MB);
    #   the parsed bundled rows kept for reuse (fhir/terminology.cpp kKeepTextBytes: 1 MiB of
    #   JSON text, ~8x that parsed) ~8 MB;
    #   code pages faulted in by the work (file-backed) ~4 MB;
    #   allocator fragmentation after malloc_trim, SQLite caches, per-thread arenas ~8 MB.
    # 28 MB in all.  Measured on 2026-12-03: 20-23 MB in five runs; without the trim after
    # large terminology work (util/trim.h) the same work settled ~35 MB above its start (the
    # freed parse and expansion temporaries stayed in glibc's arenas).
    SETTLE_MB = 28
    SECOND_PASS_MB = 6

    def test_expanding_every_bundled_value_set_twice_settles(self):
        budget = self.SETTLE_MB
        if os.environ.get("EDGEFHIR_SANITIZER") == "asan":
            # Under `make test-asan` freed blocks wait in AddressSanitizer's 256 MB quarantine
            # and every live block carries redzones and shadow memory: the same work grew RSS
            # by 445 MB there (CI, 2026-12-03), so only a runaway is caught (768 MB).  The 28 MB
            # budget and the second-pass bound are asserted by `make test`, on the production
            # allocator, which CI runs too.
            budget = 768
        urls = bundled_value_sets()
        self.assertGreater(len(urls), 800)
        cfg = {"limits": {"terminology_cache_bytes": 4 * MB}, "log_level": "warn"}
        with Server(config=cfg) as s:
            pid = s.proc.pid
            self.assertEqual(s.request("GET", "/metadata").status, 200)
            time.sleep(0.5)
            start = proc_kb(pid, "VmRSS")
            settled = []
            for _ in range(2):
                statuses = {}
                for u in urls:
                    r = expand(s, u, count=5)
                    statuses[r.status] = statuses.get(r.status, 0) + 1
                # most expand; a few need a system this server does not hold (400) or are
                # ambiguous by version (404): never a 5xx
                self.assertGreater(statuses.get(200, 0), 700, statuses)
                self.assertFalse([k for k in statuses if k >= 500], statuses)
                self.assertTrue(s.alive())
                time.sleep(0.5)  # the request thread trims after it answered
                settled.append(proc_kb(pid, "VmRSS"))
            t = time.monotonic()
            r = expand(s, "http://hl7.org/fhir/ValueSet/administrative-gender")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["expansion"]["total"], 4)
            self.assertLess(time.monotonic() - t, 1.0)
            self.assertLessEqual(metric(s, "edgefhir_terminology_cache_bytes"), 4 * MB)
            grown = (settled[1] - start) / 1024
            if os.environ.get("HOSTILE_VERBOSE"):
                print("\n  start %.1f MB, after pass 1 %.1f MB, after pass 2 %.1f MB, peak %.1f MB" %
                      (start / 1024, settled[0] / 1024, settled[1] / 1024, proc_kb(pid, "VmHWM") / 1024))
            self.assertLess(grown, budget, "RSS grew by %.1f MB" % grown)
            if budget == self.SETTLE_MB:
                self.assertLess((settled[1] - settled[0]) / 1024, self.SECOND_PASS_MB)


class TerminologyOtherProcess(unittest.TestCase):
    VS = "http://example.org/fhir/ValueSet/import-changed"

    def value_set(self, codes):
        return {"resourceType": "ValueSet", "id": "import-changed", "url": self.VS, "status": "active",
                "compose": {"include": [{"system": "http://example.org/cs",
                                         "concept": [{"code": c} for c in codes]}]}}

    def codes(self, s, path):
        r = s.request("GET", path)
        self.assertEqual(r.status, 200, r)
        return sorted(c["code"] for c in r.json()["expansion"].get("contains", []))

    def test_import_by_another_process_invalidates_cached_expansions(self):
        with Server() as s:
            r = s.request("PUT", "/ValueSet/import-changed", self.value_set(["a", "b"]))
            self.assertIn(r.status, (200, 201), r)
            by_url = "/ValueSet/$expand?url=" + urllib.parse.quote(self.VS, safe="")
            self.assertEqual(self.codes(s, by_url), ["a", "b"])
            self.assertEqual(self.codes(s, by_url), ["a", "b"])  # cached now
            vc = "/ValueSet/$validate-code?system=http://example.org/cs&code=c&url=" + urllib.parse.quote(self.VS, safe="")
            r = s.request("GET", vc)
            self.assertFalse(r.json()["parameter"][0]["valueBoolean"])
            # an unrelated import by another process changes nothing
            pat = os.path.join(s.tmp, "patient.json")
            with open(pat, "w") as f:
                json.dump({"resourceType": "Patient", "id": "p1", "active": True}, f)
            p = run_cli("import", "--database", s.config["database"], pat)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(self.codes(s, by_url), ["a", "b"])
            # the changed ValueSet, imported by another process while the server runs
            path = os.path.join(s.tmp, "vs.json")
            with open(path, "w") as f:
                json.dump(self.value_set(["c", "d", "e"]), f)
            p = run_cli("import", "--database", s.config["database"], path)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(self.codes(s, by_url), ["c", "d", "e"])
            r = s.request("GET", vc)
            self.assertTrue(r.json()["parameter"][0]["valueBoolean"], r)
            # a :in search resolves the new content too
            obs = {"resourceType": "Observation", "id": "o1", "status": "final",
                   "code": {"coding": [{"system": "http://example.org/cs", "code": "d"}]}}
            self.assertIn(s.request("PUT", "/Observation/o1", obs).status, (200, 201))
            r = s.request("GET", "/Observation?code:in=" + urllib.parse.quote(self.VS, safe=""))
            self.assertEqual(r.status, 200, r)
            self.assertEqual([e["resource"]["id"] for e in r.json().get("entry", [])], ["o1"])


if __name__ == "__main__":
    unittest.main()

"""Search (https://hl7.org/fhir/R4/search.html) against the real binary, on real Synthea patients
(tests/data/synthea) loaded with `edgefhir import` (urn:uuid references rewritten to
Type/id here).  Every expected result is computed independently in this file by scanning the
JSON of the loaded resources: parameter types and modifiers, date precision and prefixes,
quantities, references, composites, chains, _has, _include/_revinclude, _sort, paging while
inserting, _total, _summary, _elements, strict handling, compartment and system search."""
import calendar
import glob
import json
import os
import re
import threading
import unicodedata
import unittest
import urllib.parse
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from harness import SYNTHEA, Server

BUNDLES = sorted(glob.glob(os.path.join(SYNTHEA, "*.json")))
PATIENT_BUNDLES = [b for b in BUNDLES if "Information" not in os.path.basename(b)]
N_PATIENTS = 8


def pick_bundles():
    # Bernardo Ordóñez (accents) plus the first few others, deterministic
    chosen = [b for b in PATIENT_BUNDLES if "Bernardo" in b]
    for b in PATIENT_BUNDLES:
        if len(chosen) >= N_PATIENTS:
            break
        if b not in chosen:
            chosen.append(b)
    return chosen


def load_resources(paths):
    """Resources of the bundles with urn:uuid references rewritten to Type/id (last copy wins)."""
    out = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            bundle = json.load(f)
        urls = {e["fullUrl"]: "%s/%s" % (e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle["entry"]}

        def fix(x):
            if isinstance(x, dict):
                for k, v in x.items():
                    if k == "reference" and isinstance(v, str) and v in urls:
                        x[k] = urls[v]
                    else:
                        fix(v)
            elif isinstance(x, list):
                for v in x:
                    fix(v)

        for e in bundle["entry"]:
            r = e["resource"]
            fix(r)
            out[(r["resourceType"], r["id"])] = r
    return out


# ---- independent evaluation helpers ----

def norm(s):
    s = unicodedata.normalize("NFKD", s)
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    return " ".join(s.lower().split())


def ms_of(dt):
    return calendar.timegm(dt.utctimetuple()) * 1000 + dt.microsecond // 1000


def date_range(s):
    """[lo, hi) in ms of a FHIR date/dateTime/instant by its precision (zone-less = UTC)."""
    m = re.fullmatch(r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?", s)
    assert m, s
    y, mo, d, hh, mi, ss, frac, tz = m.groups()
    if mo is None:
        return ms_of(datetime(int(y), 1, 1, tzinfo=timezone.utc)), ms_of(datetime(int(y) + 1, 1, 1, tzinfo=timezone.utc))
    if d is None:
        lo = datetime(int(y), int(mo), 1, tzinfo=timezone.utc)
        hi = datetime(int(y) + (int(mo) == 12), int(mo) % 12 + 1, 1, tzinfo=timezone.utc)
        return ms_of(lo), ms_of(hi)
    if hh is None:
        lo = datetime(int(y), int(mo), int(d), tzinfo=timezone.utc)
        return ms_of(lo), ms_of(lo + timedelta(days=1))
    off = timedelta(0)
    if tz and tz != "Z":
        off = timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6])) * (1 if tz[0] == "+" else -1)
    lo = datetime(int(y), int(mo), int(d), int(hh), int(mi), int(ss or 0), tzinfo=timezone.utc) - off
    lo_ms = ms_of(lo)
    if ss is None:
        return lo_ms, lo_ms + 60000
    if frac:
        digits = len(frac) - 1
        lo_ms += int(Decimal(frac) * 1000)
        return lo_ms, lo_ms + max(1, 10 ** (3 - min(digits, 3)))
    return lo_ms, lo_ms + 1000


def date_match(prefix, target, value):
    lo, hi = target
    slo, shi = date_range(value)
    eq = lo >= slo and hi <= shi
    return {"eq": eq, "ne": not eq, "gt": hi > shi, "lt": lo < slo, "ge": hi > shi or eq, "le": lo < slo or eq,
            "sa": lo >= shi, "eb": hi <= slo}[prefix]


def number_range(text):
    d = Decimal(text)
    exp = d.as_tuple().exponent
    half = Decimal(5) * Decimal(10) ** (exp - 1)
    return d - half, d + half


def codings(cc):
    return (cc or {}).get("coding", [])


class SearchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.res = load_resources(pick_bundles())
        cls.s = Server()
        lines = [json.dumps(r, ensure_ascii=False) for r in cls.res.values()]
        path = os.path.join(cls.s.tmp, "load.ndjson")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        p = cls.s.cli("import", path)
        assert p.returncode == 0, p.stderr
        cls.s.start()
        cls.base = "http://127.0.0.1:%d" % cls.s.port

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    # ---- helpers ----
    def of(self, rtype):
        return [r for (t, _), r in self.res.items() if t == rtype]

    def get(self, path, status=200, headers=None):
        r = self.s.request("GET", path, headers=headers)
        self.assertEqual(r.status, status, r)
        return r.json()

    def search_all(self, path, expect_total=True):
        """Follows next links; returns (ids of matches in order, included entries, first bundle)."""
        ids, included, first = [], [], None
        url = path
        for _ in range(1000):
            b = self.get(url)
            self.assertEqual(b["type"], "searchset")
            first = first or b
            for e in b.get("entry", []):
                mode = e["search"]["mode"]
                if mode == "match":
                    ids.append(e["resource"]["resourceType"] + "/" + e["resource"]["id"])
                elif mode == "include":
                    included.append(e["resource"]["resourceType"] + "/" + e["resource"]["id"])
            nxt = [l["url"] for l in b.get("link", []) if l["relation"] == "next"]
            if not nxt:
                break
            self.assertTrue(nxt[0].startswith(self.base))
            url = nxt[0][len(self.base):]
        self.assertEqual(len(ids), len(set(ids)), "a resource was listed twice: " + path)
        if expect_total and "total" in first:
            self.assertEqual(first["total"], len(ids), path)
        return ids, included, first

    def expect(self, path, pred, rtype=None):
        rtype = rtype or path.split("?")[0].strip("/")
        want = sorted("%s/%s" % (rtype, r["id"]) for r in self.of(rtype) if pred(r))
        got, _, _ = self.search_all(path + ("&" if "?" in path else "?") + "_count=200")
        self.assertEqual(sorted(got), want, path)
        if os.environ.get("SEARCH_DEBUG"):
            print("  %5d  %s" % (len(want), path))
        return want

    # ---- parameter types ----
    def test_string(self):
        self.expect("/Patient?family=ordo%C3%B1", lambda r: any(norm(n.get("family", "")).startswith("ordon") for n in r["name"]))
        fam = self.of("Patient")[3]["name"][0]["family"]
        self.expect("/Patient?family=" + urllib.parse.quote(fam[:3].upper()),
                    lambda r: any(norm(n.get("family", "")).startswith(norm(fam[:3])) for n in r["name"]))
        self.expect("/Patient?family:exact=" + urllib.parse.quote(fam), lambda r: any(n.get("family") == fam for n in r["name"]))
        self.expect("/Patient?family:exact=" + urllib.parse.quote(fam.lower()), lambda r: any(n.get("family") == fam.lower() for n in r["name"]))
        mid = norm(fam)[1:4]
        self.expect("/Patient?name:contains=" + urllib.parse.quote(mid),
                    lambda r: any(mid in norm(p) for n in r["name"] for p in [n.get("family", "")] + n.get("given", []) + n.get("prefix", []) + n.get("suffix", []) + ([n["text"]] if "text" in n else [])))
        city = self.of("Patient")[0]["address"][0]["city"]
        self.expect("/Patient?address-city=" + urllib.parse.quote(city), lambda r: any(a.get("city") and norm(a["city"]).startswith(norm(city)) for a in r.get("address", [])))

    def test_token(self):
        has = lambda r, sys, code: any((sys is None or c.get("system") == sys) and c.get("code") == code for c in codings(r.get("code")))
        self.expect("/Observation?code=http://loinc.org|8302-2", lambda r: has(r, "http://loinc.org", "8302-2"))
        self.expect("/Observation?code=8302-2,29463-7", lambda r: has(r, None, "8302-2") or has(r, None, "29463-7"))
        self.expect("/Observation?code=http://snomed.info/sct|8302-2", lambda r: has(r, "http://snomed.info/sct", "8302-2"))
        self.expect("/Observation?code:not=8302-2", lambda r: not has(r, None, "8302-2"))
        self.expect("/Patient?gender=female", lambda r: r.get("gender") == "female")
        self.expect("/Condition?clinical-status=resolved", lambda r: any(c["code"] == "resolved" for c in codings(r.get("clinicalStatus"))))
        ident = self.of("Patient")[2]["identifier"][1]
        self.expect("/Patient?identifier=%s|%s" % (ident["system"], ident["value"]),
                    lambda r: any(i.get("system") == ident["system"] and i.get("value") == ident["value"] for i in r.get("identifier", [])))
        self.expect("/Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|%s" % ident["value"],
                    lambda r: any(i.get("value") == ident["value"] and any(c.get("code") == "MR" for c in codings(i.get("type"))) for i in r.get("identifier", [])))
        self.expect("/Observation?code:text=body%20heigh", lambda r: any(norm(c.get("display", "")).startswith("body heigh") for c in codings(r.get("code"))) or norm(r["code"].get("text", "")).startswith("body heigh"))
        self.expect("/Observation?_id=" + self.of("Observation")[5]["id"], lambda r: r["id"] == self.of("Observation")[5]["id"])
        dead = lambda r: "deceasedDateTime" in r or r.get("deceasedBoolean") is True
        self.expect("/Patient?deceased=true", dead)
        self.expect("/Patient?deceased=false", lambda r: not dead(r))
        self.expect("/Patient?address-state:missing=true", lambda r: not any("state" in a for a in r.get("address", [])))

    def test_dates(self):
        births = [date_range(p["birthDate"]) for p in self.of("Patient")]
        year = self.of("Patient")[1]["birthDate"][:4]
        month = self.of("Patient")[1]["birthDate"][:7]
        day = self.of("Patient")[1]["birthDate"]
        for prefix in ["", "eq", "ne", "gt", "lt", "ge", "le", "sa", "eb"]:
            for v in [year, month, day]:
                self.expect("/Patient?birthdate=%s%s" % (prefix, v),
                            lambda r, p=prefix or "eq", v=v: date_match(p, date_range(r["birthDate"]), v))
        self.assertTrue(births)
        # dateTime with zone; AND of two prefixes; Period (Encounter.period)
        eff = lambda r: date_range(r["effectiveDateTime"]) if "effectiveDateTime" in r else None
        self.expect("/Observation?date=ge2015-01-01&date=lt2016-07",
                    lambda r: eff(r) is not None and date_match("ge", eff(r), "2015-01-01") and date_match("lt", eff(r), "2016-07"))
        t = self.of("Observation")[10]["effectiveDateTime"]
        self.expect("/Observation?date=" + urllib.parse.quote(t), lambda r: eff(r) is not None and date_match("eq", eff(r), t))
        self.expect("/Observation?date=gt" + urllib.parse.quote(t), lambda r: eff(r) is not None and date_match("gt", eff(r), t))

        def period(r):
            p = r.get("period")
            if not p:
                return None
            lo = date_range(p["start"])[0] if "start" in p else -2 ** 63
            hi = date_range(p["end"])[1] if "end" in p else 2 ** 63 - 1
            return lo, hi
        for prefix in ["eq", "sa", "eb", "gt", "le"]:
            self.expect("/Encounter?date=%s2014-03" % prefix, lambda r, p=prefix: period(r) is not None and date_match(p, period(r), "2014-03"))
        # eq on a day some Encounter lies within (taken from the data, so eq matches something)
        day = sorted(e["period"]["start"][:10] for e in self.of("Encounter") if "start" in e.get("period", {}))[0]
        self.assertTrue(self.expect("/Encounter?date=eq" + day, lambda r: period(r) is not None and date_match("eq", period(r), day)))
        # invalid dates and prefixes name the parameter and the value
        for bad in ["xx2020", "2020-13", "2020-02-30T"]:
            b = self.get("/Patient?birthdate=" + bad, 400)
            self.assertIn("birthdate", json.dumps(b))
            self.assertIn(bad, json.dumps(b))

    def test_quantity_and_number(self):
        def val(r):
            q = r.get("valueQuantity")
            return q
        for prefix, v in [("gt", "100"), ("lt", "5.5"), ("ge", "120"), ("le", "36.6"), ("ne", "90")]:
            dv = Decimal(v)
            ops = {"gt": lambda x: x > dv, "lt": lambda x: x < dv, "ge": lambda x: x >= dv, "le": lambda x: x <= dv}
            if prefix == "ne":
                lo, hi = number_range(v)
                f = lambda x: not (lo <= x < hi)
            else:
                f = ops[prefix]
            self.expect("/Observation?value-quantity=%s%s" % (prefix, v), lambda r, f=f: val(r) is not None and "value" in val(r) and f(Decimal(repr(val(r)["value"]))))
        # eq uses the precision of the digits written: 75 means [74.5, 75.5)
        some = next(r["valueQuantity"]["value"] for r in self.of("Observation") if "valueQuantity" in r and r["valueQuantity"]["value"] > 20)
        v = str(int(round(some)))
        lo, hi = number_range(v)
        self.assertTrue(self.expect("/Observation?value-quantity=" + v, lambda r: val(r) is not None and lo <= Decimal(repr(val(r)["value"])) < hi))
        unit = next(r["valueQuantity"] for r in self.of("Observation") if "valueQuantity" in r and "code" in r["valueQuantity"])
        q = "gt0|%s|%s" % (unit["system"], unit["code"])
        self.expect("/Observation?value-quantity=" + urllib.parse.quote(q, safe="|"),
                    lambda r: val(r) is not None and val(r).get("system") == unit["system"] and val(r).get("code") == unit["code"] and Decimal(repr(val(r)["value"])) > 0)
        self.expect("/Observation?value-quantity=" + urllib.parse.quote("gt0||" + unit["code"], safe="|"),
                    lambda r: val(r) is not None and (val(r).get("code") == unit["code"] or val(r).get("unit") == unit["code"]) and Decimal(repr(val(r)["value"])) > 0)
        b = self.get("/Observation?value-quantity=gtabc", 400)
        self.assertIn("value-quantity", json.dumps(b))

    def test_composite(self):
        def comp(r, code, pred):
            return any(any(c.get("code") == code for c in codings(k.get("code"))) and "valueQuantity" in k and pred(k["valueQuantity"]["value"])
                       for k in r.get("component", []))
        self.expect("/Observation?component-code-value-quantity=http://loinc.org|8480-6$gt130",
                    lambda r: comp(r, "8480-6", lambda x: x > 130))
        self.expect("/Observation?component-code-value-quantity=8462-4$lt80,8480-6$ge140",
                    lambda r: comp(r, "8462-4", lambda x: x < 80) or comp(r, "8480-6", lambda x: x >= 140))
        self.expect("/Observation?code-value-quantity=http://loinc.org|8302-2$gt170",
                    lambda r: any(c.get("code") == "8302-2" and c.get("system") == "http://loinc.org" for c in codings(r.get("code"))) and "valueQuantity" in r and r["valueQuantity"]["value"] > 170)

    def test_reference(self):
        pid = self.of("Patient")[0]["id"]
        subj = lambda r: r.get("subject", {}).get("reference")
        self.expect("/Observation?subject=Patient/" + pid, lambda r: subj(r) == "Patient/" + pid)
        self.expect("/Observation?patient=" + pid, lambda r: subj(r) == "Patient/" + pid)
        self.expect("/Observation?subject:Patient=" + pid, lambda r: subj(r) == "Patient/" + pid)
        self.expect("/Observation?subject=%s/Patient/%s" % (self.base, pid), lambda r: subj(r) == "Patient/" + pid)
        enc = self.of("Observation")[7]["encounter"]["reference"].split("/")[1]
        self.assertTrue(self.expect("/Observation?encounter=Encounter/" + enc, lambda r: r.get("encounter", {}).get("reference") == "Encounter/" + enc))
        self.expect("/Observation?encounter:missing=true", lambda r: "encounter" not in r)

    def test_chain_and_has(self):
        p = self.of("Patient")[4]
        fam = p["name"][0]["family"]
        pats = {"Patient/" + x["id"] for x in self.of("Patient") if any(norm(n.get("family", "")).startswith(norm(fam)) for n in x["name"])}
        self.expect("/Observation?subject:Patient.family=" + urllib.parse.quote(fam), lambda r: r.get("subject", {}).get("reference") in pats)
        self.expect("/Observation?subject.family=" + urllib.parse.quote(fam), lambda r: r.get("subject", {}).get("reference") in pats)
        org = self.of("Organization")[0]
        orgname = org["name"]
        orgs = {"Organization/" + o["id"] for o in self.of("Organization") if norm(o["name"]).startswith(norm(orgname))}
        encs = {"Encounter/" + e["id"] for e in self.of("Encounter") if e.get("serviceProvider", {}).get("reference") in orgs}
        self.expect("/Encounter?service-provider.name=" + urllib.parse.quote(orgname), lambda r: "Encounter/" + r["id"] in encs)
        self.expect("/Observation?encounter:Encounter.service-provider:Organization.name=" + urllib.parse.quote(orgname),
                    lambda r: r.get("encounter", {}).get("reference") in encs)
        code = "8302-2"
        with_code = {o["subject"]["reference"] for o in self.of("Observation") if any(c.get("code") == code for c in codings(o.get("code")))}
        self.expect("/Patient?_has:Observation:patient:code=" + code, lambda r: "Patient/" + r["id"] in with_code)
        self.expect("/Patient?_has:Observation:patient:code=no-such-code", lambda r: False)

    def test_include_revinclude(self):
        code = "8302-2"
        obs = [o for o in self.of("Observation") if any(c.get("code") == code for c in codings(o.get("code")))]
        ids, inc, _ = self.search_all("/Observation?code=%s&_include=Observation:patient&_count=500" % code)
        self.assertEqual(sorted(ids), sorted("Observation/" + o["id"] for o in obs))
        self.assertEqual(sorted(inc), sorted({o["subject"]["reference"] for o in obs}))
        pid = self.of("Patient")[2]["id"]
        ids, inc, _ = self.search_all("/Patient?_id=%s&_revinclude=Encounter:patient" % pid)
        self.assertEqual(ids, ["Patient/" + pid])
        self.assertEqual(sorted(inc), sorted("Encounter/" + e["id"] for e in self.of("Encounter") if e["subject"]["reference"] == "Patient/" + pid))
        # :iterate: encounters of the patient, then their service providers
        ids, inc, _ = self.search_all("/Patient?_id=%s&_revinclude=Encounter:patient&_include:iterate=Encounter:service-provider" % pid)
        provs = {e["serviceProvider"]["reference"] for e in self.of("Encounter") if e["subject"]["reference"] == "Patient/" + pid and "serviceProvider" in e}
        self.assertTrue(provs)
        self.assertTrue(provs <= set(inc))
        b = self.get("/Observation?code=%s&_include=Observation:patient&_count=3" % code)
        modes = [e["search"]["mode"] for e in b["entry"]]
        self.assertEqual(modes.count("match"), 3)
        self.assertIn("include", modes)

    def test_sort(self):
        pats = self.of("Patient")
        ids, _, _ = self.search_all("/Patient?_sort=birthdate&_count=3")
        want = [("Patient/" + p["id"]) for p in sorted(pats, key=lambda p: (date_range(p["birthDate"])[0]))]
        self.assertEqual([date_range(self.res[tuple(i.split("/"))]["birthDate"])[0] for i in ids],
                         [date_range(self.res[tuple(i.split("/"))]["birthDate"])[0] for i in want])
        ids, _, _ = self.search_all("/Patient?_sort=-birthdate,_id&_count=4")
        keys = [(-date_range(self.res[tuple(i.split("/"))]["birthDate"])[0], i.split("/")[1]) for i in ids]
        self.assertEqual(keys, sorted(keys))
        self.assertEqual(len(ids), len(pats))
        ids, _, _ = self.search_all("/Patient?_sort=family&_count=4")
        fams = [min(norm(n["family"]) for n in self.res[tuple(i.split("/"))]["name"] if "family" in n) for i in ids]
        self.assertEqual(fams, sorted(fams))
        pid = pats[0]["id"]
        ids, _, _ = self.search_all("/Observation?patient=%s&_sort=-date&_count=7" % pid)
        ds = [date_range(self.res[tuple(i.split("/"))]["effectiveDateTime"])[0] for i in ids]
        self.assertEqual(ds, sorted(ds, reverse=True))
        self.assertEqual(len(ids), len([o for o in self.of("Observation") if o["subject"]["reference"] == "Patient/" + pid]))

    def test_paging_while_inserting(self):
        want = sorted("Observation/" + o["id"] for o in self.of("Observation"))
        stop = threading.Event()
        created = []

        def writer():
            n = 0
            while not stop.is_set() and n < 200:
                r = self.s.request("POST", "/Observation", {"resourceType": "Observation", "status": "final",
                                                            "code": {"text": "paging-test"}})
                if r.status == 201:
                    created.append(r.json()["id"])
                n += 1
        t = threading.Thread(target=writer)
        t.start()
        try:
            ids = []
            url = "/Observation?_count=97"
            pages = 0
            while url:
                b = self.get(url)
                ids += ["Observation/" + e["resource"]["id"] for e in b.get("entry", []) if e["search"]["mode"] == "match"]
                nxt = [l["url"] for l in b["link"] if l["relation"] == "next"]
                url = nxt[0][len(self.base):] if nxt else None
                pages += 1
        finally:
            stop.set()
            t.join()
        self.assertGreater(pages, 3)
        self.assertEqual(len(ids), len(set(ids)), "duplicates while paging")
        self.assertTrue(set(want) <= set(ids), "missed resources while paging")
        extra = set(ids) - set(want)
        self.assertTrue(extra <= {"Observation/" + i for i in created})
        # previous link walks back to the same page
        b1 = self.get("/Observation?_count=50&_sort=date")
        n1 = [l["url"] for l in b1["link"] if l["relation"] == "next"][0][len(self.base):]
        b2 = self.get(n1)
        prev = [l["url"] for l in b2["link"] if l["relation"] == "previous"][0][len(self.base):]
        b1again = self.get(prev)
        self.assertEqual([e["resource"]["id"] for e in b1["entry"]], [e["resource"]["id"] for e in b1again["entry"]])
        for i in created:
            self.s.request("DELETE", "/Observation/" + i)

    def test_total_summary_elements(self):
        n = len(self.of("Condition"))
        b = self.get("/Condition?_count=5")
        self.assertEqual(b["total"], n)
        self.assertEqual(len(b["entry"]), 5)
        self.assertNotIn("total", self.get("/Condition?_count=5&_total=none"))
        b = self.get("/Condition?_summary=count")
        self.assertEqual(b["total"], n)
        self.assertNotIn("entry", b)
        b = self.get("/Patient?_elements=gender,birthDate&_count=3")
        for e in b["entry"]:
            r = e["resource"]
            self.assertEqual(set(r) - {"resourceType", "id", "meta"}, {"gender", "birthDate"})
            self.assertIn("SUBSETTED", json.dumps(r["meta"]["tag"]))
        b = self.get("/Patient?_summary=true&_count=2")
        for e in b["entry"]:
            self.assertNotIn("text", e["resource"])
            self.assertIn("name", e["resource"])
        b = self.get("/Patient?_summary=data&_count=2")
        self.assertTrue(all("text" not in e["resource"] for e in b["entry"]))

    def test_unknown_parameters(self):
        b = self.get("/Patient?gender=male&foo=bar")
        self.assertEqual(b["total"], len([p for p in self.of("Patient") if p["gender"] == "male"]))
        outcome = [e for e in b["entry"] if e["search"]["mode"] == "outcome"]
        self.assertEqual(len(outcome), 1)
        self.assertIn("foo", json.dumps(outcome[0]["resource"]))
        self_link = [l["url"] for l in b["link"] if l["relation"] == "self"][0]
        self.assertNotIn("foo", self_link)
        self.assertIn("gender=male", self_link)
        b = self.get("/Patient?gender=male&foo=bar", 400, headers={"Prefer": "handling=strict"})
        self.assertIn("foo", json.dumps(b))
        self.get("/Patient?gender=male", 200, headers={"Prefer": "handling=strict"})
        b = self.get("/Observation?code:in=http://x", 400)
        self.assertIn(":in", json.dumps(b))

    def test_compartment_and_system(self):
        pid = self.of("Patient")[1]["id"]
        ref = "Patient/" + pid
        ids, _, _ = self.search_all("/Patient/%s/Observation?_count=100" % pid)
        self.assertEqual(sorted(ids), sorted("Observation/" + o["id"] for o in self.of("Observation") if o["subject"]["reference"] == ref))
        ids, _, _ = self.search_all("/Patient/%s/Encounter?date=ge2010&_count=100" % pid)
        self.assertEqual(sorted(ids), sorted("Encounter/" + e["id"] for e in self.of("Encounter")
                                             if e["subject"]["reference"] == ref and date_range(e["period"]["end"])[1] > date_range("2010")[1]
                                             or (e["subject"]["reference"] == ref and date_range(e["period"]["start"])[0] >= date_range("2010")[0] and date_range(e["period"]["end"])[1] <= date_range("2010")[1])))
        ids, _, _ = self.search_all("/Patient/%s/*?_count=500" % pid)
        mine = [k for k, r in self.res.items() if k[0] in ("Observation", "Encounter", "Condition", "Procedure", "Immunization", "MedicationRequest", "DiagnosticReport", "Claim", "ExplanationOfBenefit", "Patient")
                and (r.get("subject", r.get("patient", {})).get("reference") == ref or k == ("Patient", pid))]
        self.assertTrue(set("%s/%s" % k for k in mine if k[0] in ("Observation", "Encounter", "Condition", "Patient")) <= set(ids))
        self.assertNotIn("Organization", {i.split("/")[0] for i in ids})
        self.get("/Patient/%s/Organization" % pid, 400)
        # system search
        b = self.get("/?_type=Patient,Condition&_summary=count")
        self.assertEqual(b["total"], len(self.of("Patient")) + len(self.of("Condition")))
        b = self.get("/?_summary=count")
        self.assertGreaterEqual(b["total"], len(self.res))
        ids, _, _ = self.search_all("/?_type=Patient,Practitioner&_id=%s&_count=10" % pid)
        self.assertEqual(ids, [ref])
        b = self.get("/?_lastUpdated=gt2000-01-01&_count=1")
        self.assertGreaterEqual(b["total"], len(self.res))

    def test_post_search(self):
        fam = self.of("Patient")[0]["name"][0]["family"]
        body = "family=" + urllib.parse.quote_plus(fam) + "&_count=50"
        r = self.s.request("POST", "/Patient/_search?gender=" + self.of("Patient")[0]["gender"], body,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 200, r)
        got = sorted(e["resource"]["id"] for e in r.json()["entry"])
        want = sorted(p["id"] for p in self.of("Patient") if p["gender"] == self.of("Patient")[0]["gender"] and any(norm(n.get("family", "")).startswith(norm(fam)) for n in p["name"]))
        self.assertEqual(got, want)
        r = self.s.request("POST", "/Patient/_search", "{}", headers={"Content-Type": "application/fhir+json"})
        self.assertEqual(r.status, 415)


if __name__ == "__main__":
    unittest.main()

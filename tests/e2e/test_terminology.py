"""Terminology on the device (issue 21) end to end against the real binary: $expand,
$validate-code, $lookup, $subsumes, $translate (type and instance level, GET and POST
Parameters, JSON and XML), stored CodeSystem/ValueSet/ConceptMap used at once and winning over
the bundled ones, token search modifiers :in / :not-in / :below / :above on Synthea data,
required bindings against stored ValueSets, error cases and budgets as OperationOutcomes, and
what a caller without ValueSet access may use.

Expected expansions are computed here, independently of the server, from the source JSON of the
R4 spec (tests/data/terminology/source-subset.json, see tests/data/README.md): compose
include/exclude, concept lists, is-a over nested concepts, valueSet imports.  Search results are
computed from the Synthea files."""
import glob
import json
import os
import unittest
import urllib.parse

from harness import DATA, SYNTHEA, Server, make_key, mint_token, pinned_auth

SOURCE = os.path.join(DATA, "terminology", "source-subset.json")
ISS = "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0"
AUD = "https://fhir.example.org"


def source():
    with open(SOURCE) as f:
        b = json.load(f)
    return {e["resource"]["url"]: e["resource"] for e in b["entry"]}


SRC = source()


# ---- an independent expander over the source JSON (the spec's rules, nothing of the server's) ----
def cs_concepts(cs):
    """code -> (display, parent codes), from nested concepts and parent/child/subsumedBy properties."""
    out = {}

    def walk(cs_list, parent):
        for c in cs_list:
            d = out.setdefault(c["code"], [c.get("display", ""), set()])
            if parent:
                d[1].add(parent)
            for p in c.get("property", []):
                if p["code"] in ("parent", "subsumedBy"):
                    d[1].add(p.get("valueCode"))
            walk(c.get("concept", []), c["code"])

    walk(cs.get("concept", []), None)
    for code, (_, _) in list(out.items()):
        pass
    return out


def descendants_or_self(concepts, root):
    kids = {}
    for code, (_, parents) in concepts.items():
        for p in parents:
            kids.setdefault(p, set()).add(code)
    seen, todo = set(), [root]
    while todo:
        x = todo.pop()
        if x in seen:
            continue
        seen.add(x)
        todo.extend(kids.get(x, ()))
    return seen


def expand(url):
    vs = SRC[url]
    out = set()
    for inc in vs["compose"].get("include", []):
        part = set()
        if "system" in inc:
            if "concept" in inc:
                part = {(inc["system"], c["code"]) for c in inc["concept"]}
            else:
                concepts = cs_concepts(SRC[inc["system"]])
                codes = set(concepts)
                for f in inc.get("filter", []):
                    assert f["op"] == "is-a" and f["property"] == "concept", f
                    codes &= descendants_or_self(concepts, f["value"])
                part = {(inc["system"], c) for c in codes}
        for imp in inc.get("valueSet", []):
            part = part | expand(imp) if "system" not in inc else part & expand(imp)
        out |= part
    for exc in vs["compose"].get("exclude", []):
        out -= {(exc["system"], c["code"]) for c in exc.get("concept", [])}
    return out


def q(s):
    return urllib.parse.quote(s, safe="")


def codes_of(expansion):
    return {(c["system"], c["code"]) for c in expansion["expansion"].get("contains", [])}


def param(p, name):
    for x in p["parameter"]:
        if x["name"] == name:
            return x
    return None


def value(p, name):
    x = param(p, name)
    if x is None:
        return None
    return next(v for k, v in x.items() if k.startswith("value"))


TREE = {"resourceType": "CodeSystem", "url": "http://example.org/cs/lab-groups", "status": "active", "content": "fragment",
        "hierarchyMeaning": "is-a",
        "concept": [{"code": "G", "display": "group", "concept": [{"code": "G1", "display": "one"}, {"code": "G2", "display": "two"}]}]}


class TerminologyBundled(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server()
        cls.s.start()

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def get(self, path, status=200):
        r = self.s.request("GET", path)
        self.assertEqual(r.status, status, r)
        return r.json()

    def outcome(self, r, status, code=None, text=None):
        self.assertEqual(r.status, status, r)
        j = r.json()
        self.assertEqual(j["resourceType"], "OperationOutcome", j)
        if code:
            self.assertEqual(j["issue"][0]["code"], code, j)
        if text:
            self.assertIn(text, j["issue"][0]["diagnostics"])
        return j

    def test_expansions_match_the_spec(self):
        for url in ("http://hl7.org/fhir/ValueSet/administrative-gender", "http://hl7.org/fhir/ValueSet/observation-status",
                    "http://terminology.hl7.org/ValueSet/v3-ActMoodIntent",
                    "http://hl7.org/fhir/ValueSet/event-or-request-resource-types"):
            with self.subTest(url=url):
                want = expand(url)
                self.assertTrue(len(want) >= 4)
                j = self.get("/ValueSet/$expand?url=" + q(url))
                self.assertEqual(j["expansion"]["total"], len(want))
                self.assertEqual(codes_of(j), want)

    def test_hierarchy_filter_really_filters(self):
        want = expand("http://terminology.hl7.org/ValueSet/v3-ActMoodIntent")
        everything = set(cs_concepts(SRC["http://terminology.hl7.org/CodeSystem/v3-ActMood"]))
        self.assertLess(len(want), len(everything))  # the test would catch an unfiltered answer
        self.assertIn(("http://terminology.hl7.org/CodeSystem/v3-ActMood", "RQO"), want)

    def test_paging_filter_and_post_parameters(self):
        url = "http://hl7.org/fhir/ValueSet/observation-status"
        full = self.get("/ValueSet/$expand?url=" + q(url))
        order = [c["code"] for c in full["expansion"]["contains"]]
        page = self.get("/ValueSet/$expand?url=%s&offset=2&count=3" % q(url))
        self.assertEqual([c["code"] for c in page["expansion"]["contains"]], order[2:5])
        self.assertEqual(page["expansion"]["total"], len(order))
        self.assertEqual(page["expansion"]["offset"], 2)
        f = self.get("/ValueSet/$expand?url=%s&filter=amend" % q(url))
        want = {c["code"] for c in full["expansion"]["contains"]
                if any(w.startswith("amend") for w in c.get("display", "").lower().split()) or c["code"].startswith("amend")}
        self.assertEqual({c["code"] for c in f["expansion"]["contains"]}, want)
        self.assertTrue(want)
        body = {"resourceType": "Parameters", "parameter": [{"name": "url", "valueUri": url}, {"name": "count", "valueInteger": 1}]}
        r = self.s.request("POST", "/ValueSet/$expand", body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.json()["expansion"]["contains"]), 1)
        xml = ('<Parameters xmlns="http://hl7.org/fhir"><parameter><name value="url"/><valueUri value="%s"/></parameter>'
               '</Parameters>' % url)
        r = self.s.request("POST", "/ValueSet/$expand", xml, headers={"Content-Type": "application/fhir+xml",
                                                                      "Accept": "application/fhir+json"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(codes_of(r.json()), expand(url))

    def test_validate_code_lookup_subsumes(self):
        g = "http://hl7.org/fhir/ValueSet/administrative-gender"
        sys_ = "http://hl7.org/fhir/administrative-gender"
        p = self.get("/ValueSet/$validate-code?url=%s&system=%s&code=male" % (q(g), q(sys_)))
        self.assertIs(value(p, "result"), True)
        self.assertEqual(value(p, "display"), "Male")
        p = self.get("/ValueSet/$validate-code?url=%s&system=%s&code=dragon" % (q(g), q(sys_)))
        self.assertIs(value(p, "result"), False)
        self.assertIn("dragon", value(p, "message"))
        body = {"resourceType": "Parameters", "parameter": [
            {"name": "url", "valueUri": g},
            {"name": "codeableConcept", "valueCodeableConcept": {"coding": [{"system": "x", "code": "y"},
                                                                            {"system": sys_, "code": "female"}]}}]}
        r = self.s.request("POST", "/ValueSet/$validate-code", body)
        self.assertIs(value(r.json(), "result"), True)
        mood = "http://terminology.hl7.org/CodeSystem/v3-ActMood"
        concepts = cs_concepts(SRC[mood])
        p = self.get("/CodeSystem/$lookup?system=%s&code=RQO" % q(mood))
        self.assertEqual(value(p, "display"), concepts["RQO"][0])
        parents = {pp["part"][1]["valueCode"] for pp in p["parameter"]
                   if pp["name"] == "property" and pp["part"][0]["valueCode"] == "parent"}
        self.assertEqual(parents, concepts["RQO"][1])
        for a, b, want in (("INT", "RQO", "subsumes"), ("RQO", "INT", "subsumed-by"), ("EVN", "EVN", "equivalent"),
                           ("EVN", "RQO", "not-subsumed")):
            p = self.get("/CodeSystem/$subsumes?system=%s&codeA=%s&codeB=%s" % (q(mood), a, b))
            self.assertEqual(value(p, "outcome"), want, (a, b))
        self.assertIn("INT", descendants_or_self(concepts, "INT"))
        self.assertIn("RQO", descendants_or_self(concepts, "INT"))

    def test_errors_are_operation_outcomes(self):
        self.outcome(self.s.request("GET", "/ValueSet/$expand?url=" + q("http://example.org/none")), 404, "not-found")
        self.outcome(self.s.request("GET", "/ValueSet/$expand"), 400)
        self.outcome(self.s.request("GET", "/ValueSet/$expand?url=" + q("http://hl7.org/fhir/ValueSet/observation-codes")),
                     400, "not-supported", "not available on this server")
        self.outcome(self.s.request("GET", "/ValueSet/$expand?url=%s&count=-1" % q(SRC and "http://hl7.org/fhir/ValueSet/administrative-gender")), 400)
        self.outcome(self.s.request("GET", "/ValueSet/$expand?url=%s&count=99999999" % q("http://hl7.org/fhir/ValueSet/administrative-gender")), 400)
        self.outcome(self.s.request("GET", "/ValueSet/$expand?url=%s&bogus=1" % q("http://hl7.org/fhir/ValueSet/administrative-gender")), 400)
        self.outcome(self.s.request("GET", "/ValueSet/$validate-code?url=" + q("http://hl7.org/fhir/ValueSet/administrative-gender")), 400)
        self.outcome(self.s.request("GET", "/CodeSystem/$lookup?system=%s" % q("http://hl7.org/fhir/administrative-gender")), 400)
        self.outcome(self.s.request("GET", "/CodeSystem/$lookup?system=%s&code=1-8" % q("http://loinc.org")), 400, "not-supported")
        self.outcome(self.s.request("GET", "/CodeSystem/$lookup?system=%s&code=nope" % q("http://hl7.org/fhir/administrative-gender")), 404)
        self.outcome(self.s.request("GET", "/CodeSystem/$subsumes?system=%s&codeA=INT" % q("http://terminology.hl7.org/CodeSystem/v3-ActMood")), 400)
        self.outcome(self.s.request("GET", "/ConceptMap/$translate?code=a&system=b"), 400)
        self.outcome(self.s.request("GET", "/ConceptMap/$translate?code=a&system=b&url=" + q("http://example.org/cm")), 404)
        # unsupported filter / regex budget / import cycle in an inline value set
        def inline(compose):
            return {"resourceType": "Parameters", "parameter": [{"name": "valueSet", "resource": {
                "resourceType": "ValueSet", "url": "http://example.org/vs/inline", "status": "active", "compose": compose}}]}
        gender = "http://hl7.org/fhir/administrative-gender"
        r = self.s.request("POST", "/ValueSet/$expand", inline({"include": [{"system": gender, "filter": [
            {"property": "concept", "op": "frobnicate", "value": "x"}]}]}))
        self.outcome(r, 400, "not-supported")
        r = self.s.request("POST", "/ValueSet/$expand", inline({"include": [{"system": gender, "filter": [
            {"property": "code", "op": "regex", "value": "a" * 500}]}]}))
        self.outcome(r, 413)
        r = self.s.request("POST", "/ValueSet/$expand", inline({"include": [{"valueSet": ["http://example.org/vs/inline"]}]}))
        self.assertIn(r.status, (400, 404), r)
        r = self.s.request("POST", "/ValueSet/$expand", inline({"include": [{"system": gender, "filter": [
            {"property": "code", "op": "regex", "value": "fe.*"}]}]}))
        self.assertEqual(codes_of(r.json()), {(gender, "female")})

    def test_capability_statement_lists_the_operations(self):
        cs = self.get("/metadata")
        ops = {(r["type"], o["name"]) for r in cs["rest"][0]["resource"] for o in r.get("operation", [])}
        for want in (("ValueSet", "expand"), ("ValueSet", "validate-code"), ("CodeSystem", "lookup"),
                     ("CodeSystem", "subsumes"), ("ConceptMap", "translate")):
            self.assertIn(want, ops)


class TerminologyStored(unittest.TestCase):
    """Stored content: used at once, wins over the bundled, drives search modifiers and bindings."""

    @classmethod
    def setUpClass(cls):
        cls.s = Server()
        cls.s.start()
        cls.obs = []
        cls.enc = []
        for f in sorted(glob.glob(os.path.join(SYNTHEA, "*.json")))[:3]:
            with open(f) as fh:
                b = json.load(fh)
            r = cls.s.request("POST", "/", b)
            assert r.status == 200, r
            for e in b["entry"]:
                res = e["resource"]
                if res["resourceType"] == "Observation":
                    cls.obs.append(res)
                if res["resourceType"] == "Encounter":
                    cls.enc.append(res)

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def total(self, path):
        r = self.s.request("GET", path + ("&" if "?" in path else "?") + "_summary=count")
        self.assertEqual(r.status, 200, r)
        return r.json()["total"]

    def put(self, res):
        r = self.s.request("PUT", "/%s/%s" % (res["resourceType"], res["id"]), res)
        self.assertIn(r.status, (200, 201), r)

    def test_stored_value_set_in_and_not_in_on_synthea(self):
        loinc = "http://loinc.org"
        codes = sorted({c["code"] for o in self.obs for c in o["code"].get("coding", []) if c.get("system") == loinc})
        self.assertGreater(len(codes), 4)
        chosen = set(codes[: len(codes) // 2])
        vs = {"resourceType": "ValueSet", "id": "vs-half", "url": "http://example.org/vs/half", "status": "active",
              "compose": {"include": [{"system": loinc, "concept": [{"code": c} for c in sorted(chosen)]}]}}
        self.put(vs)
        def has(o):
            return any(c.get("system") == loinc and c["code"] in chosen for c in o["code"].get("coding", []))
        want_in = sum(1 for o in self.obs if has(o))
        self.assertGreater(want_in, 0)
        self.assertEqual(self.total("/Observation?code:in=" + q(vs["url"])), want_in)
        self.assertEqual(self.total("/Observation?code:in=ValueSet/vs-half"), want_in)
        self.assertEqual(self.total("/Observation?code:not-in=" + q(vs["url"])), len(self.obs) - want_in)
        # a change to the stored value set is seen by the next search (cache invalidated)
        vs["compose"]["include"][0]["concept"] = [{"code": codes[0]}]
        self.put(vs)
        one = sum(1 for o in self.obs if any(c.get("system") == loinc and c["code"] == codes[0] for c in o["code"]["coding"]))
        self.assertEqual(self.total("/Observation?code:in=" + q(vs["url"])), one)
        r = self.s.request("GET", "/Observation?code:in=" + q("http://example.org/vs/none"))
        self.assertEqual(r.status, 400, r)

    def test_below_and_above_on_a_stored_code_system_fragment(self):
        loinc = "http://loinc.org"
        codes = sorted({c["code"] for o in self.obs for c in o["code"].get("coding", []) if c.get("system") == loinc})
        kids = codes[:3]
        cs = {"resourceType": "CodeSystem", "id": "loinc-fragment", "url": loinc, "status": "active", "content": "fragment",
              "hierarchyMeaning": "is-a",
              "concept": [{"code": "GROUP-X", "display": "group", "concept": [{"code": k} for k in kids]}]}
        r = self.s.request("GET", "/Observation?code:below=" + q(loinc + "|GROUP-X"))
        self.assertEqual(r.status, 400, r)  # LOINC is not held before the fragment is stored
        self.put(cs)
        want = sum(1 for o in self.obs if any(c.get("system") == loinc and c["code"] in kids for c in o["code"]["coding"]))
        self.assertGreater(want, 0)
        self.assertEqual(self.total("/Observation?code:below=" + q(loinc + "|GROUP-X")), want)
        one = sum(1 for o in self.obs if any(c.get("system") == loinc and c["code"] == kids[0] for c in o["code"]["coding"]))
        self.assertEqual(self.total("/Observation?code:above=" + q(loinc + "|" + kids[0])), one)
        # stored CodeSystem changes are reflected at once: drop a child
        cs["concept"][0]["concept"] = [{"code": kids[0]}]
        self.put(cs)
        self.assertEqual(self.total("/Observation?code:below=" + q(loinc + "|GROUP-X")), one)
        p = self.s.request("GET", "/CodeSystem/loinc-fragment/$lookup?code=GROUP-X").json()
        self.assertEqual(value(p, "display"), "group")

    def test_below_pages_and_totals_after_deletes_and_updates(self):
        # Own data (a system of its own, so the Synthea counts of the other tests stay): a
        # stored hierarchy, Observations under it, some with two matching codings, some updated
        # out of (and into) it, some deleted, one re-created.  The search with one criterion
        # takes the collected path (store/search.cpp), the same search with a second criterion
        # every resource meets the general one: pages, links and totals must equal the model's.
        sys_ = "http://example.org/cs/e2e-below"
        self.put({"resourceType": "CodeSystem", "id": "e2e-below", "url": sys_, "status": "active", "content": "complete",
                  "hierarchyMeaning": "is-a",
                  "concept": [{"code": "TOP", "concept": [{"code": "k%d" % i} for i in range(4)]}, {"code": "OUT"}]})
        pats = [self.s.request("POST", "/Patient", {"resourceType": "Patient"}).json()["id"] for _ in range(2)]
        model = {}  # id -> (codes, patient); ids in creation order
        order = []

        def cleanup():  # the other tests count every Observation (:not-in)
            for rid in order:
                self.s.request("DELETE", "/Observation/" + rid)
            for p in pats:
                self.s.request("DELETE", "/Patient/" + p)
        self.addCleanup(cleanup)

        def write(rid, codes, patient):
            o = {"resourceType": "Observation", "status": "final", "subject": {"reference": "Patient/" + patient},
                 "code": {"coding": [{"system": sys_, "code": c} for c in codes]}}
            if rid is None:
                r = self.s.request("POST", "/Observation", o)
                self.assertEqual(r.status, 201, r)
                rid = r.json()["id"]
                order.append(rid)
            else:
                o["id"] = rid
                self.put(o)
            model[rid] = (codes, patient)
            return rid

        for i in range(40):
            codes = ["k%d" % (i % 4)] if i % 5 else ["OUT"]
            if i % 7 == 0:
                codes = codes + ["k1"]  # two codings under TOP: one match
            write(None, codes, pats[i % 2])
        for rid in order[::6]:  # updates: out of the hierarchy and back in
            write(rid, ["OUT"] if model[rid][0] != ["OUT"] else ["k2"], model[rid][1])
        deleted = order[3::8]
        for rid in deleted:
            self.assertIn(self.s.request("DELETE", "/Observation/" + rid).status, (200, 204))
            del model[rid]
        write(deleted[0], ["k3"], pats[0])  # re-created: back at its old place in the order

        def want(patient=None):
            return [rid for rid in order if rid in model and any(c != "OUT" for c in model[rid][0])
                    and (patient is None or model[rid][1] == patient)]

        below = "code:below=" + q(sys_ + "|TOP")
        for base, expect in (("/Observation?" + below, want()),
                             ("/Patient/%s/Observation?%s" % (pats[0], below), want(pats[0])),
                             ("/Observation?code=" + ",".join(q(sys_ + "|k%d" % i) for i in range(4)), want())):
            self.assertGreater(len(expect), 8)
            for extra in ("", "&_lastUpdated=gt2000-01-01"):
                path = base + extra
                self.assertEqual(self.total(path), len(expect), path)
                b = self.s.request("GET", path + "&_total=none&_count=3").json()
                self.assertNotIn("total", b)
                seen, bundles = [], []
                url = path + "&_count=4"
                while url:
                    b = self.s.request("GET", url).json()
                    self.assertEqual(b["total"], len(expect), url)
                    bundles.append(b)
                    seen += [e["resource"]["id"] for e in b.get("entry", []) if e["search"]["mode"] == "match"]
                    nxt = [l["url"] for l in b.get("link", []) if l["relation"] == "next"]
                    url = nxt[0].split("/", 3)[3] if nxt else None
                    url = "/" + url if url else None
                    self.assertLess(len(bundles), 40)
                self.assertEqual(seen, expect, path)
                # previous links lead back through the same pages
                for i in range(len(bundles) - 1, 0, -1):
                    prev = [l["url"] for l in bundles[i]["link"] if l["relation"] == "previous"]
                    self.assertEqual(len(prev), 1, path)
                    b = self.s.request("GET", "/" + prev[0].split("/", 3)[3]).json()
                    self.assertEqual([e["resource"]["id"] for e in b.get("entry", [])],
                                     [e["resource"]["id"] for e in bundles[i - 1].get("entry", [])], path)

    def test_below_on_bundled_v3_hierarchy_over_encounters(self):
        act = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
        classes = [e["class"]["code"] for e in self.enc if e.get("class", {}).get("system") == act]
        self.assertTrue(classes)
        code = classes[0]
        self.assertEqual(self.total("/Encounter?class:below=" + q(act + "|" + code)), classes.count(code))
        self.assertEqual(self.total("/Encounter?class:in=" + q("http://terminology.hl7.org/ValueSet/v3-ActEncounterCode")),
                         len(self.enc))

    def test_stored_value_set_wins_over_bundled_and_instance_level(self):
        g = "http://hl7.org/fhir/ValueSet/administrative-gender"
        sys_ = "http://hl7.org/fhir/administrative-gender"
        before = self.s.request("GET", "/ValueSet/$expand?url=" + q(g)).json()
        self.assertEqual(before["expansion"]["total"], 4)
        self.put({"resourceType": "ValueSet", "id": "g2", "url": g, "status": "active",
                  "compose": {"include": [{"system": sys_, "concept": [{"code": "male"}, {"code": "female"}]}]}})
        after = self.s.request("GET", "/ValueSet/$expand?url=" + q(g)).json()
        self.assertEqual(codes_of(after), {(sys_, "male"), (sys_, "female")})
        inst = self.s.request("GET", "/ValueSet/g2/$expand").json()
        self.assertEqual(codes_of(inst), codes_of(after))
        self.assertEqual(self.s.request("GET", "/ValueSet/none/$expand").status, 404)
        r = self.s.request("DELETE", "/ValueSet/g2")
        self.assertIn(r.status, (200, 204))
        self.assertEqual(self.s.request("GET", "/ValueSet/$expand?url=" + q(g)).json()["expansion"]["total"], 4)

    def test_posted_value_set_invalidates_a_cached_bundled_expansion(self):
        # POST (a create with a server-assigned id) takes the prepared create path of the
        # writer; the cached expansion of the bundled value set must still be dropped.
        u = "http://hl7.org/fhir/ValueSet/contact-point-system"
        sys_ = "http://hl7.org/fhir/contact-point-system"
        first = self.s.request("GET", "/ValueSet/$expand?url=" + q(u)).json()
        self.assertEqual(first["expansion"]["total"], 7)
        self.s.request("GET", "/ValueSet/$expand?url=" + q(u))  # now cached
        r = self.s.request("POST", "/ValueSet", {"resourceType": "ValueSet", "url": u, "status": "active",
                                                  "compose": {"include": [{"system": sys_, "concept": [{"code": "phone"}]}]}})
        self.assertEqual(r.status, 201, r)
        after = self.s.request("GET", "/ValueSet/$expand?url=" + q(u)).json()
        self.assertEqual(codes_of(after), {(sys_, "phone")})
        vid = r.json()["id"]
        self.assertIn(self.s.request("DELETE", "/ValueSet/" + vid).status, (200, 204))
        self.assertEqual(self.s.request("GET", "/ValueSet/$expand?url=" + q(u)).json()["expansion"]["total"], 7)

    def test_translate_with_a_stored_concept_map(self):
        cm = {"resourceType": "ConceptMap", "id": "cm1", "url": "http://example.org/cm/1", "status": "active",
              "group": [{"source": "http://s", "target": "http://t", "element": [
                  {"code": "a", "target": [{"code": "x", "equivalence": "equivalent"}]},
                  {"code": "b", "target": [{"equivalence": "unmatched"}]}]}]}
        self.put(cm)
        p = self.s.request("GET", "/ConceptMap/$translate?url=%s&system=%s&code=a" % (q(cm["url"]), q("http://s"))).json()
        self.assertIs(value(p, "result"), True)
        m = param(p, "match")
        self.assertEqual(m["part"][1]["valueCoding"]["code"], "x")
        p = self.s.request("GET", "/ConceptMap/cm1/$translate?system=%s&code=b" % q("http://s")).json()
        self.assertIs(value(p, "result"), False)
        p = self.s.request("GET", "/ConceptMap/cm1/$translate?system=%s&code=x&reverse=true" % q("http://t")).json()
        self.assertEqual(param(p, "match")["part"][1]["valueCoding"]["code"], "a")

    def test_required_binding_against_a_stored_value_set(self):
        inv = {"resourceType": "Invoice", "status": "draft", "totalNet": {"value": 1, "currency": "XXX"}}
        r = self.s.request("POST", "/Invoice", inv)
        self.assertEqual(r.status, 201, r)  # currencies is not bundled-enumerated: not checked yet
        self.put({"resourceType": "ValueSet", "id": "cur", "url": "http://hl7.org/fhir/ValueSet/currencies", "status": "active",
                  "compose": {"include": [{"system": "urn:iso:std:iso:4217", "concept": [{"code": "EUR"}, {"code": "USD"}]}]}})
        r = self.s.request("POST", "/Invoice", inv)
        self.assertIn(r.status, (400, 422), r)
        self.assertIn("currencies", r.body.decode())
        inv["totalNet"]["currency"] = "EUR"
        r = self.s.request("POST", "/Invoice", inv)
        self.assertEqual(r.status, 201, r)


class TerminologyAuth(unittest.TestCase):
    """Bundled content for any authenticated caller; stored definitions only with access to the type."""

    @classmethod
    def setUpClass(cls):
        cls.s = Server()
        d = cls.s.tmp
        cls.priv, pub = make_key(d)
        cls.s.config["auth"] = pinned_auth(ISS, AUD, pub)
        cls.s.start()
        cls.admin = cls.tok("admin", roles="FHIR Data Writer,FHIR Data Reader")
        cls.obs_only = cls.tok("u1", scope="patient/Observation.rs", extra=("--claim", "patient=p1"))
        r = cls.s.request("PUT", "/ValueSet/secret", {
            "resourceType": "ValueSet", "id": "secret", "url": "http://example.org/vs/secret", "status": "active",
            "compose": {"include": [{"system": "http://s", "concept": [{"code": "hidden-code"}]}]}}, token=cls.admin)
        assert r.status in (200, 201), r

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    @classmethod
    def tok(cls, sub, roles=None, scope=None, extra=()):
        return mint_token(cls.priv, ISS, AUD, sub, roles, scope,
                          ("--claim", "tid=11111111-2222-3333-4444-555555555555") + tuple(extra))

    def test_unauthenticated_is_refused(self):
        r = self.s.request("GET", "/ValueSet/$expand?url=" + q("http://hl7.org/fhir/ValueSet/administrative-gender"))
        self.assertEqual(r.status, 401)

    def test_bundled_for_any_caller_stored_only_with_access(self):
        g = "/ValueSet/$expand?url=" + q("http://hl7.org/fhir/ValueSet/administrative-gender")
        self.assertEqual(self.s.request("GET", g, token=self.obs_only).status, 200)
        secret = "/ValueSet/$expand?url=" + q("http://example.org/vs/secret")
        r = self.s.request("GET", secret, token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertIn("hidden-code", r.body.decode())
        r = self.s.request("GET", secret, token=self.obs_only)
        self.assertEqual(r.status, 404, r)
        self.assertNotIn("hidden-code", r.body.decode())
        r = self.s.request("GET", "/ValueSet/secret/$expand", token=self.obs_only)
        self.assertIn(r.status, (403, 404), r)
        self.assertNotIn("hidden-code", r.body.decode())
        r = self.s.request("GET", "/Observation?code:in=" + q("http://example.org/vs/secret"), token=self.obs_only)
        self.assertEqual(r.status, 400, r)


if __name__ == "__main__":
    unittest.main()

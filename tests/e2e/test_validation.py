"""Validation against the R4 type model (issue 18), through the real binary: $validate on every
type (Parameters included) with FHIRPath expressions per issue, the primitive rules of the spec
(accepted and rejected JSON values per primitive type), shapes, primitive extensions, $validate
modes, and validation.on_write (strict refuses with 422, warn stores and logs, off stores) on
create, update, patch, transaction entries and `edgefhir import`.  The official R4 examples of
tests/data/fhir-r4-examples/ (see its README) are stored under strict and read back unchanged
apart from meta."""
import json
import os
import tempfile
import unittest

from harness import ROOT, Server, run_cli

EXAMPLES = os.path.join(ROOT, "tests", "data", "fhir-r4-examples")

# (member of Parameters.parameter[0], type in .ofType(), accepted) -- from the spec's primitive
# rules (https://hl7.org/fhir/R4/datatypes.html#primitive and the regexes of profiles-types.json).
# Values the fhir262 suite already has are in test_validation_suite.py (checked there the same
# way: exactly one error, at the value), not repeated here.
PRIMITIVES = [
    ('"valueInteger": 1.5', "integer", False),
    ('"valueInteger": 1e3', "integer", False),
    ('"valueInteger": " 42"', "integer", False),
    ('"valueDecimal": 0.000000000000000000000001', "decimal", True),
    ('"valueDecimal": -1.50', "decimal", True),
    ('"valueDecimal": "1.5"', "decimal", False),
    ('"valueString": "+42"', "string", True),
    ('"valueString": " 42"', "string", True),
    ('"valueString": 42', "string", False),
    ('"valueDate": "2015"', "date", True),
    ('"valueDate": "2015-02"', "date", True),
    ('"valueDate": "2015-02-07"', "date", True),
    ('"valueDate": "1970-13-45"', "date", False),
    ('"valueDate": "2015-02-29"', "date", False),
    ('"valueDate": "15-02-07"', "date", False),
    ('"valueDateTime": "2015-02-07T13:28:17.239-05:00"', "dateTime", True),
    ('"valueDateTime": "2015-02-07T13:28:17Z"', "dateTime", True),
    ('"valueDateTime": "2015-02-07T13:28:17"', "dateTime", False),
    ('"valueDateTime": "2015-02-07T13:28Z"', "dateTime", False),
    ('"valueDateTime": "2015-02-07T13:28:17+15:00"', "dateTime", False),
    ('"valueInstant": "2015-02-07T13:28:17"', "instant", False),
    ('"valueInstant": "2015-02-07"', "instant", False),
    ('"valueTime": "13:28:17"', "time", True),
    ('"valueTime": "13:28:17.5"', "time", True),
    ('"valueTime": "13:28"', "time", False),
    ('"valueCode": "final"', "code", True),
    ('"valueCode": "two words"', "code", True),
    ('"valueCode": " final"', "code", False),
    ('"valueCode": "two  spaces"', "code", False),
    ('"valueId": "a-Z.9"', "id", True),
    ('"valueId": "a_b"', "id", False),
    ('"valueId": "' + "x" * 65 + '"', "id", False),
    ('"valueOid": "urn:oid:2.16.840.1.113883"', "oid", True),
    ('"valueOid": "2.16.840"', "oid", False),
    ('"valueUuid": "urn:uuid:a76d9bbf-f293-4fb7-ad4c-2851cac77162"', "uuid", True),
    ('"valueUuid": "a76d9bbf-f293-4fb7-ad4c-2851cac77162"', "uuid", False),
    ('"valueUri": "urn:x:y"', "uri", True),
    ('"valueUri": "http://a b"', "uri", False),
    ('"valueUrl": "http://example.org/x"', "url", True),
    ('"valueCanonical": "http://hl7.org/fhir/ValueSet/x|4.0.1"', "canonical", True),
    ('"valueMarkdown": "*hi*\\n"', "markdown", True),
    ('"valueBase64Binary": "aGVsbG8gd29ybGQ="', "base64Binary", True),
    ('"valueBase64Binary": "a+/9"', "base64Binary", True),
    ('"valueBase64Binary": "not base64!"', "base64Binary", False),
]


class ValidationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server().start()

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def validate(self, path, body):
        r = self.s.request("POST", path, body, headers={"Content-Type": "application/fhir+json"})
        self.assertEqual(r.status, 200, r)
        oo = r.json()
        self.assertEqual(oo["resourceType"], "OperationOutcome")
        return [i for i in oo["issue"] if i["severity"] in ("error", "fatal")]

    def exprs(self, issues):
        return [e for i in issues for e in i.get("expression", [])]

    def test_primitive_values_through_parameters_validate(self):
        bad = []
        for member, typ, ok in PRIMITIVES:
            body = '{"resourceType":"Parameters","parameter":[{"name":"p",%s}]}' % member
            errs = self.validate("/Parameters/$validate", body)
            want = "Parameters.parameter[0].value.ofType(%s)" % typ
            if ok and errs:
                bad.append((member, "rejected", errs))
            if not ok and self.exprs(errs) != [want]:
                bad.append((member, "expected exactly one issue at " + want, errs))
            for i in errs:
                self.assertTrue(i.get("diagnostics"), i)
                self.assertIn(i["code"], ("value", "structure", "invalid"), i)
        self.assertEqual(bad, [])

    def test_shapes_with_patient_expressions(self):
        cases = [
            ({"resourceType": "Patient", "foo": 1}, "Patient.foo"),
            ({"resourceType": "Patient", "name": {"family": "x"}}, "Patient.name"),
            ({"resourceType": "Patient", "name": [{"given": ["a", 1]}]}, "Patient.name[0].given[1]"),
            ({"resourceType": "Patient", "name": [{"family": ["x"]}]}, "Patient.name[0].family"),
            ({"resourceType": "Patient", "gender": "f"}, "Patient.gender"),
            ({"resourceType": "Patient", "birthDate": 1970}, "Patient.birthDate"),
            ({"resourceType": "Patient", "active": "true"}, "Patient.active"),
            ({"resourceType": "Patient", "link": [{"type": "refer"}]}, "Patient.link[0].other"),
            ({"resourceType": "Patient", "deceasedString": "no"}, "Patient.deceasedString"),
            ({"resourceType": "Patient", "multipleBirthInteger": "2"}, "Patient.multipleBirth.ofType(integer)"),
            ({"resourceType": "Patient", "managingOrganization": {"reference": "Patient/1"}},
             "Patient.managingOrganization.reference"),
            ({"resourceType": "Patient", "communication": [{"preferred": True}]}, "Patient.communication[0].language"),
            ({"resourceType": "Patient", "contact": [{"gender": "x"}]}, "Patient.contact[0].gender"),
        ]
        for body, want in cases:
            errs = self.validate("/Patient/$validate", body)
            self.assertIn(want, self.exprs(errs), (body, errs))

    def test_primitive_extensions(self):
        ext = {"extension": [{"url": "http://example.org/x", "valueString": "y"}]}
        self.assertEqual(self.validate("/Patient/$validate", {"resourceType": "Patient", "_birthDate": ext}), [])
        errs = self.validate("/Patient/$validate", {"resourceType": "Patient", "_birthDate": {"id": "x"}})
        self.assertEqual(self.exprs(errs), ["Patient.birthDate"], errs)
        errs = self.validate("/Patient/$validate", {"resourceType": "Patient", "_birthDate": {}})
        self.assertIn("Patient.birthDate", self.exprs(errs))
        errs = self.validate("/Patient/$validate", {"resourceType": "Patient", "name": [{"given": ["a", None]}]})
        self.assertIn("Patient.name[0].given[1]", self.exprs(errs))
        ok = {"resourceType": "Patient", "name": [{"given": ["a", None], "_given": [None, ext]}]}
        self.assertEqual(self.validate("/Patient/$validate", ok), [])

    def test_every_type_including_never_stored_ones(self):
        self.assertEqual(self.validate("/Parameters/$validate", {"resourceType": "Parameters"}), [])
        errs = self.validate("/Bundle/$validate", {"resourceType": "Bundle", "type": "transaction", "entry": [
            {"resource": {"resourceType": "Patient", "birthDate": "1970-13-45"},
             "request": {"method": "POST", "url": "Patient"}}]})
        self.assertEqual(self.exprs(errs), ["Bundle.entry[0].resource.birthDate"], errs)
        r = self.s.request("POST", "/NoSuchType/$validate", {"resourceType": "Patient"})
        self.assertEqual(r.status, 404)

    def test_validate_modes(self):
        self.assertEqual(self.s.request("PUT", "/Patient/m1", {"resourceType": "Patient", "id": "m1"}).status, 201)
        wrap = lambda res, mode: {"resourceType": "Parameters", "parameter": [
            {"name": "resource", "resource": res}, {"name": "mode", "valueCode": mode}]}
        self.assertEqual(self.validate("/Patient/$validate", wrap({"resourceType": "Patient"}, "create")), [])
        errs = self.validate("/Patient/$validate", wrap({"resourceType": "Patient", "gender": "x"}, "create"))
        self.assertEqual(self.exprs(errs), ["Patient.gender"])
        errs = self.validate("/Patient/m1/$validate", wrap({"resourceType": "Patient", "id": "m2"}, "update"))
        self.assertIn("Patient.id", self.exprs(errs))
        self.assertEqual(self.validate("/Patient/m1/$validate", wrap({"resourceType": "Patient", "id": "m1"}, "update")), [])
        r = self.s.request("POST", "/Patient/m1/$validate", {"resourceType": "Parameters", "parameter": [
            {"name": "mode", "valueCode": "delete"}]})
        self.assertEqual(r.status, 200, r)

    def test_strict_refuses_invalid_writes(self):
        bad = {"resourceType": "Patient", "birthDate": "1970-13-45"}
        r = self.s.request("POST", "/Patient", bad)
        self.assertEqual(r.status, 422, r)
        oo = r.json()
        self.assertEqual(oo["issue"][0]["expression"], ["Patient.birthDate"])
        self.assertIn("1970-13-45", oo["issue"][0]["diagnostics"])
        r = self.s.request("PUT", "/Patient/s1", dict(bad, id="s1"))
        self.assertEqual(r.status, 422, r)
        self.assertEqual(self.s.request("GET", "/Patient/s1").status, 404)
        # a patch whose result is invalid
        self.assertEqual(self.s.request("PUT", "/Patient/s2", {"resourceType": "Patient", "id": "s2"}).status, 201)
        r = self.s.request("PATCH", "/Patient/s2", [{"op": "add", "path": "/gender", "value": "nope"}],
                           headers={"Content-Type": "application/json-patch+json"})
        self.assertEqual(r.status, 422, r)
        self.assertEqual(self.s.request("GET", "/Patient/s2").json().get("gender"), None)
        # a transaction: the invalid entry is named, nothing is stored
        tx = {"resourceType": "Bundle", "type": "transaction", "entry": [
            {"fullUrl": "urn:uuid:a76d9bbf-f293-4fb7-ad4c-2851cac77162",
             "resource": {"resourceType": "Patient", "name": [{"family": "Tx"}]},
             "request": {"method": "POST", "url": "Patient"}},
            {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                          "valueQuantity": {"value": "7"}},
             "request": {"method": "POST", "url": "Observation"}}]}
        r = self.s.request("POST", "/", tx)
        self.assertIn(r.status, (400, 422), r)
        text = r.json()["issue"][0]["diagnostics"]
        self.assertIn("entry", text)
        self.assertIn("Observation.value.ofType(Quantity).value", text)
        r = self.s.request("GET", "/Patient?family=Tx")
        self.assertEqual(r.json().get("total", len(r.json().get("entry", []))), 0)

    def test_official_examples_stored_under_strict(self):
        n = 0
        for name in sorted(os.listdir(EXAMPLES)):
            if not name.endswith(".json"):
                continue
            with open(os.path.join(EXAMPLES, name), encoding="utf-8") as f:
                res = json.load(f)
            if name.startswith("invalid-"):
                r = self.s.request("POST", "/" + res["resourceType"], res)
                self.assertEqual(r.status, 422, (name, r))
                continue
            if res["resourceType"] == "Parameters":  # never stored: $validate only
                self.assertEqual(self.validate("/Parameters/$validate", res), [], name)
                continue
            path = "/%s/%s" % (res["resourceType"], res["id"])
            r = self.s.request("PUT", path, res)
            self.assertIn(r.status, (200, 201), (name, r))
            back = self.s.request("GET", path).json()
            for x in (back, res):
                x.pop("meta", None)
            self.assertEqual(back, res, name)
            n += 1
        self.assertGreaterEqual(n, 12)


    def test_definition_order_and_summary_on_read(self):
        body = '{"name":[{"given":["A"],"family":"B"}],"gender":"female","birthDate":"1970-01-01",' \
               '"photo":[{"url":"http://x"}],"id":"ord1","resourceType":"Patient","active":true}'
        r = self.s.request("PUT", "/Patient/ord1", body, headers={"Content-Type": "application/fhir+json"})
        self.assertEqual(r.status, 201, r)
        text = self.s.request("GET", "/Patient/ord1").body.decode()
        keys = list(json.loads(text, object_pairs_hook=lambda kv: kv))
        self.assertEqual([k for k, _ in keys], ["resourceType", "id", "meta", "active", "name", "gender",
                                                "birthDate", "photo"])
        self.assertIn('"name":[{"family":"B","given":["A"]}]', text)
        s = self.s.request("GET", "/Patient/ord1?_summary=true").json()
        self.assertNotIn("photo", s)
        self.assertIn("SUBSETTED", json.dumps(s["meta"]["tag"]))
        self.assertEqual(s["birthDate"], "1970-01-01")
        e = self.s.request("GET", "/Patient/ord1/_history/1?_elements=gender").json()
        self.assertEqual(sorted(e), ["gender", "id", "meta", "resourceType"])

    def test_extensible_and_preferred_bindings_warn(self):
        ms = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
        p = {"resourceType": "Patient",
             "maritalStatus": {"coding": [{"system": ms, "code": "Z"}]},
             "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "xx-NOPE"}]}}]}
        issues = self.s.request("POST", "/Patient/$validate", p).json()["issue"]
        by = {i["expression"][0]: i for i in issues if i.get("expression")}
        self.assertEqual(by["Patient.maritalStatus"]["severity"], "warning")
        self.assertIn("extensible value set http://hl7.org/fhir/ValueSet/marital-status",
                      by["Patient.maritalStatus"]["diagnostics"])
        self.assertEqual(by["Patient.communication[0].language"]["severity"], "warning")
        self.assertIn("preferred value set", by["Patient.communication[0].language"]["diagnostics"])
        self.assertFalse([i for i in issues if i["severity"] in ("error", "fatal")], issues)
        # codes in the value sets: no binding issue
        p["maritalStatus"]["coding"][0]["code"] = "M"
        p["communication"][0]["language"]["coding"][0]["code"] = "en-US"
        issues = self.s.request("POST", "/Patient/$validate", p).json()["issue"]
        self.assertFalse([i for i in issues if i["code"] == "code-invalid"], issues)
        # only codings of another system: extensible allows it, but says a code should be used
        p["maritalStatus"] = {"coding": [{"system": "http://example.org/local", "code": "x"}], "text": "x"}
        issues = self.s.request("POST", "/Patient/$validate", p).json()["issue"]
        self.assertTrue([i for i in issues if i["severity"] == "warning" and "none of the codings" in i["diagnostics"]],
                        issues)
        # warnings never refuse a write under strict ...
        p["maritalStatus"]["coding"][0] = {"system": ms, "code": "Z"}
        self.assertEqual(self.s.request("POST", "/Patient", p).status, 201)
        # ... and never crowd out an error: 80 warnings (identifier) checked before an error
        # (telecom: members are walked in name order) on a write, whose issue budget is 50
        p["identifier"] = [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                 "code": "ZZ%d" % i}]}, "value": str(i)} for i in range(80)]
        p["telecom"] = [{"system": "pager2", "value": "1"}]
        r = self.s.request("POST", "/Patient", p)
        self.assertEqual(r.status, 422, r)
        self.assertIn("Patient.telecom[0].system", r.body.decode())

    def test_fhirpath_invariants(self):
        """Invariants of the definitions evaluated with the FHIRPath engine: the issue names the
        key, has code "invariant", the definition's severity and the element's path; errors
        refuse a write under strict, warnings do not; the same resources without the fault pass."""
        def invariant_issues(path, res):
            oo = self.s.request("POST", path, res).json()
            return [i for i in oo["issue"] if i["code"] == "invariant"]

        cases = [
            # obs-6: dataAbsentReason only without a value
            ("/Observation/$validate",
             {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
              "valueQuantity": {"value": 1}, "dataAbsentReason": {"text": "lost"}},
             "obs-6", "Observation", lambda r: r.pop("dataAbsentReason")),
            # per-1: Period start <= end
            ("/Patient/$validate",
             {"resourceType": "Patient", "identifier": [{"value": "1", "period": {"start": "2020-02-01", "end": "2019-01-01"}}]},
             "per-1", "Patient.identifier[0].period", lambda r: r["identifier"][0]["period"].update(end="2021-01-01")),
            # pat-1: a contact needs details or an organization
            ("/Patient/$validate",
             {"resourceType": "Patient", "contact": [{"gender": "male"}]},
             "pat-1", "Patient.contact[0]", lambda r: r["contact"][0].update(name={"family": "X"})),
            # qty-3: a unit code needs a system
            ("/Observation/$validate",
             {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
              "valueQuantity": {"value": 1, "code": "mg"}},
             "qty-3", "Observation.value.ofType(Quantity)",
             lambda r: r["valueQuantity"].update(system="http://unitsofmeasure.org")),
        ]
        for path, res, key, expr, fix in cases:
            issues = invariant_issues(path, res)
            mine = [i for i in issues if key in i["diagnostics"]]
            self.assertEqual(len(mine), 1, (key, issues))
            self.assertEqual(mine[0]["severity"], "error", key)
            self.assertEqual(mine[0]["expression"], [expr], key)
            r = self.s.request("POST", "/" + res["resourceType"], res)
            self.assertEqual(r.status, 422, (key, r))
            self.assertIn(key, r.body.decode())
            fix(res)
            self.assertEqual([i for i in invariant_issues(path, res) if key in i["diagnostics"]], [], key)
            self.assertEqual(self.s.request("POST", "/" + res["resourceType"], res).status, 201, key)
        # nor-1 has severity warning: reported as a warning, the write goes through
        no = {"resourceType": "NutritionOrder", "status": "active", "intent": "order",
              "patient": {"reference": "Patient/x"}, "dateTime": "2020-01-01"}
        issues = invariant_issues("/NutritionOrder/$validate", no)
        nor = [i for i in issues if "nor-1" in i["diagnostics"]]
        self.assertEqual(len(nor), 1, issues)
        self.assertEqual(nor[0]["severity"], "warning")
        self.assertEqual(nor[0]["expression"], ["NutritionOrder"])
        self.assertEqual(self.s.request("POST", "/NutritionOrder", no).status, 201)
        no["oralDiet"] = {"instruction": "soft food"}
        self.assertEqual([i for i in invariant_issues("/NutritionOrder/$validate", no) if "nor-1" in i["diagnostics"]], [])
        # an invariant inside a contained resource sees that resource as %resource: obs-6 there
        p = {"resourceType": "Patient", "contained": [
                {"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "x"},
                 "valueString": "v", "dataAbsentReason": {"text": "lost"}}],
             "generalPractitioner": [{"reference": "#o"}]}
        issues = invariant_issues("/Patient/$validate", p)
        self.assertEqual([i["expression"] for i in issues if "obs-6" in i["diagnostics"]], [["Patient.contained[0]"]], issues)

    def test_summary_and_elements_on_history_and_everything(self):
        pat = {"resourceType": "Patient", "id": "sum1", "active": True, "gender": "male",
               "photo": [{"url": "http://x"}], "name": [{"family": "S"}]}
        self.assertEqual(self.s.request("PUT", "/Patient/sum1", pat).status, 201)
        pat["gender"] = "female"
        self.assertEqual(self.s.request("PUT", "/Patient/sum1", pat).status, 200)
        obs = {"resourceType": "Observation", "id": "sum-o", "status": "final", "code": {"text": "x"},
               "subject": {"reference": "Patient/sum1"}, "note": [{"text": "not a summary element"}]}
        self.assertEqual(self.s.request("PUT", "/Observation/sum-o", obs).status, 201)
        for path in ("/Patient/sum1/_history", "/Patient/_history", "/_history"):
            b = self.s.request("GET", path + "?_summary=true&_count=1").json()
            res = [e["resource"] for e in b["entry"] if "resource" in e]
            self.assertTrue(res, path)
            for r in res:
                self.assertNotIn("photo", r, path)
                self.assertNotIn("note", r, path)
                self.assertIn("SUBSETTED", json.dumps(r["meta"].get("tag", [])), path)
            nxt = [l["url"] for l in b.get("link", []) if l["relation"] == "next"]
            if nxt:
                self.assertIn("_summary=true", nxt[0], path)
        h = self.s.request("GET", "/Patient/sum1/_history?_elements=gender").json()
        self.assertEqual([e["resource"]["gender"] for e in h["entry"]], ["female", "male"])
        for e in h["entry"]:
            self.assertEqual(sorted(e["resource"]), ["gender", "id", "meta", "resourceType"])
        ev = self.s.request("GET", "/Patient/sum1/$everything?_summary=true").json()
        types = sorted(e["resource"]["resourceType"] for e in ev["entry"])
        self.assertEqual(types, ["Observation", "Patient"])
        for e in ev["entry"]:
            self.assertNotIn("photo", e["resource"])
            self.assertNotIn("note", e["resource"])
            self.assertIn("SUBSETTED", json.dumps(e["resource"]["meta"]["tag"]))
        ev = self.s.request("GET", "/Patient/sum1/$everything?_elements=status&_count=1").json()
        first = ev["entry"][0]["resource"]
        self.assertLessEqual(set(first), {"resourceType", "id", "meta", "status"})
        self.assertIn("_elements=status", [l["url"] for l in ev["link"] if l["relation"] == "next"][0])
        for path in ("/Patient/sum1/_history?_summary=nope", "/Patient/sum1/$everything?_summary=count",
                     "/_history?_elements=a%20b"):
            r = self.s.request("GET", path)
            self.assertEqual(r.status, 400, path)
            self.assertEqual(r.json()["resourceType"], "OperationOutcome")


class OnWriteModesTest(unittest.TestCase):
    BAD = {"resourceType": "Patient", "birthDate": "1970-13-45"}

    def test_warn_stores_and_logs(self):
        with Server(config={"validation": {"on_write": "warn"}}) as s:
            r = s.request("POST", "/Patient", self.BAD)
            self.assertEqual(r.status, 201, r)
            self.assertEqual(r.json()["birthDate"], "1970-13-45")
            log = s.read_log()
            self.assertIn('"event":"validation.on_write"', log)
            self.assertIn("Patient.birthDate", log)

    def test_off_stores_silently(self):
        with Server(config={"validation": {"on_write": "off"}}) as s:
            self.assertEqual(s.request("POST", "/Patient", self.BAD).status, 201)
            self.assertNotIn("validation.on_write", s.read_log())

    def test_bad_mode_names_the_key(self):
        tmp = tempfile.mkdtemp(prefix="edgefhir-e2e-val-")
        cfg = os.path.join(tmp, "c.json")
        with open(cfg, "w") as f:
            json.dump({"validation": {"on_write": "lenient"}, "database": os.path.join(tmp, "db")}, f)
        p = run_cli("import", "--config", cfg, cfg)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("validation.on_write", p.stderr.decode() + p.stdout.decode())

    def test_import_reports_invalid_entries_by_name(self):
        tmp = tempfile.mkdtemp(prefix="edgefhir-e2e-val-")
        nd = os.path.join(tmp, "Patient.ndjson")
        with open(nd, "w") as f:
            f.write(json.dumps({"resourceType": "Patient", "id": "good1"}) + "\n")
            f.write(json.dumps({"resourceType": "Patient", "id": "bad1", "birthDate": "1970-13-45"}) + "\n")
            f.write(json.dumps({"resourceType": "Patient", "id": "good2"}) + "\n")
        db = os.path.join(tmp, "db.sqlite")
        p = run_cli("import", "--database", db, nd)
        out = p.stdout.decode() + p.stderr.decode()
        self.assertIn("bad1", out)
        self.assertIn("Patient.birthDate", out)
        with Server(keep_db=db) as s:
            self.assertEqual(s.request("GET", "/Patient/good1").status, 200)
            self.assertEqual(s.request("GET", "/Patient/good2").status, 200)
            self.assertEqual(s.request("GET", "/Patient/bad1").status, 404)


if __name__ == "__main__":
    unittest.main()

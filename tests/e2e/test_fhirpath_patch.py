"""FHIRPath Patch (https://hl7.org/fhir/R4/fhirpatch.html) against the real binary: every case of
HL7's official fhir-patch-tests.xml (converted to JSON by tools/gen_fhir_patch_tests.py into
tests/data/fhir-patch/) through PATCH /Patient/id, then conditional PATCH, PATCH entries in a
transaction and a batch (next to the JSON Patch Binary entry), If-Match, content types, and
errors that name the operation."""
import copy
import json
import os
import re
import subprocess
import sys
import unittest

from harness import Server

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "..", "data", "fhir-patch", "fhir-patch-tests.json")
FHIR_JSON = {"Content-Type": "application/fhir+json"}


def normalise(res):
    """The resource without the server's meta.versionId/lastUpdated and id, with the narrative
    div's whitespace collapsed (the XML source lays the div out differently in the value
    string of the patch and in the expected output)."""
    r = copy.deepcopy(res)
    r.pop("id", None)
    meta = r.pop("meta", {})
    meta.pop("versionId", None)
    meta.pop("lastUpdated", None)
    if meta:
        r["meta"] = meta
    div = r.get("text", {}).get("div")
    if div is not None:
        r["text"]["div"] = re.sub(r"\s+", " ", div).replace("> <", "><").strip()
    return r


def op(type_, path, **parts):
    p = [{"name": "type", "valueCode": type_}, {"name": "path", "valueString": path}]
    for k, v in parts.items():
        if k == "name":
            p.append({"name": "name", "valueString": v})
        elif k in ("index", "source", "destination"):
            p.append({"name": k, "valueInteger": v})
        else:  # value as value[x]: k is e.g. valueDate
            p.append(dict({"name": "value"}, **{k: v}))
    return {"name": "operation", "part": p}


def params(*ops):
    p = {"resourceType": "Parameters"}
    if ops:
        p["parameter"] = list(ops)
    return p


class FhirPathPatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server().start()
        # The official cases test patch semantics, not validity: two of their outputs break the
        # R4 invariant pat-1 (a contact left with no details), which validation.on_write
        # strict refuses (test_strict_refuses_an_invalid_result).  They run on a server that
        # stores results with warnings.
        cls.lenient = Server(config={"validation": {"on_write": "warn"}}).start()
        with open(CASES, encoding="utf-8") as f:
            cls.cases = json.load(f)

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()
        cls.lenient.cleanup()

    def put(self, res, rid):
        res = dict(res, id=rid)
        r = self.s.request("PUT", "/%s/%s" % (res["resourceType"], rid), res)
        self.assertIn(r.status, (200, 201), r)
        return r

    def patch(self, path, body, headers=None):
        h = dict(FHIR_JSON)
        h.update(headers or {})
        return self.s.request("PATCH", path, json.dumps(body), headers=h)

    def test_official_cases(self):
        """Every case of fhir-patch-tests.xml: PUT the input, PATCH the Parameters, compare with
        the expected output (or expect a 4xx OperationOutcome and an unchanged resource)."""
        self.s = self.lenient  # this test only (a new instance per test)
        self.assertEqual(len(self.cases), 33)
        passed = []
        for n, case in enumerate(self.cases):
            with self.subTest(case=case["name"]):
                rid = "fp-case-%d" % n
                rt = case["input"]["resourceType"]
                self.put(case["input"], rid)
                r = self.patch("/%s/%s" % (rt, rid), case["params"])
                if "error" in case:
                    self.assertIn(r.status, (400, 422), r)
                    body = r.json()
                    self.assertEqual(body["resourceType"], "OperationOutcome")
                    self.assertIn("Parameters.parameter[0]", json.dumps(body))
                    self.assertIn("No content found at", json.dumps(body))
                    cur = self.s.request("GET", "/%s/%s" % (rt, rid))
                    self.assertEqual(cur.json()["meta"]["versionId"], "1")
                else:
                    self.assertEqual(r.status, 200, r)
                    self.assertEqual(normalise(r.json()), normalise(case["output"]))
                    # the stored current version is the returned one
                    cur = self.s.request("GET", "/%s/%s" % (rt, rid)).json()
                    self.assertEqual(normalise(cur), normalise(case["output"]))
                passed.append(case["name"])
        print("\nfhir-patch-tests.xml: %d/%d cases pass" % (len(passed), len(self.cases)))

    def test_official_cases_in_xml(self):
        """The same cases sent as XML, as the official file writes them (the text of its
        <input> resource and <diff> Parameters, cut out of the file): the input PUT as
        application/fhir+xml, the Parameters PATCHed as application/fhir+xml; the result
        (asked for as JSON) equals the expected output."""
        self.s = self.lenient  # this test only (a new instance per test)
        with open(os.path.join(HERE, "..", "data", "fhir-patch", "fhir-patch-tests.xml"), encoding="utf-8") as f:
            text = f.read()
        blocks = re.findall(r'<case name="([^"]*)".*?</case>', text, re.S)
        self.assertEqual(blocks, [c["name"] for c in self.cases])
        bodies = []
        for block in re.findall(r'<case name="[^"]*".*?</case>', text, re.S):
            m = re.search(r'<input>\s*(<(\w+) xmlns=["\']http://hl7.org/fhir["\']>.*?</\2>)\s*</input>'
                          r'.*?<diff>\s*(<Parameters xmlns=["\']http://hl7.org/fhir["\']>.*?</Parameters>)\s*</diff>',
                          block, re.S)
            self.assertIsNotNone(m, block[:200])
            bodies.append(m.groups())
        xml_h = {"Content-Type": "application/fhir+xml", "Accept": "application/fhir+json"}
        passed = 0
        for n, ((res, rt, diff), case) in enumerate(zip(bodies, self.cases)):
            with self.subTest(case=case["name"]):
                self.assertEqual(rt, case["input"]["resourceType"])
                rid = "fp-xml-%d" % n
                if re.search(r"<id value=", res):
                    res = re.sub(r"<id value=(\"[^\"]*\"|'[^']*')", '<id value="%s"' % rid, res, count=1)
                else:
                    res = re.sub(r"(xmlns=[\"']http://hl7.org/fhir[\"']>)", r'\1<id value="%s"/>' % rid, res, count=1)
                r = self.s.request("PUT", "/%s/%s" % (rt, rid), res.encode(), headers=xml_h)
                self.assertIn(r.status, (200, 201), r)
                r = self.s.request("PATCH", "/%s/%s" % (rt, rid), diff.encode(), headers=xml_h)
                if "error" in case:
                    self.assertIn(r.status, (400, 422), r)
                    self.assertIn("No content found at", r.body.decode())
                else:
                    self.assertEqual(r.status, 200, r)
                    self.assertEqual(normalise(r.json()), normalise(case["output"]))
                passed += 1
        print("\nfhir-patch-tests.xml in XML: %d/%d cases pass" % (passed, len(self.cases)))

    def test_strict_refuses_an_invalid_result(self):
        """Under validation.on_write strict (the default) a patch whose result breaks an R4
        rule is refused naming the operation and the rule, and nothing is stored."""
        case = next(c for c in self.cases if c["name"] == "Delete Nested Primitive #2")
        with Server() as strict:
            rid = "fp-strict"
            res = dict(case["input"], id=rid)
            self.assertIn(strict.request("PUT", "/Patient/" + rid, res).status, (200, 201))
            r = strict.request("PATCH", "/Patient/" + rid, json.dumps(case["params"]), headers=FHIR_JSON)
            self.assertEqual(r.status, 422, r)
            text = r.body.decode()
            self.assertIn("Parameters.parameter[0]", text)
            self.assertIn("pat-1", text)
            self.assertEqual(strict.request("GET", "/Patient/" + rid).json()["meta"]["versionId"], "1")

    def test_cases_are_the_conversion_of_the_official_xml(self):
        """The committed JSON is exactly what tools/gen_fhir_patch_tests.py makes of the committed
        copy of the official XML (nothing hand-edited)."""
        root = os.path.join(HERE, "..", "..")
        r = subprocess.run([sys.executable, os.path.join(root, "tools", "gen_fhir_patch_tests.py"), "--check"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("up to date", r.stdout)

    def test_no_change_creates_no_version(self):
        self.put({"resourceType": "Patient", "birthDate": "1920-01-01"}, "fp-nochange")
        r = self.patch("/Patient/fp-nochange", params())
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["meta"]["versionId"], "1")
        r = self.patch("/Patient/fp-nochange", params(op("replace", "Patient.birthDate", valueDate="1920-01-01")))
        self.assertEqual(r.json()["meta"]["versionId"], "1")

    def test_where_and_choice_and_application_json(self):
        self.put({"resourceType": "Patient", "identifier": [{"use": "usual", "value": "a"},
                                                            {"use": "official", "value": "b"}]}, "fp-where")
        r = self.patch("/Patient/fp-where", params(
            op("add", "Patient.identifier.where(use = 'official')", name="period", valuePeriod={"start": "2020-01-01"}),
            op("add", "Patient", name="deceased", valueBoolean=False),
            op("insert", "Patient.name", index=0, valueHumanName={"family": "Zed"}),
            op("add", "Patient.name[0]", name="given", valueString="Ann"),
            op("add", "Patient.name[0]", name="given", valueString="Bea"),
            op("move", "Patient.name[0].given", source=1, destination=0)),
            headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 200, r)
        p = r.json()
        self.assertEqual(p["identifier"][1]["period"], {"start": "2020-01-01"})
        self.assertNotIn("period", p["identifier"][0])
        self.assertIs(p["deceasedBoolean"], False)
        self.assertEqual(p["name"], [{"family": "Zed", "given": ["Bea", "Ann"]}])
        self.assertEqual(p["meta"]["versionId"], "2")

    def test_errors_name_the_operation(self):
        self.put({"resourceType": "Patient", "birthDate": "1920-01-01", "name": [{"family": "A"}, {"family": "B"}]},
                 "fp-err")
        cases = [
            # (params, status, phrases)
            (params(op("add", "Patient", name="colour", valueString="red")), 422,
             ["Parameters.parameter[0]", "'colour' is not an element of Patient"]),
            (params(op("replace", "Patient.birthDate", valueDate="1930-01-01"),
                    op("replace", "Patient.name.family", valueString="C")), 422,
             ["Parameters.parameter[1]", "selects 2 elements"]),
            (params(op("replace", "Patient.birthDate", valueDate="1930-01-01"),
                    op("replace", "Patient.birthDate", valueString="not a date")), 422,
             ["Parameters.parameter[1]", "replace at 'Patient.birthDate'", "Patient.birthDate"]),
            (params(op("insert", "Patient.name", index=5, valueHumanName={"family": "Q"})), 422,
             ["Parameters.parameter[0]", "index must be 0..2"]),
            (params(op("frobnicate", "Patient.name")), 400, ["Parameters.parameter[0]", "frobnicate"]),
            (params(op("delete", "Patient.name[0")), 400, ["Parameters.parameter[0]", "Patient.name[0"]),
            ({"resourceType": "Parameters", "parameter": [{"name": "other", "valueString": "x"}]}, 400,
             ["Parameters.parameter[0]", "'operation'"]),
        ]
        for body, status, phrases in cases:
            with self.subTest(body=json.dumps(body)[:120]):
                r = self.patch("/Patient/fp-err", body)
                self.assertEqual(r.status, status, r)
                text = json.dumps(r.json())
                self.assertEqual(r.json()["resourceType"], "OperationOutcome")
                for ph in phrases:
                    self.assertIn(ph, text)
        cur = self.s.request("GET", "/Patient/fp-err").json()
        self.assertEqual(cur["meta"]["versionId"], "1")  # nothing was written
        self.assertEqual(cur["birthDate"], "1920-01-01")

    def test_content_types(self):
        self.put({"resourceType": "Patient", "active": True}, "fp-ct")
        # a JSON Patch array sent as fhir+json is refused (it must be application/json-patch+json)
        r = self.patch("/Patient/fp-ct", [{"op": "replace", "path": "/active", "value": False}])
        self.assertEqual(r.status, 415, r)
        # a Parameters sent as json-patch+json is not a JSON Patch
        r = self.patch("/Patient/fp-ct", params(op("delete", "Patient.active")),
                       headers={"Content-Type": "application/json-patch+json"})
        self.assertEqual(r.status, 400, r)
        r = self.patch("/Patient/fp-ct", params(op("delete", "Patient.active")), headers={"Content-Type": "text/plain"})
        self.assertEqual(r.status, 415, r)
        # JSON Patch keeps working
        r = self.s.request("PATCH", "/Patient/fp-ct", json.dumps([{"op": "replace", "path": "/active", "value": False}]),
                           headers={"Content-Type": "application/json-patch+json"})
        self.assertEqual(r.status, 200, r)
        self.assertIs(r.json()["active"], False)

    def test_if_match_and_missing(self):
        self.put({"resourceType": "Patient", "active": True}, "fp-im")
        body = params(op("replace", "Patient.active", valueBoolean=False))
        r = self.patch("/Patient/fp-im", body, headers={"If-Match": 'W/"7"'})
        self.assertEqual(r.status, 412, r)
        r = self.patch("/Patient/fp-im", body, headers={"If-Match": 'W/"1"'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("etag"), 'W/"2"')
        r = self.patch("/Patient/fp-does-not-exist", body)
        self.assertEqual(r.status, 404, r)

    def test_conditional_patch(self):
        self.put({"resourceType": "Patient", "identifier": [{"system": "http://x", "value": "fp-cond"}]}, "fp-cond")
        r = self.patch("/Patient?identifier=http://x|fp-cond", params(op("add", "Patient", name="gender", valueCode="female")))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["id"], "fp-cond")
        self.assertEqual(r.json()["gender"], "female")
        r = self.patch("/Patient?identifier=http://x|nothing", params(op("delete", "Patient.gender")))
        self.assertEqual(r.status, 404, r)

    def test_bundle_entries(self):
        self.put({"resourceType": "Patient", "active": True}, "fp-b1")
        self.put({"resourceType": "Patient", "active": True}, "fp-b2")
        binary = {"resourceType": "Binary", "contentType": "application/json-patch+json",
                  "data": __import__("base64").b64encode(
                      json.dumps([{"op": "replace", "path": "/active", "value": False}]).encode()).decode()}
        for kind in ("transaction", "batch"):
            with self.subTest(kind=kind):
                b = {"resourceType": "Bundle", "type": kind, "entry": [
                    {"resource": params(op("add", "Patient", name="gender", valueCode="male")),
                     "request": {"method": "PATCH", "url": "Patient/fp-b1"}},
                    {"resource": binary, "request": {"method": "PATCH", "url": "Patient/fp-b2"}}]}
                r = self.s.request("POST", "/", b)
                self.assertEqual(r.status, 200, r)
                statuses = [e["response"]["status"] for e in r.json()["entry"]]
                self.assertTrue(all(s.startswith("200") for s in statuses), statuses)
                self.assertEqual(self.s.request("GET", "/Patient/fp-b1").json()["gender"], "male")
                self.assertIs(self.s.request("GET", "/Patient/fp-b2").json()["active"], False)
                # reset for the next kind
                self.patch("/Patient/fp-b1", params(op("delete", "Patient.gender")))
                self.s.request("PATCH", "/Patient/fp-b2", json.dumps([{"op": "replace", "path": "/active", "value": True}]),
                               headers={"Content-Type": "application/json-patch+json"})
        # a failing FHIRPath Patch entry fails the transaction, naming the entry and the operation
        b = {"resourceType": "Bundle", "type": "transaction", "entry": [
            {"resource": params(op("add", "Patient", name="gender", valueCode="male")),
             "request": {"method": "PATCH", "url": "Patient/fp-b1"}},
            {"resource": params(op("replace", "Patient.nothing", valueString="x")),
             "request": {"method": "PATCH", "url": "Patient/fp-b2"}}]}
        r = self.s.request("POST", "/", b)
        self.assertIn(r.status, (400, 422), r)
        text = json.dumps(r.json())
        self.assertIn("entry 1", text)
        self.assertIn("Parameters.parameter[0]", text)
        self.assertNotIn("gender", self.s.request("GET", "/Patient/fp-b1").json())  # rolled back


if __name__ == "__main__":
    unittest.main()

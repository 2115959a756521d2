"""$meta, $meta-add, $meta-delete (https://hl7.org/fhir/R4/resource-operations.html#meta) against
the real binary: system, type, instance and version level; add/delete as sets (tags and
security labels by system + code, profiles by URL); a change makes a new version, no change
none; deleted resources contribute nothing to the system/type summary; bad bodies are 400.
Authorization of every route is in test_authz_matrix.py."""
import json
import unittest

from harness import Server

T = "http://example.org/tags"


def meta_params(**meta):
    return {"resourceType": "Parameters", "parameter": [{"name": "meta", "valueMeta": meta}]}


class MetaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server().start()
        s = cls.s
        for rid, meta in (("m-pat1", {"tag": [{"system": T, "code": "t1", "display": "One"}], "profile": ["http://p/a"]}),
                          ("m-pat2", {"security": [{"system": T, "code": "s1"}]})):
            r = s.request("PUT", "/Patient/" + rid, {"resourceType": "Patient", "id": rid, "meta": meta})
            assert r.status == 201, r
        r = s.request("PUT", "/Observation/m-obs", {"resourceType": "Observation", "id": "m-obs", "status": "final",
                                                    "code": {"text": "x"}, "meta": {"tag": [{"system": T, "code": "t-obs"}]}})
        assert r.status == 201, r
        r = s.request("PUT", "/Observation/m-gone", {"resourceType": "Observation", "id": "m-gone", "status": "final",
                                                     "code": {"text": "x"}, "meta": {"tag": [{"system": T, "code": "t-gone"}]}})
        assert r.status == 201, r
        assert s.request("DELETE", "/Observation/m-gone").status in (200, 204)

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def meta(self, path, method="GET", body=None):
        r = self.s.request(method, path, body)
        self.assertEqual(r.status, 200, r)
        p = r.json()
        self.assertEqual(p["resourceType"], "Parameters")
        self.assertEqual([x["name"] for x in p["parameter"]], ["return"])
        return p["parameter"][0]["valueMeta"], r

    def codes(self, meta, kind):
        return {c["code"] for c in meta.get(kind, [])}

    def test_system_and_type_level(self):
        m, _ = self.meta("/$meta")
        self.assertEqual(self.codes(m, "tag"), {"t1", "t-obs"})  # t-gone is only on a deleted resource
        self.assertEqual(self.codes(m, "security"), {"s1"})
        self.assertEqual(m["profile"], ["http://p/a"])
        self.assertNotIn("versionId", m)
        m, _ = self.meta("/Observation/$meta")
        self.assertEqual(m, {"tag": [{"system": T, "code": "t-obs"}]})
        m, _ = self.meta("/Patient/$meta", "POST")
        self.assertEqual(self.codes(m, "tag"), {"t1"})
        m, _ = self.meta("/Encounter/$meta")
        self.assertEqual(m, {})

    def test_instance_and_version(self):
        m, _ = self.meta("/Patient/m-pat1/$meta")
        self.assertEqual(m["tag"], [{"system": T, "code": "t1", "display": "One"}])
        self.assertEqual(m["versionId"], "1")
        self.assertIn("lastUpdated", m)
        self.assertEqual(self.s.request("GET", "/Patient/nope/$meta").status, 404)
        self.assertEqual(self.s.request("GET", "/Observation/m-gone/$meta").status, 410)
        m, _ = self.meta("/Observation/m-gone/_history/1/$meta")
        self.assertEqual(self.codes(m, "tag"), {"t-gone"})

    def test_add_and_delete(self):
        r = self.s.request("PUT", "/Patient/m-edit", {"resourceType": "Patient", "id": "m-edit", "active": True,
                                                      "meta": {"tag": [{"system": T, "code": "a", "display": "A"}]}})
        self.assertEqual(r.status, 201, r)
        # duplicates (same system+code, other display) are not added; new codes are
        m, r = self.meta("/Patient/m-edit/$meta-add", "POST", meta_params(
            tag=[{"system": T, "code": "a", "display": "other"}, {"system": T, "code": "b"}],
            security=[{"system": T, "code": "R"}], profile=["http://p/x"]))
        self.assertEqual(m["tag"], [{"system": T, "code": "a", "display": "A"}, {"system": T, "code": "b"}])
        self.assertEqual(self.codes(m, "security"), {"R"})
        self.assertEqual(m["profile"], ["http://p/x"])
        self.assertEqual(m["versionId"], "2")
        self.assertEqual(r.header("etag"), 'W/"2"')
        cur = self.s.request("GET", "/Patient/m-edit").json()
        self.assertIs(cur["active"], True)  # the rest of the resource is untouched
        self.assertEqual(cur["meta"]["profile"], ["http://p/x"])
        # adding what is there already creates no version
        m, _ = self.meta("/Patient/m-edit/$meta-add", "POST", meta_params(tag=[{"system": T, "code": "b"}]))
        self.assertEqual(m["versionId"], "2")
        # delete by system+code; empty lists disappear
        m, _ = self.meta("/Patient/m-edit/$meta-delete", "POST", meta_params(
            tag=[{"system": T, "code": "a"}, {"system": T, "code": "b"}], profile=["http://p/x"]))
        self.assertNotIn("tag", m)
        self.assertNotIn("profile", m)
        self.assertEqual(self.codes(m, "security"), {"R"})
        self.assertEqual(m["versionId"], "3")
        hist = self.s.request("GET", "/Patient/m-edit/_history").json()
        self.assertEqual(hist["total"], 3)
        # the summary follows
        m, _ = self.meta("/$meta")
        self.assertIn("R", self.codes(m, "security"))
        # If-Match applies
        r = self.s.request("POST", "/Patient/m-edit/$meta-add", meta_params(tag=[{"system": T, "code": "z"}]),
                           headers={"If-Match": 'W/"1"'})
        self.assertEqual(r.status, 412, r)
        # a code no current resource carries any more leaves the summary
        m, _ = self.meta("/Patient/m-edit/$meta-delete", "POST", meta_params(security=[{"system": T, "code": "R"}]))
        self.assertEqual(set(m), {"versionId", "lastUpdated"})  # nothing left but the version
        m, _ = self.meta("/$meta")
        self.assertNotIn("R", self.codes(m, "security"))

    def test_capability_statement(self):
        cs = self.s.request("GET", "/metadata").json()
        self.assertEqual(cs["patchFormat"], ["application/json-patch+json", "application/fhir+json",
                                             "application/fhir+xml"])
        rest = cs["rest"][0]
        self.assertIn({"name": "meta", "definition": "http://hl7.org/fhir/OperationDefinition/Resource-meta"},
                      rest["operation"])
        obs = [r for r in rest["resource"] if r["type"] == "Observation"][0]
        names = {o["name"]: o["definition"] for o in obs["operation"]}
        for op in ("meta", "meta-add", "meta-delete"):
            self.assertEqual(names[op], "http://hl7.org/fhir/OperationDefinition/Resource-" + op)

    def test_bad_requests(self):
        cases = [
            ("/Patient/m-pat1/$meta-add", {"resourceType": "Patient"}, 400),
            ("/Patient/m-pat1/$meta-add", {"resourceType": "Parameters", "parameter": [{"name": "x", "valueString": "y"}]}, 400),
            ("/Patient/m-pat1/$meta-add", meta_params(versionId="7"), 400),
            ("/Patient/m-pat1/$meta-add", meta_params(tag=[{"system": T}]), 400),
            ("/Patient/m-pat1/$meta-delete", meta_params(profile=[{"x": 1}]), 400),
            ("/Patient/nope/$meta-add", meta_params(tag=[{"system": T, "code": "q"}]), 404),
            ("/Patient/m-pat1/_history/1/$meta-add", meta_params(tag=[{"system": T, "code": "q"}]), 405),
        ]
        for path, body, status in cases:
            with self.subTest(path=path, body=json.dumps(body)):
                r = self.s.request("POST", path, body)
                self.assertEqual(r.status, status, r)
                self.assertEqual(r.json()["resourceType"], "OperationOutcome")
        self.assertEqual(self.s.request("GET", "/Patient/m-pat1/$meta-add").status, 405)
        self.assertEqual(self.s.request("GET", "/Patient/m-pat1").json()["meta"]["versionId"], "1")


if __name__ == "__main__":
    unittest.main()

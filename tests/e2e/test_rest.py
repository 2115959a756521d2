"""FHIR REST core against the real binary: create, read, vread, update, delete, history,
JSON Patch, versioning headers, conditional read, Prefer, content negotiation, gzip, and
bad input that must be refused with a 4xx OperationOutcome while the server keeps serving."""
import gzip
import json
import time
import unittest

from harness import Server

PATIENT = {"resourceType": "Patient", "name": [{"family": "Ordóñez", "given": ["Bernardo"]}],
           "birthDate": "1970-01-02", "extension": [{"url": "http://example.org/w", "valueDecimal": 1.50}]}


PATIENT_TEXT = json.dumps(PATIENT).replace('"valueDecimal": 1.5', '"valueDecimal": 1.50')
assert "1.50" in PATIENT_TEXT


class RestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server().start()

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def assertOutcome(self, r, status, phrase=None):
        self.assertEqual(r.status, status, r)
        body = r.json()
        self.assertEqual(body["resourceType"], "OperationOutcome")
        if phrase:
            self.assertIn(phrase, json.dumps(body["issue"]))
        return body

    def create(self, res=None):
        # sent as text so the decimal 1.50 reaches the server exactly as written
        r = self.s.request("POST", "/Patient", res if res is not None else PATIENT_TEXT,
                           headers={"Content-Type": "application/fhir+json"})
        self.assertEqual(r.status, 201, r)
        return r

    def test_metadata(self):
        r = self.s.request("GET", "/metadata")
        self.assertEqual(r.status, 200)
        cs = r.json()
        self.assertEqual(cs["resourceType"], "CapabilityStatement")
        self.assertEqual(cs["fhirVersion"], "4.0.1")
        types = [x["type"] for x in cs["rest"][0]["resource"]]
        self.assertEqual(len(types), 145)
        self.assertIn("Observation", types)
        self.assertTrue(r.header("content-type").startswith("application/fhir+json"))
        sys_ints = {i["code"] for i in cs["rest"][0]["interaction"]}
        self.assertTrue({"transaction", "batch", "search-system", "history-system"} <= sys_ints, sys_ints)

    def test_metadata_search_params_match_behaviour(self):
        """Every searchParam /metadata lists is accepted by a strict search; every parameter it
        lists as unsupported is refused by one (the statement claims no more than the server does)."""
        cs = self.s.request("GET", "/metadata").json()
        by_type = {x["type"]: x for x in cs["rest"][0]["resource"]}
        strict = {"Prefer": "handling=strict"}
        for t in ("Patient", "Observation", "Encounter"):
            res = by_type[t]
            self.assertIn("search-type", [i["code"] for i in res["interaction"]])
            params = res.get("searchParam", [])
            self.assertGreater(len(params), 10, t)
            value = {"string": "zz", "token": "zz", "reference": "zz", "uri": "http://zz", "date": "2020",
                     "number": "1", "quantity": "1"}
            for p in params:
                if p["type"] not in value:
                    continue  # composite and special need structured values
                r = self.s.request("GET", "/%s?%s=%s&_count=1" % (t, p["name"], value[p["type"]]), headers=strict)
                self.assertEqual(r.status, 200, "%s?%s listed in /metadata but refused: %s" % (t, p["name"], r))
        unsupported = [(t, e["valueString"].split(":")[0]) for t, x in by_type.items()
                       for e in x.get("extension", []) if e["url"].endswith("unsupported-search-parameter")]
        for t, code in unsupported[:20]:
            r = self.s.request("GET", "/%s?%s=x" % (t, code), headers=strict)
            self.assertEqual(r.status, 400, "%s?%s is listed as unsupported but accepted: %s" % (t, code, r))

    def test_create_read_keeps_decimal_precision(self):
        r = self.create()
        self.assertEqual(r.header("etag"), 'W/"1"')
        loc = r.header("location")
        self.assertRegex(loc, r"^http://127\.0\.0\.1:\d+/Patient/[0-9a-f-]{36}/_history/1$")
        self.assertIn(b'"valueDecimal":1.50', r.body)
        body = r.json()
        pid = body["id"]
        self.assertEqual(body["meta"]["versionId"], "1")
        self.assertTrue(body["meta"]["lastUpdated"].endswith("Z"))
        g = self.s.request("GET", "/Patient/" + pid)
        self.assertEqual(g.status, 200)
        self.assertIn(b'"valueDecimal":1.50', g.body)
        self.assertEqual(g.json()["name"][0]["family"], "Ordóñez")
        self.assertEqual(g.header("etag"), 'W/"1"')
        self.assertIsNotNone(g.header("last-modified"))

    def test_update_versions_vread_and_if_match(self):
        pid = self.create().json()["id"]
        upd = dict(PATIENT, id=pid, gender="female")
        r = self.s.request("PUT", "/Patient/" + pid, upd)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("etag"), 'W/"2"')
        # identical content: no new version
        r = self.s.request("PUT", "/Patient/" + pid, upd)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["meta"]["versionId"], "2")
        # If-Match mismatch -> 412, nothing changes
        r = self.s.request("PUT", "/Patient/" + pid, dict(upd, gender="male"), headers={"If-Match": 'W/"1"'})
        self.assertOutcome(r, 412, "version")
        r = self.s.request("PUT", "/Patient/" + pid, dict(upd, gender="male"), headers={"If-Match": 'W/"2"'})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["meta"]["versionId"], "3")
        v1 = self.s.request("GET", "/Patient/%s/_history/1" % pid)
        self.assertEqual(v1.status, 200)
        self.assertNotIn("gender", v1.json())
        self.assertEqual(self.s.request("GET", "/Patient/%s/_history/9" % pid).status, 404)

    def test_update_creates_with_client_id(self):
        r = self.s.request("PUT", "/Patient/client-chosen-1", dict(PATIENT, id="client-chosen-1"))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["id"], "client-chosen-1")
        self.assertEqual(self.s.request("GET", "/Patient/client-chosen-1").status, 200)

    def test_delete_then_gone_and_history(self):
        pid = self.create().json()["id"]
        r = self.s.request("DELETE", "/Patient/" + pid)
        self.assertEqual(r.status, 204)
        self.assertOutcome(self.s.request("GET", "/Patient/" + pid), 410, "deleted")
        self.assertEqual(self.s.request("DELETE", "/Patient/" + pid).status, 204)  # idempotent
        h = self.s.request("GET", "/Patient/%s/_history" % pid).json()
        self.assertEqual(h["type"], "history")
        self.assertEqual(h["total"], 2)
        self.assertEqual(h["entry"][0]["request"]["method"], "DELETE")
        self.assertNotIn("resource", h["entry"][0])
        self.assertEqual(h["entry"][1]["resource"]["id"], pid)
        # recreate after delete
        r = self.s.request("PUT", "/Patient/" + pid, dict(PATIENT, id=pid))
        self.assertEqual(r.status, 201)
        self.assertEqual(r.json()["meta"]["versionId"], "3")

    def test_history_paging_and_since(self):
        t0 = time.time()
        pid = self.create().json()["id"]
        for g in ["male", "female", "other", "unknown"]:
            self.assertEqual(self.s.request("PUT", "/Patient/" + pid, dict(PATIENT, id=pid, gender=g)).status, 200)
        b = self.s.request("GET", "/Patient/%s/_history?_count=2" % pid).json()
        self.assertEqual(b["total"], 5)
        self.assertEqual([e["resource"]["meta"]["versionId"] for e in b["entry"]], ["5", "4"])
        nxt = [l["url"] for l in b["link"] if l["relation"] == "next"][0]
        seen = ["5", "4"]
        while nxt:
            path = nxt.split(str(self.s.port), 1)[1]
            b = self.s.request("GET", path).json()
            seen += [e["resource"]["meta"]["versionId"] for e in b["entry"]]
            nxt = ([l["url"] for l in b["link"] if l["relation"] == "next"] or [None])[0]
        self.assertEqual(seen, ["5", "4", "3", "2", "1"])
        # type and system history include it; _since in the future gives nothing
        th = self.s.request("GET", "/Patient/_history?_count=100").json()
        self.assertIn(pid, [e["resource"]["id"] for e in th["entry"] if "resource" in e])
        sh = self.s.request("GET", "/_history?_since=2999-01-01T00:00:00Z").json()
        self.assertEqual(sh["total"], 0)
        self.assertOutcome(self.s.request("GET", "/_history?_since=yesterday"), 400, "_since")

    def test_json_patch(self):
        pid = self.create().json()["id"]
        patch = [{"op": "replace", "path": "/birthDate", "value": "1980-05-06"},
                 {"op": "add", "path": "/name/0/given/-", "value": "Luis"}]
        r = self.s.request("PATCH", "/Patient/" + pid, json.dumps(patch),
                           headers={"Content-Type": "application/json-patch+json"})
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(body["birthDate"], "1980-05-06")
        self.assertEqual(body["name"][0]["given"], ["Bernardo", "Luis"])
        self.assertEqual(body["meta"]["versionId"], "2")
        self.assertIn(b'1.50', r.body)
        bad = [{"op": "test", "path": "/birthDate", "value": "1900-01-01"}]
        r = self.s.request("PATCH", "/Patient/" + pid, json.dumps(bad),
                           headers={"Content-Type": "application/json-patch+json"})
        self.assertOutcome(r, 422, "test")
        r = self.s.request("PATCH", "/Patient/" + pid, json.dumps([{"op": "replace", "path": "/id", "value": "other"}]),
                           headers={"Content-Type": "application/json-patch+json"})
        self.assertOutcome(r, 422)
        self.assertEqual(self.s.request("GET", "/Patient/" + pid).json()["meta"]["versionId"], "2")

    def test_conditional_read(self):
        r = self.create()
        pid = r.json()["id"]
        self.assertEqual(self.s.request("GET", "/Patient/" + pid, headers={"If-None-Match": 'W/"1"'}).status, 304)
        self.assertEqual(self.s.request("GET", "/Patient/" + pid, headers={"If-None-Match": 'W/"0"'}).status, 200)
        lm = r.header("last-modified")
        self.assertEqual(self.s.request("GET", "/Patient/" + pid, headers={"If-Modified-Since": lm}).status, 304)
        self.assertEqual(self.s.request("GET", "/Patient/" + pid,
                                        headers={"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}).status, 200)

    def test_prefer(self):
        r = self.s.request("POST", "/Patient", PATIENT, headers={"Prefer": "return=minimal"})
        self.assertEqual(r.status, 201)
        self.assertEqual(r.body, b"")
        self.assertIsNotNone(r.header("location"))
        r = self.s.request("POST", "/Patient", PATIENT, headers={"Prefer": "return=OperationOutcome"})
        self.assertEqual(r.status, 201)
        self.assertEqual(r.json()["resourceType"], "OperationOutcome")

    def test_format_pretty_gzip(self):
        pid = self.create().json()["id"]
        r = self.s.request("GET", "/Patient/%s?_pretty=true" % pid)
        self.assertIn(b'\n  "', r.body)
        self.assertIn(b'1.50', r.body)
        self.assertOutcome(self.s.request("GET", "/Patient/%s?_format=turtle" % pid), 406, "turtle")
        self.assertEqual(self.s.request("GET", "/Patient/%s?_format=json" % pid).status, 200)
        self.assertOutcome(self.s.request("GET", "/Patient/" + pid, headers={"Accept": "text/turtle"}), 406)
        # XML (tests/e2e/test_xml.py has the details)
        x = self.s.request("GET", "/Patient/" + pid, headers={"Accept": "application/fhir+xml"})
        self.assertEqual(x.status, 200)
        self.assertIn(b'<valueDecimal value="1.50"/>', x.body)
        m = self.s.request("GET", "/metadata", headers={"Accept-Encoding": "gzip"})
        self.assertEqual(m.header("content-encoding"), "gzip")
        self.assertEqual(json.loads(gzip.decompress(m.body))["resourceType"], "CapabilityStatement")

    def test_unknown_type_and_routes(self):
        self.assertOutcome(self.s.request("GET", "/Patientx/1"), 404, "Patientx")
        self.assertOutcome(self.s.request("POST", "/Foo", {"resourceType": "Foo"}), 404)
        self.assertOutcome(self.s.request("GET", "/Patient/does-not-exist"), 404)
        self.assertOutcome(self.s.request("GET", "/Patient/1/_history/x"), 400)

    def test_bad_input_is_refused_and_nothing_changes(self):
        pid = self.create().json()["id"]
        before = self.s.request("GET", "/Patient/" + pid).body
        big = {"resourceType": "Patient", "id": pid, "text": {"status": "generated", "div": "x" * (17 * 1024 * 1024)}}
        deep = '{"resourceType":"Patient","id":"%s","extension":%s1%s}' % (pid, "[" * 300, "]" * 300)
        cases = [
            ("malformed json", b'{"resourceType": "Patient", ', "application/fhir+json", 400, "JSON"),
            ("not an object", b'["Patient"]', "application/fhir+json", 400, "object"),
            ("wrong type", json.dumps({"resourceType": "Observation", "id": pid}), "application/fhir+json", 400, "does not match"),
            ("id mismatch", json.dumps(dict(PATIENT, id="other")), "application/fhir+json", 400, "does not match"),
            ("missing id", json.dumps(PATIENT), "application/fhir+json", 400, "must have an id"),
            ("no resourceType", json.dumps({"id": pid}), "application/fhir+json", 400, "resourceType"),
            ("unknown resourceType", json.dumps({"resourceType": "Foo", "id": pid}), "application/fhir+json", 400, "Foo"),
            ("duplicate member", '{"resourceType":"Patient","id":"%s","id":"%s"}' % (pid, pid), "application/fhir+json", 400, "duplicate"),
            ("invalid utf-8", b'{"resourceType":"Patient","id":"' + pid.encode() + b'","gender":"\xff\xfe"}', "application/fhir+json", 400, "UTF-8"),
            ("deep nesting", deep, "application/fhir+json", 400, "nesting"),
            ("unsupported media", json.dumps(dict(PATIENT, id=pid)), "text/turtle", 415, "Content-Type"),
            ("json labelled xml", json.dumps(dict(PATIENT, id=pid)), "application/xml", 400, "XML"),
            ("form body", "a=b", "application/x-www-form-urlencoded", 415, "Content-Type"),
            ("null value", json.dumps(dict(PATIENT, id=pid, gender=None)), "application/fhir+json", 400, "null"),
            ("empty string", json.dumps(dict(PATIENT, id=pid, gender="")), "application/fhir+json", 400, "empty"),
            ("too large", json.dumps(big), "application/fhir+json", 413, "larger"),
        ]
        for name, body, ctype, status, phrase in cases:
            with self.subTest(name):
                r = self.s.request("PUT", "/Patient/" + pid, body, headers={"Content-Type": ctype,
                                                                            "Accept": "application/fhir+json"})
                self.assertOutcome(r, status, phrase)
        self.assertOutcome(self.s.request("PUT", "/Patient/bad$id", dict(PATIENT, id="bad$id")), 400, "valid FHIR id")
        self.assertOutcome(self.s.request("PUT", "/Patient/" + "a" * 65, dict(PATIENT, id="a" * 65)), 400, "valid FHIR id")
        self.assertOutcome(self.s.request("POST", "/Patient", dict(PATIENT, id="bad id!")), 400, "valid FHIR id")
        self.assertTrue(self.s.alive())
        self.assertEqual(self.s.request("GET", "/Patient/" + pid).body, before)

    def test_request_id_echoed(self):
        r = self.s.request("GET", "/metadata", headers={"X-Request-Id": "abc-123"})
        self.assertEqual(r.header("x-request-id"), "abc-123")
        r = self.s.request("GET", "/metadata", headers={"X-Request-Id": "bad id\" with quotes"})
        self.assertNotEqual(r.header("x-request-id"), "bad id\" with quotes")


class RestartTest(unittest.TestCase):
    def test_data_survives_restart_and_sigkill(self):
        s = Server().start()
        try:
            pid = s.request("POST", "/Patient", PATIENT_TEXT, headers={"Content-Type": "application/fhir+json"}).json()["id"]
            s.stop(9)  # SIGKILL right after the 201
            s.start()
            r = s.request("GET", "/Patient/" + pid)
            self.assertEqual(r.status, 200)
            self.assertIn(b"1.50", r.body)
        finally:
            s.cleanup()

    def test_bad_config_names_the_key(self):
        from harness import run_cli
        import os, tempfile
        d = tempfile.mkdtemp()
        p = os.path.join(d, "c.json")
        with open(p, "w") as f:
            json.dump({"listen": "127.0.0.1:notaport"}, f)
        r = run_cli("serve", "--config", p)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"listen", r.stderr)
        with open(p, "w") as f:
            json.dump({"limits": {"max_body_bytes": "big"}}, f)
        r = run_cli("serve", "--config", p)
        self.assertIn(b"limits.max_body_bytes", r.stderr)
        with open(p, "w") as f:
            f.write("{not json")
        r = run_cli("serve", "--config", p)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"config", r.stderr)


if __name__ == "__main__":
    unittest.main()


class ImportDemoTest(unittest.TestCase):
    def test_import_demo_keeps_ids_and_is_idempotent(self):
        s = Server()
        try:
            r = s.cli("import", "data/demo")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(b"9 stored, 0 unchanged, 0 failed", r.stdout)
            r = s.cli("import", "data/demo")
            self.assertIn(b"0 stored, 9 unchanged, 0 failed", r.stdout)
            s.start()
            p = s.request("GET", "/Patient/demo-patient-2")
            self.assertEqual(p.status, 200)
            self.assertEqual(p.json()["name"][0]["family"], "Nguyen")
            o = s.request("GET", "/Observation/demo-obs-hba1c-1")
            self.assertIn(b'"value":6.40', o.body)
        finally:
            s.cleanup()

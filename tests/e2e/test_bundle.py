"""Transaction and batch Bundles (POST /) and the conditional interactions against the real
binary: every Synthea bundle in tests/data/synthea loads (counts and references checked
against numbers computed from the files), all-or-nothing with the failing entry named,
processing order, urn:uuid and conditional references, ifNoneExist / ifMatch / ifNoneMatch /
ifModifiedSince, the transaction-response (status, location, etag, lastModified in request
order), batch independence, the entry limit from the config; conditional create, update,
delete (single and multiple with _count) and patch with 412 on several matches and 400 on
unknown parameters."""
import base64
import glob
import json
import os
import unittest
import uuid
from collections import Counter, defaultdict

from harness import SYNTHEA, Server



def synthea_files():
    return sorted(glob.glob(os.path.join(SYNTHEA, "*.json")))


def tx(*entries, type="transaction"):
    return {"resourceType": "Bundle", "type": type, "entry": list(entries)}


def post(resource, full_url=None, **request):
    e = {"resource": resource, "request": dict({"method": "POST", "url": resource["resourceType"]}, **request)}
    if full_url:
        e["fullUrl"] = full_url
    return e


def urn():
    return "urn:uuid:" + str(uuid.uuid4())


def patch_binary(ops):
    return {"resourceType": "Binary", "contentType": "application/json-patch+json",
            "data": base64.b64encode(json.dumps(ops).encode()).decode()}


class Base(unittest.TestCase):
    config = None

    @classmethod
    def setUpClass(cls):
        cls.s = Server(config=cls.config).start()

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def bundle(self, body, status=200, headers=None):
        r = self.s.request("POST", "/", body, headers=headers)
        self.assertEqual(r.status, status, r)
        return r.json()

    def outcome(self, r, status, phrase=None):
        self.assertEqual(r.status, status, r)
        body = r.json()
        self.assertEqual(body["resourceType"], "OperationOutcome", body)
        if phrase:
            self.assertIn(phrase, json.dumps(body["issue"]))
        return body

    def count(self, query):
        r = self.s.request("GET", query + ("&" if "?" in query else "?") + "_summary=count")
        self.assertEqual(r.status, 200, r)
        return r.json()["total"]

    def search_all(self, query):
        """Every resource matching `query`, following next links."""
        out = []
        url = query + ("&" if "?" in query else "?") + "_count=1000"
        while url:
            r = self.s.request("GET", url)
            self.assertEqual(r.status, 200, r)
            b = r.json()
            out += [e["resource"] for e in b.get("entry", [])]
            nxt = [l["url"] for l in b.get("link", []) if l["relation"] == "next"]
            url = nxt[0].split(str(self.s.port), 1)[1] if nxt else None
        return out

    def ident(self, system="urn:test:e2e"):
        return system, str(uuid.uuid4())


class SyntheaTest(Base):
    def test_every_synthea_bundle_loads(self):
        files = synthea_files()
        # the in-repo sample (tests/data/README.md): several patients plus the shared
        # hospital/practitioner bundles their entries re-POST
        names = [os.path.basename(f) for f in files]
        self.assertGreaterEqual(len([n for n in names if "Information" not in n]), 8, names)
        self.assertIn("hospitalInformation1559319163815.json", names)
        self.assertIn("practitionerInformation1559319163815.json", names)
        expected_types = Counter()
        patient_obs = {}  # Patient id on the server -> number of Observations in its bundle
        total = 0
        for f in files:
            with open(f, "rb") as fh:
                raw = fh.read()
            doc = json.loads(raw)
            self.assertEqual(doc["type"], "transaction")
            r = self.s.request("POST", "/", raw, headers={"Content-Type": "application/fhir+json"})
            self.assertEqual(r.status, 200, (os.path.basename(f), r))
            resp = r.json()
            self.assertEqual(resp["type"], "transaction-response")
            self.assertEqual(len(resp["entry"]), len(doc["entry"]), f)
            for req, res in zip(doc["entry"], resp["entry"]):
                t = req["resource"]["resourceType"]
                expected_types[t] += 1
                total += 1
                rr = res["response"]
                self.assertEqual(rr["status"], "201 Created")
                # in request order: the location names the request's type
                self.assertTrue(rr["location"].startswith(t + "/"), rr)
                self.assertTrue(rr["location"].endswith("/_history/1"), rr)
                self.assertEqual(rr["etag"], 'W/"1"')
                self.assertIn("lastModified", rr)
            pats = [(q, a) for q, a in zip(doc["entry"], resp["entry"]) if q["resource"]["resourceType"] == "Patient"]
            if pats:
                pid = pats[0][1]["response"]["location"].split("/")[1]
                patient_obs[pid] = sum(1 for e in doc["entry"] if e["resource"]["resourceType"] == "Observation")
        self.assertEqual(total, sum(expected_types.values()))
        for t, n in expected_types.items():
            self.assertEqual(self.count("/" + t), n, t)
        # every Observation's subject and encounter point at stored resources
        patients = {p["id"] for p in self.search_all("/Patient?_elements=id")}
        encounters = {e["id"] for e in self.search_all("/Encounter?_elements=id")}
        self.assertEqual(len(patients), expected_types["Patient"])
        obs = self.search_all("/Observation?_elements=subject,encounter")
        self.assertEqual(len(obs), expected_types["Observation"])
        for o in obs:
            kind, oid = o["subject"]["reference"].split("/")
            self.assertEqual(kind, "Patient")
            self.assertIn(oid, patients)
            kind, eid = o["encounter"]["reference"].split("/")
            self.assertEqual(kind, "Encounter")
            self.assertIn(eid, encounters)
        # and each patient has exactly the Observations of its own bundle
        for pid, n in patient_obs.items():
            self.assertEqual(self.count("/Observation?subject=Patient/" + pid), n, pid)


class TransactionTest(Base):
    config = {"limits": {"max_bundle_entries": 5}}

    def test_response_in_request_order_with_all_fields(self):
        sys_, val = self.ident()
        p, o = urn(), urn()
        resp = self.bundle(tx(
            post({"resourceType": "Observation", "status": "final", "code": {"text": "hr"},
                  "subject": {"reference": p}}, o),
            post({"resourceType": "Patient", "identifier": [{"system": sys_, "value": val}]}, p),
            {"request": {"method": "GET", "url": "Patient?identifier=%s|%s" % (sys_, val)}}))
        self.assertEqual(resp["type"], "transaction-response")
        e0, e1, e2 = resp["entry"]
        self.assertEqual(e0["response"]["status"], "201 Created")
        self.assertTrue(e0["response"]["location"].startswith("Observation/"))
        self.assertTrue(e1["response"]["location"].startswith("Patient/"))
        self.assertEqual(e1["response"]["etag"], 'W/"1"')
        self.assertIn("lastModified", e1["response"])
        pid = e1["response"]["location"].split("/")[1]
        # GET ran after the writes (processing order) and found the new patient
        self.assertEqual(e2["response"]["status"], "200 OK")
        self.assertEqual([x["resource"]["id"] for x in e2["resource"]["entry"]], [pid])
        obs = self.s.request("GET", "/" + e0["response"]["location"].rsplit("/_history", 1)[0]).json()
        self.assertEqual(obs["subject"]["reference"], "Patient/" + pid)
        # no resource in the entries unless asked for
        self.assertNotIn("resource", e1)
        resp = self.bundle(tx(post({"resourceType": "Patient", "active": True})),
                           headers={"Prefer": "return=representation"})
        self.assertEqual(resp["entry"][0]["resource"]["active"], True)

    def test_failure_rolls_everything_back_and_names_the_entry(self):
        sys_, val = self.ident()
        keep = self.s.request("POST", "/Patient", {"resourceType": "Patient"}).json()
        other = self.s.request("POST", "/Patient", {"resourceType": "Patient"}).json()
        cases = [
            ({"request": {"method": "PUT", "url": "Patient/" + other["id"], "ifMatch": 'W/"9"'},
              "resource": {"resourceType": "Patient", "id": other["id"], "active": True}}, 412, "entry 2"),
            (post({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                   "subject": {"reference": "urn:uuid:not-in-this-bundle"}}, urn()), 400, "urn:uuid:not-in-this-bundle"),
            (post({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                   "subject": {"reference": "Patient?identifier=urn:none|0"}}, urn()), 412, "matches no resource"),
            ({"request": {"method": "GET", "url": "Patient/does-not-exist"}}, 404, "entry 2"),
            (post({"resourceType": "Patient", "active": None}), 400, "entry 2"),
            ({"request": {"method": "PUT", "url": "Patient/" + keep["id"]},
              "resource": {"resourceType": "Patient", "id": keep["id"]}}, 400, "more than one entry"),
        ]
        for bad, status, phrase in cases:
            with self.subTest(phrase=phrase):
                r = self.s.request("POST", "/", tx(
                    post({"resourceType": "Patient", "identifier": [{"system": sys_, "value": val}]}, urn()),
                    {"request": {"method": "DELETE", "url": "Patient/" + keep["id"]}},
                    bad))
                self.outcome(r, status, phrase)
                # nothing of it is visible: the POST did not happen, the DELETE did not happen
                self.assertEqual(self.count("/Patient?identifier=%s|%s" % (sys_, val)), 0)
                self.assertEqual(self.s.request("GET", "/Patient/" + keep["id"]).status, 200)
                self.assertNotIn("active", self.s.request("GET", "/Patient/" + other["id"]).json())

    def test_processing_order_delete_post_put_get(self):
        sys_, val = self.ident()
        old = self.s.request("POST", "/Patient", {"resourceType": "Patient",
                                                   "identifier": [{"system": sys_, "value": val}]}).json()
        other = self.s.request("POST", "/Patient", {"resourceType": "Patient"}).json()
        p = urn()
        resp = self.bundle(tx(
            {"request": {"method": "GET", "url": "Patient?identifier=%s|%s" % (sys_, val)}},
            {"request": {"method": "PUT", "url": "Patient/" + other["id"]},
             "resource": {"resourceType": "Patient", "id": other["id"], "link": [{"type": "seealso", "other": {"reference": p}}]}},
            post({"resourceType": "Patient", "identifier": [{"system": sys_, "value": val}]}, p,
                 ifNoneExist="identifier=%s|%s" % (sys_, val)),
            {"request": {"method": "DELETE", "url": "Patient/" + old["id"]}}))
        get, put, created, deleted = [e["response"] for e in resp["entry"]]
        self.assertEqual(deleted["status"], "204 No Content")
        # DELETE ran before POST: ifNoneExist found nothing, so a new patient was created
        self.assertEqual(created["status"], "201 Created")
        new_id = created["location"].split("/")[1]
        self.assertNotEqual(new_id, old["id"])
        # PUT after POST: its reference to the POST's fullUrl is resolved
        self.assertEqual(put["status"], "200 OK")
        got = self.s.request("GET", "/Patient/" + other["id"]).json()
        self.assertEqual(got["link"][0]["other"]["reference"], "Patient/" + new_id)
        # GET last: sees only the new one
        ids = [e["resource"]["id"] for e in resp["entry"][0]["resource"].get("entry", [])]
        self.assertEqual(ids, [new_id])
        self.assertEqual(self.s.request("GET", "/Patient/" + old["id"]).status, 410)

    def test_conditional_references_and_if_none_exist(self):
        sys_, val = self.ident()
        org = self.s.request("POST", "/Organization", {"resourceType": "Organization",
                                                        "identifier": [{"system": sys_, "value": val}]}).json()
        body = tx(post({"resourceType": "Patient", "identifier": [{"system": sys_, "value": val + "-p"}],
                        "managingOrganization": {"reference": "Organization?identifier=%s|%s" % (sys_, val)},
                        "generalPractitioner": [{"reference": "Organization?identifier=%s|%s" % (sys_, val)}]},
                       ifNoneExist="identifier=%s|%s-p" % (sys_, val)))
        first = self.bundle(body)["entry"][0]["response"]
        self.assertEqual(first["status"], "201 Created")
        pid = first["location"].split("/")[1]
        p = self.s.request("GET", "/Patient/" + pid).json()
        self.assertEqual(p["managingOrganization"]["reference"], "Organization/" + org["id"])
        self.assertEqual(p["generalPractitioner"][0]["reference"], "Organization/" + org["id"])
        # same bundle again: ifNoneExist matches, nothing new
        again = self.bundle(body)["entry"][0]["response"]
        self.assertEqual(again["status"], "200 OK")
        self.assertTrue(again["location"].startswith("Patient/%s/" % pid))
        self.assertEqual(self.count("/Patient?identifier=%s|%s-p" % (sys_, val)), 1)
        # a conditional reference matching several resources fails the transaction
        self.s.request("POST", "/Organization", {"resourceType": "Organization",
                                                  "identifier": [{"system": sys_, "value": val}]})
        r = self.s.request("POST", "/", tx(post({"resourceType": "Patient",
                                                  "managingOrganization": {"reference": "Organization?identifier=%s|%s" % (sys_, val)}})))
        self.outcome(r, 412, "more than one")

    def test_if_match_if_none_match_if_modified_since(self):
        p = self.s.request("POST", "/Patient", {"resourceType": "Patient"}).json()
        url = "Patient/" + p["id"]
        resp = self.bundle(tx(
            {"request": {"method": "PUT", "url": url, "ifMatch": 'W/"1"'},
             "resource": {"resourceType": "Patient", "id": p["id"], "active": True}},
            {"request": {"method": "GET", "url": url, "ifNoneMatch": 'W/"2"'}},
            {"request": {"method": "GET", "url": url, "ifModifiedSince": "2999-01-01T00:00:00Z"}},
            {"request": {"method": "GET", "url": url, "ifModifiedSince": "2000-01-01T00:00:00Z"}}))
        put, inm, ims_future, ims_past = [e["response"] for e in resp["entry"]]
        self.assertEqual(put["status"], "200 OK")
        self.assertEqual(put["etag"], 'W/"2"')
        self.assertEqual(inm["status"], "304 Not Modified")
        self.assertNotIn("resource", resp["entry"][1])
        self.assertEqual(ims_future["status"], "304 Not Modified")
        self.assertEqual(ims_past["status"], "200 OK")
        self.assertEqual(resp["entry"][3]["resource"]["active"], True)
        r = self.s.request("POST", "/", tx({"request": {"method": "PUT", "url": url, "ifNoneMatch": "*"},
                                            "resource": {"resourceType": "Patient", "id": p["id"]}}))
        self.outcome(r, 412, "entry 0")

    def test_patch_entry(self):
        p = self.s.request("POST", "/Patient", {"resourceType": "Patient", "active": False}).json()
        resp = self.bundle(tx({"request": {"method": "PATCH", "url": "Patient/" + p["id"]},
                               "resource": patch_binary([{"op": "replace", "path": "/active", "value": True}])}))
        self.assertEqual(resp["entry"][0]["response"]["status"], "200 OK")
        self.assertEqual(self.s.request("GET", "/Patient/" + p["id"]).json()["active"], True)

    def test_batch_entries_are_independent(self):
        sys_, val = self.ident()
        resp = self.bundle(tx(
            post({"resourceType": "Patient", "identifier": [{"system": sys_, "value": val}]}),
            {"request": {"method": "GET", "url": "Patient/nope"}},
            {"request": {"method": "PUT", "url": "Patient/x", "ifMatch": 'W/"3"'}, "resource": {"resourceType": "Patient", "id": "x"}},
            post({"resourceType": "Patient", "identifier": [{"system": sys_, "value": val}]}),
            type="batch"))
        self.assertEqual(resp["type"], "batch-response")
        st = [e["response"]["status"] for e in resp["entry"]]
        self.assertEqual(st[0], "201 Created")
        self.assertTrue(st[1].startswith("404"), st)
        self.assertTrue(st[2].startswith("412"), st)
        self.assertEqual(st[3], "201 Created")
        oo = resp["entry"][1]["response"]["outcome"]
        self.assertEqual(oo["resourceType"], "OperationOutcome")
        self.assertEqual(self.count("/Patient?identifier=%s|%s" % (sys_, val)), 2)

    def test_bad_bundles(self):
        self.outcome(self.s.request("POST", "/", {"resourceType": "Patient"}), 400, "Bundle")
        self.outcome(self.s.request("POST", "/", tx(type="collection")), 400, "transaction")
        self.outcome(self.s.request("POST", "/", tx({"resource": {"resourceType": "Patient"}})), 400, "entry 0")
        self.outcome(self.s.request("POST", "/", tx(post({"resourceType": "Patient"}, "urn:uuid:1"),
                                                     post({"resourceType": "Patient"}, "urn:uuid:1"))), 400,
                     "more than once")
        # the entry limit comes from the config (limits.max_bundle_entries = 5)
        many = [post({"resourceType": "Patient"}) for _ in range(6)]
        self.outcome(self.s.request("POST", "/", tx(*many)), 413, "limit is 5")
        self.bundle(tx(*many[:5]))


class ConditionalTest(Base):
    def make(self, sys_, val, **extra):
        r = self.s.request("POST", "/Patient", dict({"resourceType": "Patient",
                                                     "identifier": [{"system": sys_, "value": val}]}, **extra))
        self.assertEqual(r.status, 201, r)
        return r.json()

    def test_conditional_create(self):
        sys_, val = self.ident()
        body = {"resourceType": "Patient", "identifier": [{"system": sys_, "value": val}]}
        h = {"If-None-Exist": "identifier=%s|%s" % (sys_, val)}
        a = self.s.request("POST", "/Patient", body, headers=h)
        self.assertEqual(a.status, 201, a)
        b = self.s.request("POST", "/Patient", body, headers=h)
        self.assertEqual(b.status, 200, b)
        self.assertEqual(b.json()["id"], a.json()["id"])
        self.assertEqual(self.count("/Patient?identifier=%s|%s" % (sys_, val)), 1)
        self.make(sys_, val)
        self.outcome(self.s.request("POST", "/Patient", body, headers=h), 412, "more than one")
        self.outcome(self.s.request("POST", "/Patient", body, headers={"If-None-Exist": "no-such-param=1"}), 400)
        self.assertEqual(self.count("/Patient?identifier=%s|%s" % (sys_, val)), 2)

    def test_conditional_update(self):
        sys_, val = self.ident()
        q = "/Patient?identifier=%s|%s" % (sys_, val)
        body = {"resourceType": "Patient", "identifier": [{"system": sys_, "value": val}], "active": True}
        r = self.s.request("PUT", q, body)
        self.assertEqual(r.status, 201, r)  # no match: created
        pid = r.json()["id"]
        body["active"] = False
        r = self.s.request("PUT", q, body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["id"], pid)
        self.assertEqual(r.header("ETag"), 'W/"2"')
        self.outcome(self.s.request("PUT", q, dict(body, id="other-id")), 400, "differs")
        self.outcome(self.s.request("PUT", "/Patient?no-such-param=1", body), 400)
        # no match, but the body names an existing resource the condition did not match: 409
        other = self.s.request("POST", "/Patient", {"resourceType": "Patient", "gender": "other"}).json()
        self.outcome(self.s.request("PUT", "/Patient?identifier=%s|nobody" % sys_, dict(body, id=other["id"])), 409,
                     "does not match")
        self.assertEqual(self.s.request("GET", "/Patient/" + other["id"]).json()["gender"], "other")
        self.make(sys_, val)
        self.outcome(self.s.request("PUT", q, body), 412, "more than one")
        self.assertEqual(self.s.request("GET", "/Patient/" + pid).json()["meta"]["versionId"], "2")

    def test_conditional_delete_single_and_multiple(self):
        sys_, val = self.ident()
        q = "/Patient?identifier=%s|%s" % (sys_, val)
        one = self.make(sys_, val)
        r = self.s.request("DELETE", q)
        self.assertEqual(r.status, 204, r)
        self.assertEqual(self.s.request("GET", "/Patient/" + one["id"]).status, 410)
        # nothing matches: still a success
        self.assertIn(self.s.request("DELETE", q).status, (200, 204))
        ids = [self.make(sys_, val)["id"] for _ in range(3)]
        self.outcome(self.s.request("DELETE", q), 412, "more than 1")
        self.outcome(self.s.request("DELETE", q + "&_count=2"), 412, "more than 2")
        self.assertEqual(self.count(q), 3)
        r = self.s.request("DELETE", q + "&_count=3")
        self.assertEqual(r.status, 200, r)
        for i in ids:
            self.assertIn(i, r.body.decode())
            self.assertEqual(self.s.request("GET", "/Patient/" + i).status, 410)
        self.assertEqual(self.count(q), 0)
        self.outcome(self.s.request("DELETE", "/Patient?no-such-param=1"), 400)
        self.outcome(self.s.request("DELETE", q + "&_count=0"), 400, "_count")

    def test_conditional_patch(self):
        sys_, val = self.ident()
        q = "/Patient?identifier=%s|%s" % (sys_, val)
        h = {"Content-Type": "application/json-patch+json"}
        ops = json.dumps([{"op": "add", "path": "/active", "value": True}])
        self.outcome(self.s.request("PATCH", q, ops, headers=h), 404)
        p = self.make(sys_, val)
        r = self.s.request("PATCH", q, ops, headers=h)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["id"], p["id"])
        self.assertEqual(r.json()["active"], True)
        self.make(sys_, val)
        self.outcome(self.s.request("PATCH", q, ops, headers=h), 412, "more than one")
        self.outcome(self.s.request("PATCH", "/Patient?no-such-param=1", ops, headers=h), 400)


if __name__ == "__main__":
    unittest.main()

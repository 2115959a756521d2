"""Authorization end to end: roles (Azure FHIR data-plane names), SMART scopes, 403 with
insufficient_scope naming what was missing, the audit trail (never the token), and the SMART
discovery document."""
import json
import os
import unittest

from harness import Server, mint_token, run_cli, make_key, pinned_auth

ISS = "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0"
AUD = "https://fhir.example.org"


class AuthzE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server()
        d = cls.s.tmp
        cls.priv, pub = make_key(d)
        cls.s.config["auth"] = pinned_auth(ISS, AUD, pub)
        cls.s.config["audit"] = {"flush_interval_ms": 100}
        cls.s.start()
        w = cls.tok(roles="FHIR Data Writer")
        for rid in ["p1", "p2"]:
            r = cls.s.request("PUT", "/Patient/" + rid, {"resourceType": "Patient", "id": rid}, token=w)
            assert r.status in (200, 201), r

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    @classmethod
    def tok(cls, roles=None, scope=None, extra=()):
        return mint_token(cls.priv, ISS, AUD, "sub-1", roles, scope,
                          ["--claim", "oid=oid-42", "--claim", "azp=client-app-7",
                           "--claim", "tid=11111111-2222-3333-4444-555555555555"] + list(extra))

    def test_role_matrix(self):
        body = {"resourceType": "Patient", "id": "p2", "gender": "other"}
        cases = [
            # role, method, path, expected
            ("FHIR Data Reader", "GET", "/Patient/p1", 200),
            ("FHIR Data Reader", "GET", "/Patient/p1/_history", 200),
            ("FHIR Data Reader", "PUT", "/Patient/p2", 403),
            ("FHIR Data Reader", "DELETE", "/Patient/p2", 403),
            ("FHIR Data Writer", "PUT", "/Patient/p2", 200),
            ("FHIR Data Exporter", "GET", "/Patient/p1", 200),
            ("FHIR Data Exporter", "PUT", "/Patient/p2", 403),
            ("globalReader", "GET", "/Patient/p1", 200),
            ("globalWriter", "PUT", "/Patient/p2", 200),
            ("Some Other Role", "GET", "/Patient/p1", 403),
            ("fhir data reader", "GET", "/Patient/p1", 403),  # role names are exact
            ("", "GET", "/Patient/p1", 403),
        ]
        for role, method, path, want in cases:
            with self.subTest(role=role, method=method, path=path):
                r = self.s.request(method, path, body if method == "PUT" else None, token=self.tok(roles=role))
                self.assertEqual(r.status, want, r)
                if want == 403:
                    www = r.header("www-authenticate")
                    self.assertIn('error="insufficient_scope"', www)
                    self.assertEqual(r.json()["resourceType"], "OperationOutcome")
                    self.assertIn("forbidden", r.json()["issue"][0]["code"])

    def test_scopes(self):
        # user/ scopes without roles: the scopes decide
        self.assertEqual(self.s.request("GET", "/Patient/p1", token=self.tok(scope="user/Patient.read")).status, 200)
        r = self.s.request("PUT", "/Patient/p2", {"resourceType": "Patient", "id": "p2"}, token=self.tok(scope="user/Patient.read"))
        self.assertEqual(r.status, 403)
        self.assertIn("Patient", r.header("www-authenticate"))
        self.assertEqual(self.s.request("GET", "/Patient/p1", token=self.tok(scope="user/Observation.rs")).status, 403)
        # Entra encodes the slash
        self.assertEqual(self.s.request("GET", "/Patient/p1", token=self.tok(scope="user%2fPatient.read")).status, 200)
        # roles are the ceiling when both are present
        r = self.s.request("PUT", "/Patient/p2", {"resourceType": "Patient", "id": "p2"},
                           token=self.tok(roles="FHIR Data Reader", scope="user/*.cruds"))
        self.assertEqual(r.status, 403)
        # a patient/ scope without a patient context is refused with a reason
        r = self.s.request("GET", "/Patient/p1", token=self.tok(scope="patient/Patient.read"))
        self.assertEqual(r.status, 403)
        self.assertIn("patient", r.json()["issue"][0]["diagnostics"].lower())

    def test_patient_scope_cannot_reach_another_patient(self):
        w = self.tok(roles="FHIR Data Writer")
        for oid, pat in [("o1", "p1"), ("o2", "p2")]:
            r = self.s.request("PUT", "/Observation/" + oid, {"resourceType": "Observation", "id": oid, "status": "final",
                               "code": {"text": "x"}, "subject": {"reference": "Patient/" + pat}}, token=w)
            self.assertIn(r.status, (200, 201), r)
        t = self.tok(scope="patient/*.read", extra=["--claim", "patient=p1"])
        self.assertEqual(self.s.request("GET", "/Patient/p1", token=t).status, 200)
        self.assertEqual(self.s.request("GET", "/Observation/o1", token=t).status, 200)
        self.assertEqual(self.s.request("GET", "/Observation/o1/_history/1", token=t).status, 200)
        # Outside the view a resource is answered exactly like one that does not exist (issue 14).
        r = self.s.request("GET", "/Observation/o2", token=t)
        self.assertEqual(r.status, 404)
        self.assertNotIn(b"Patient/p2", r.body)
        missing = self.s.request("GET", "/Observation/o9", token=t)
        self.assertEqual(missing.status, 404)
        self.assertEqual(r.json()["issue"][0]["diagnostics"].replace("o2", "o9"), missing.json()["issue"][0]["diagnostics"])
        self.assertEqual(self.s.request("GET", "/Observation/o2/_history", token=t).status, 404)
        self.assertEqual(self.s.request("GET", "/Observation/o2/_history/1", token=t).status, 404)
        self.assertEqual(self.s.request("GET", "/Patient/p2", token=t).status, 404)
        self.assertEqual(self.s.request("GET", "/Patient/p2/_history", token=t).status, 404)
        self.assertEqual(self.s.request("GET", "/Observation/_history", token=t).status, 403)
        self.assertEqual(self.s.request("GET", "/_history", token=t).status, 403)
        self.assertEqual(self.s.request("GET", "/Observation/missing", token=t).status, 404)
        # the fhirUser claim gives the patient context too
        tf = self.tok(scope="patient/Observation.rs", extra=["--claim", "fhirUser=https://x.example/fhir/Patient/p2"])
        self.assertEqual(self.s.request("GET", "/Observation/o2", token=tf).status, 200)
        self.assertEqual(self.s.request("GET", "/Observation/o1", token=tf).status, 404)
        # writes: only inside the compartment
        tw = self.tok(scope="patient/Observation.cruds", extra=["--claim", "patient=p1"])
        obs = {"resourceType": "Observation", "status": "final", "code": {"text": "y"}}
        r = self.s.request("POST", "/Observation", dict(obs, subject={"reference": "Patient/p2"}), token=tw)
        self.assertEqual(r.status, 403)
        r = self.s.request("POST", "/Observation", dict(obs, subject={"reference": "Patient/p1"}), token=tw)
        self.assertEqual(r.status, 201, r)
        r = self.s.request("PUT", "/Observation/o1", dict(obs, id="o1", subject={"reference": "Patient/p2"}), token=tw)
        self.assertEqual(r.status, 403)
        r = self.s.request("PUT", "/Observation/o2", dict(obs, id="o2", subject={"reference": "Patient/p1"}), token=tw)
        self.assertEqual(r.status, 404)  # o2 belongs to p2: cannot be taken over, and is not known to tw
        patch = json.dumps([{"op": "replace", "path": "/subject/reference", "value": "Patient/p2"}])
        r = self.s.request("PATCH", "/Observation/o1", patch, token=tw, headers={"Content-Type": "application/json-patch+json"})
        self.assertEqual(r.status, 403)
        # a delete outside the view is answered like a delete of nothing, and deletes nothing
        self.assertEqual(self.s.request("DELETE", "/Observation/o2", token=tw).status, 204)
        self.assertEqual(self.s.request("GET", "/Observation/o2", token=w).status, 200)
        self.assertEqual(self.s.request("GET", "/Observation/o1", token=w).json()["subject"]["reference"], "Patient/p1")

    def test_audit_trail(self):
        t = self.tok(roles="FHIR Data Reader")
        self.s.request("GET", "/Patient/p1?access_token=" + t, token=t, headers={"X-Request-Id": "audit-req-1"})
        self.s.request("DELETE", "/Patient/p1", token=t, headers={"X-Request-Id": "audit-req-2"})
        import time
        time.sleep(0.5)
        r = self.s.cli("audit", "--json", "--limit", "1000")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertNotIn(t.split(".")[1], out, "the token must never be stored")
        events = [json.loads(line) for line in out.splitlines() if line.strip().startswith("{")] if not out.strip().startswith("[") else json.loads(out)
        byid = {e.get("request_id"): e for e in events}
        self.assertIn("audit-req-1", byid)
        e1 = byid["audit-req-1"]
        self.assertEqual(e1["status"], 200)
        self.assertEqual(e1["interaction"], "read")
        self.assertEqual(e1["subject"], "oid-42")
        self.assertEqual(e1["client_id"], "client-app-7")
        e2 = byid["audit-req-2"]
        self.assertEqual(e2["status"], 403)
        self.assertEqual(e2["interaction"], "delete")
        self.assertTrue(e2["outcome"])
        r = self.s.cli("audit", "--who", "oid-42")
        self.assertIn(b"oid-42", r.stdout)
        # --help needs no database and creates none; a missing database is an error, not a new file
        missing = os.path.join(self.s.tmp, "none.db")
        for h in ("--help", "-h"):
            r = run_cli("audit", h, "--database", missing)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(b"usage: edgefhir audit", r.stdout)
        r = run_cli("audit", "--database", missing)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"no database", r.stderr)
        self.assertFalse(os.path.exists(missing))

    def test_smart_configuration_and_capability_security(self):
        r = self.s.request("GET", "/.well-known/smart-configuration")
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertIn("token_endpoint", doc)
        self.assertIn("login.microsoftonline.com", doc["token_endpoint"])
        cs = self.s.request("GET", "/metadata").json()
        sec = cs["rest"][0]["security"]
        self.assertIn("SMART-on-FHIR", json.dumps(sec))


if __name__ == "__main__":
    unittest.main()

"""CORS without a browser (http/cors.h): the preflight matrix (allowed / disallowed origin x
method x requested headers, with auth on and off), the CORS headers on real responses
(401/403/404/405 and the public documents included), rest.security.cors in /metadata, the
start-up checks of the `cors` and `console` sections, and console.enabled: false.
The browser's side of the same rules is tests/e2e/test_browser.py."""
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import BIN, ROOT, Server, free_port, mint_token, run_cli

ISS = "https://issuer.cors.test"
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
HEADER_SETS = ["authorization", "authorization, content-type, if-match", "Prefer, If-None-Exist, X-Request-Id"]


def lower_list(v):
    return [x.strip().lower() for x in (v or "").split(",") if x.strip()]


class CorsAuthOn(unittest.TestCase):
    ALLOWED = ["https://app.example.org", "http://localhost:3000", "http://localhost:61234", "HTTP://LOCALHOST:8"]
    DISALLOWED = ["https://evil.example.org", "https://app.example.org:8443", "http://app.example.org",
                  "https://localhost:3000", "http://localhost.evil.org:3000", "null", "https://app.example.org/"]

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="edgefhir-cors-")
        priv, pub = os.path.join(cls.work, "k.pem"), os.path.join(cls.work, "k.pub.pem")
        assert run_cli("token", "keygen", "--type", "ec", "--out", priv, "--pub", pub).returncode == 0
        port = free_port()
        base = "http://127.0.0.1:%d" % port
        cls.s = Server(port=port, config={
            "base_url": base,
            "auth": {"required": True, "audiences": [base],
                     "issuers": [{"issuer": ISS, "discovery": False, "algorithms": ["ES256"], "pinned_keys": [pub]}]},
            "cors": {"allowed_origins": ["https://app.example.org", "http://localhost:*"], "max_age_seconds": 120}})
        cls.s.start()
        cls.reader = mint_token(priv, ISS, base, "reader", roles="FHIR Data Reader")
        cls.admin = mint_token(priv, ISS, base, "admin", roles="FHIR Data Contributor")
        cls.patient_app = mint_token(priv, ISS, base, "app", scope="patient/Observation.rs",
                                     extra=("--claim", "patient=pat-7"))
        other = os.path.join(cls.work, "other.pem")
        assert run_cli("token", "keygen", "--type", "ec", "--out", other, "--pub", other + ".pub").returncode == 0
        cls.forged = mint_token(other, ISS, base, "mallory", roles="FHIR Data Contributor")

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()
        shutil.rmtree(cls.work, ignore_errors=True)

    def preflight(self, origin, method, headers, path="/Patient/p1"):
        return self.s.request("OPTIONS", path, headers={"Origin": origin, "Access-Control-Request-Method": method,
                                                        "Access-Control-Request-Headers": headers})

    def test_preflight_matrix(self):
        for origin in self.ALLOWED + self.DISALLOWED:
            for method in METHODS:
                for hdrs in HEADER_SETS:
                    with self.subTest(origin=origin, method=method, headers=hdrs):
                        r = self.preflight(origin, method, hdrs)
                        # Answered before authentication: no token, yet no 401.
                        self.assertEqual(r.status, 204)
                        self.assertIn("origin", lower_list(r.header("Vary")))
                        if origin in self.ALLOWED:
                            self.assertEqual(r.header("Access-Control-Allow-Origin"), origin)
                            self.assertIn(method.lower(), lower_list(r.header("Access-Control-Allow-Methods")))
                            allowed = lower_list(r.header("Access-Control-Allow-Headers"))
                            for h in lower_list(hdrs):
                                self.assertIn(h, allowed)
                            self.assertEqual(r.header("Access-Control-Max-Age"), "120")
                            self.assertIsNone(r.header("Access-Control-Allow-Credentials"))
                        else:
                            for h in ("Access-Control-Allow-Origin", "Access-Control-Allow-Methods",
                                      "Access-Control-Allow-Headers", "Access-Control-Max-Age"):
                                self.assertIsNone(r.header(h), h)

    def test_a_header_outside_the_list_is_not_granted(self):
        r = self.preflight("https://app.example.org", "GET", "authorization, x-secret-sauce")
        self.assertEqual(r.status, 204)
        self.assertNotIn("x-secret-sauce", lower_list(r.header("Access-Control-Allow-Headers")))

    def test_options_without_preflight_headers_is_not_a_preflight(self):
        r = self.s.request("OPTIONS", "/Patient", headers={"Origin": "https://app.example.org"})
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), "https://app.example.org")

    def test_real_responses_carry_cors_headers_for_allowed_origins_only(self):
        cases = [("GET", "/metadata", None, 200), ("GET", "/health", None, 200),
                 ("GET", "/.well-known/smart-configuration", None, None),
                 ("GET", "/Patient", None, 401), ("POST", "/Patient", self.reader, 403),
                 ("GET", "/Patient/does-not-exist", self.reader, 404), ("GET", "/NotAType", self.reader, 404),
                 ("PUT", "/metadata", None, 405), ("GET", "/Patient", "not.a.jwt", 401)]
        for origin, allowed in (("https://app.example.org", True), ("http://localhost:5173", True),
                                ("https://evil.example.org", False)):
            for method, path, token, status in cases:
                with self.subTest(origin=origin, method=method, path=path):
                    body = {"resourceType": "Patient"} if method in ("POST", "PUT") else None
                    r = self.s.request(method, path, body=body, token=token, headers={"Origin": origin})
                    if status is not None:
                        self.assertEqual(r.status, status, r)
                    self.assertIn("origin", lower_list(r.header("Vary")))
                    if allowed:
                        self.assertEqual(r.header("Access-Control-Allow-Origin"), origin)
                        exposed = lower_list(r.header("Access-Control-Expose-Headers"))
                        for h in ("location", "etag", "www-authenticate", "x-request-id"):
                            self.assertIn(h, exposed)
                    else:
                        self.assertIsNone(r.header("Access-Control-Allow-Origin"))
                        self.assertIsNone(r.header("Access-Control-Expose-Headers"))

    def test_a_rejected_origin_is_not_a_security_decision(self):
        # Without a browser nothing enforces CORS: the token alone decides.
        r = self.s.request("GET", "/Patient", token=self.reader, headers={"Origin": "https://evil.example.org"})
        self.assertEqual(r.status, 200)
        r = self.s.request("GET", "/Patient", headers={"Origin": "https://app.example.org"})
        self.assertEqual(r.status, 401)

    def test_capability_statement_says_cors_is_on(self):
        sec = self.s.request("GET", "/metadata").json()["rest"][0]["security"]
        self.assertIs(sec["cors"], True)
        self.assertIn("service", sec)


    # ---- the console's API (http/console.h): authenticated like every FHIR route ----
    def whoami(self, token, query=""):
        r = self.s.request("GET", "/console/api/whoami" + query, token=token)
        if token:
            self.assertNotIn(token.encode(), r.body)  # never echoes the token
        return r

    def test_whoami_refuses_with_the_failed_check(self):
        r = self.whoami(None)
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json()["verdict"], "refused")
        self.assertEqual(r.json()["status_code"], "missing_token")
        self.assertIn("Bearer", r.header("WWW-Authenticate"))
        r = self.whoami(self.forged)
        self.assertEqual(r.status, 401)
        checks = {c["name"]: c["passed"] for c in r.json()["checks"]}
        self.assertTrue(checks["issuer"])
        self.assertFalse(checks["signature"])
        self.assertNotIn("principal", r.json())
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")

    def test_whoami_reports_roles_and_what_the_token_may_do(self):
        r = self.whoami(self.reader, "?type=Observation")
        self.assertEqual(r.status, 200, r)
        w = r.json()
        self.assertEqual(w["verdict"], "accepted")
        self.assertEqual(w["principal"]["roles"], ["FHIR Data Reader"])
        self.assertEqual(w["role_permissions"], "read")
        self.assertTrue(all(c["passed"] for c in w["checks"]))
        may = {m["action"]: m for m in w["may"]}
        self.assertTrue(may["read"]["allowed"])
        self.assertEqual(may["read"]["type"], "Observation")
        self.assertFalse(may["create"]["allowed"])
        self.assertIn("write", may["create"]["reason"])
        self.assertFalse(may["status panel (admin)"]["allowed"])

    def test_whoami_reports_patient_context_and_restriction(self):
        w = self.whoami(self.patient_app, "?type=Observation").json()
        self.assertEqual(w["principal"]["patient_context"], "pat-7")
        self.assertEqual(w["principal"]["scopes"], ["patient/Observation.rs"])
        may = {m["action"]: m for m in w["may"]}
        self.assertTrue(may["search"]["allowed"])
        self.assertIn("Patient/pat-7", may["search"]["restricted_to"])
        self.assertFalse(may["create"]["allowed"])

    def test_status_needs_the_admin_permission(self):
        r = self.s.request("GET", "/console/api/status")
        self.assertEqual(r.status, 401)
        r = self.s.request("GET", "/console/api/status", token=self.reader)
        self.assertEqual(r.status, 403)
        self.assertIn("admin", r.json()["issue"][0]["diagnostics"])
        self.assertEqual(self.s.request("GET", "/console/api/status", token=self.forged).status, 401)
        self.assertEqual(self.s.request("GET", "/console/api/status", token=self.patient_app).status, 403)
        r = self.s.request("GET", "/console/api/status", token=self.admin)
        self.assertEqual(r.status, 200)
        st = r.json()
        self.assertEqual(st["keys"][0]["issuer"], ISS)
        self.assertEqual(st["keys"][0]["pinned_keys"], 1)
        self.assertIs(st["sync"]["enabled"], False)
        self.assertEqual(st["health"]["status"], "pass")
        self.assertNotIn(self.admin.encode(), r.body)
        # whoami calls and refusals are in the audit trail (without the token)
        self.s.request("GET", "/console/api/whoami", token=self.reader)
        events = self.s.request("GET", "/console/api/status", token=self.admin).json()["audit"]
        self.assertTrue(any(e["subject"] == "reader" and e["status"] == 403 for e in events), events)
        self.assertTrue(any(e["subject"] == "reader" and e["status"] == 200 and e["interaction"] == "capabilities"
                            for e in events), events)


class CorsAuthOff(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server(config={"cors": {"allowed_origins": ["*"], "allowed_headers": ["Authorization", "Content-Type"],
                                        "exposed_headers": ["Location"]}})
        cls.s.start()

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def test_preflight_matrix_any_origin(self):
        for origin in ("https://anything.example", "http://localhost:1", "https://app.example.org"):
            for method in METHODS:
                with self.subTest(origin=origin, method=method):
                    r = self.s.request("OPTIONS", "/Patient", headers={
                        "Origin": origin, "Access-Control-Request-Method": method,
                        "Access-Control-Request-Headers": "content-type"})
                    self.assertEqual(r.status, 204)
                    self.assertEqual(r.header("Access-Control-Allow-Origin"), "*")
                    self.assertEqual(lower_list(r.header("Access-Control-Allow-Headers")), ["authorization", "content-type"])
                    self.assertIn(method.lower(), lower_list(r.header("Access-Control-Allow-Methods")))
        r = self.s.request("OPTIONS", "/Patient", headers={"Origin": "null", "Access-Control-Request-Method": "GET"})
        self.assertIsNone(r.header("Access-Control-Allow-Origin"))

    def test_real_response_and_configured_exposed_headers(self):
        r = self.s.request("POST", "/Patient", body={"resourceType": "Patient"}, headers={"Origin": "https://x.example"})
        self.assertEqual(r.status, 201)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), "*")
        self.assertEqual(r.header("Access-Control-Expose-Headers"), "Location")
        self.assertIsNone(r.header("Access-Control-Allow-Credentials"))

    def test_capability_statement_says_cors_is_on(self):
        self.assertIs(self.s.request("GET", "/metadata").json()["rest"][0]["security"]["cors"], True)


class CorsOff(unittest.TestCase):
    def test_off_by_default(self):
        with Server() as s:
            r = s.request("OPTIONS", "/Patient", headers={"Origin": "http://localhost:3000",
                                                          "Access-Control-Request-Method": "GET"})
            self.assertEqual(r.status, 405)
            self.assertIsNone(r.header("Access-Control-Allow-Origin"))
            r = s.request("GET", "/metadata", headers={"Origin": "http://localhost:3000"})
            self.assertIsNone(r.header("Access-Control-Allow-Origin"))
            self.assertIsNone(r.header("Vary"))
            self.assertIs(r.json()["rest"][0]["security"]["cors"], False)


class StartupChecks(unittest.TestCase):
    """A bad `cors` / `console` section stops start-up with exit 2 and a message naming the key."""

    def start_fails(self, extra, needle):
        s = Server(config=extra)
        try:
            s.write_config()
            p = subprocess.run([BIN, "serve", "--config", s.config_path], cwd=ROOT, capture_output=True, timeout=20)
            self.assertEqual(p.returncode, 2, p)
            self.assertIn(needle, p.stderr.decode())
        finally:
            s.cleanup()

    def test_bad_sections(self):
        cases = [
            ({"cors": {"allowed_origin": ["http://a"]}}, "key 'cors.allowed_origin': unknown key"),
            ({"cors": {"allowed_origins": "http://a"}}, "key 'cors.allowed_origins': must be a list of strings"),
            ({"cors": {"allowed_origins": ["http://a.example/app"]}}, "key 'cors.allowed_origins': 'http://a.example/app'"),
            ({"cors": {"allowed_origins": ["http://a.example:99999"]}}, "key 'cors.allowed_origins'"),
            ({"cors": {"allowed_origins": ["null"]}}, "key 'cors.allowed_origins'"),
            ({"cors": {"allowed_origins": ["*"], "allow_credentials": True}}, "key 'cors.allow_credentials'"),
            ({"cors": {"allowed_origins": ["http://a"], "max_age_seconds": 90000}}, "key 'cors.max_age_seconds'"),
            ({"cors": {"allowed_origins": ["http://a"], "allowed_headers": ["bad header"]}}, "key 'cors.allowed_headers'"),
            ({"cors": {"allowed_origins": ["http://a"], "allow_credentials": "yes"}}, "key 'cors.allow_credentials'"),
            ({"cors": ["http://a"]}, "key 'cors'"),
            ({"console": {"enabled": "no"}}, "key 'console.enabled'"),
            ({"console": {"enable": False}}, "key 'console.enable': unknown key"),
        ]
        for extra, needle in cases:
            with self.subTest(extra=extra):
                self.start_fails(extra, needle)

    def test_any_origin_with_auth_needs_confirmation(self):
        work = tempfile.mkdtemp(prefix="edgefhir-cors-")
        try:
            pub = os.path.join(work, "k.pub.pem")
            assert run_cli("token", "keygen", "--type", "ec", "--out", os.path.join(work, "k.pem"), "--pub", pub).returncode == 0
            auth = {"required": True, "audiences": ["x"],
                    "issuers": [{"issuer": ISS, "discovery": False, "algorithms": ["ES256"], "pinned_keys": [pub]}]}
            self.start_fails({"auth": auth, "cors": {"allowed_origins": ["*"]}}, "allow_any_origin_with_auth")
            with Server(config={"auth": auth, "cors": {"allowed_origins": ["*"], "allow_any_origin_with_auth": True}}) as s:
                r = s.request("GET", "/Patient", headers={"Origin": "https://anywhere.example"})
                self.assertEqual(r.status, 401)
                self.assertEqual(r.header("Access-Control-Allow-Origin"), "*")
        finally:
            shutil.rmtree(work, ignore_errors=True)


class ConsoleSwitch(unittest.TestCase):
    def test_console_on_by_default_and_off_by_config(self):
        with Server() as s:
            r = s.request("GET", "/console/")
            self.assertEqual(r.status, 200)
            self.assertIn(b"console.js", r.body)
            csp = r.header("Content-Security-Policy")
            self.assertIn("script-src 'self'", csp)
            self.assertIn("frame-ancestors 'none'", csp)
            self.assertNotIn("unsafe-inline", csp)
            self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
            # no inline script or style in the page itself
            self.assertNotIn(b"<script>", r.body)
            self.assertNotIn(b"<style", r.body)
            self.assertNotIn(b" style=", r.body)
            js = s.request("GET", "/console/console.js")
            self.assertEqual(js.header("Content-Type"), "text/javascript; charset=utf-8")
            for sink in (b"innerHTML", b"outerHTML", b"insertAdjacentHTML", b"document.write", b"eval(", b"new Function"):
                self.assertNotIn(sink, js.body)  # values go on the page as text only
            self.assertIn(b"textContent", js.body)
            self.assertEqual(s.request("GET", "/console/nope.js").status, 404)
            self.assertEqual(s.request("GET", "/console").status, 301)
            self.assertEqual(s.request("POST", "/console/", body="x").status, 405)
            w = s.request("GET", "/console/api/whoami")
            self.assertEqual(w.status, 200)
            self.assertEqual(w.json()["auth"], "off")
        with Server(config={"console": {"enabled": False}}) as s:
            for path in ("/console/", "/console/console.js", "/console/api/whoami", "/console/api/status"):
                self.assertEqual(s.request("GET", path).status, 404, path)


if __name__ == "__main__":
    unittest.main()

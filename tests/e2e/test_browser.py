"""The server in a REAL browser: headless Chromium (Debian package `chromium`, installed by
`make deps`) driven by npm puppeteer-core (tests/browser/driver.mjs; `npm install` runs once into
tests/browser/node_modules).

  CORS: a page served by a second local HTTP server, on an origin listed in cors.allowed_origins,
  uses fetch with a bearer token to read, search, follow the next-page link, create, and read the
  401/403 answers and their exposed headers, and fhirclient's browser build (npm fhirclient) to
  read every page, create and read back; the same page on an origin that is not listed is
  blocked by the browser (fetch throws), with or without a token.
  Console: /console/ loads under its Content-Security-Policy with no violation, signs in with a
  pasted token, lists types with counts, runs a search from /metadata's parameters and pages,
  opens a resource and follows a reference, edits it (PUT) and shows the history diff, shows a
  403 with its reason for a Reader token (edit and status), takes an admin token from the URL
  fragment (and removes it from the address bar), shows key, sync, health, audit and metrics, and
  renders markup in data as text.
Screenshots of a failing scenario are kept in the test's temp dir (printed in the failure).

Needs node + npm (skipped without them, like tests/oidc) and /usr/bin/chromium (fails without it:
`make deps` installs it)."""
import functools
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import unittest

from harness import ROOT, Server, free_port, mint_token, run_cli

BROWSER_DIR = os.path.join(ROOT, "tests", "browser")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ISS = "https://issuer.browser.test"
FAMILY = "Browserfamily"
_install_lock = threading.Lock()


def ensure_puppeteer_installed():
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise unittest.SkipTest("node/npm not installed")
    with _install_lock:
        if all(os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", m)) for m in ("puppeteer-core", "fhirclient")):
            return
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=BROWSER_DIR,
                           capture_output=True, timeout=600)
        if r.returncode != 0:
            raise RuntimeError("npm ci in tests/browser failed:\n%s\n%s" % (r.stdout.decode(), r.stderr.decode()))


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class BrowserTest(unittest.TestCase):
    keep_work = False
    @classmethod
    def setUpClass(cls):
        ensure_puppeteer_installed()
        try:
            cls.set_up()
        except BaseException:
            cls.keep_work = True  # screenshots and logs stay for a look
            cls.tearDownClass()
            raise

    @classmethod
    def set_up(cls):
        if not os.access(CHROMIUM, os.X_OK):
            raise AssertionError("%s not found: the browser tests need Debian's chromium (make deps installs it)" % CHROMIUM)
        cls.work = tempfile.mkdtemp(prefix="edgefhir-browser-")
        priv, pub = os.path.join(cls.work, "k.pem"), os.path.join(cls.work, "k.pub.pem")
        assert run_cli("token", "keygen", "--type", "ec", "--out", priv, "--pub", pub).returncode == 0
        # The page server: one HTTP server, two origins (127.0.0.1 is allowed, localhost is not).
        site = os.path.join(cls.work, "site")
        os.makedirs(site)
        with open(os.path.join(site, "page.html"), "w") as f:
            f.write("<!doctype html><title>another origin</title><p>a page on another origin</p>\n"
                    "<script src=\"fhir-client.min.js\"></script>\n")
        # fhirclient's browser build (npm fhirclient, installed with puppeteer-core), served by this origin
        shutil.copy(os.path.join(BROWSER_DIR, "node_modules", "fhirclient", "build", "fhir-client.min.js"), site)
        cls.page_port = free_port()
        cls.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", cls.page_port),
                                                    functools.partial(QuietHandler, directory=site))
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()
        cls.allowed_origin = "http://127.0.0.1:%d" % cls.page_port
        port = free_port()
        cls.base = "http://127.0.0.1:%d" % port
        cls.s = Server(port=port, config={
            "base_url": cls.base,
            "auth": {"required": True, "audiences": [cls.base],
                     "issuers": [{"issuer": ISS, "discovery": False, "algorithms": ["ES256"], "pinned_keys": [pub]}]},
            "cors": {"allowed_origins": [cls.allowed_origin]},
            # An upstream nobody listens on: the status page shows a queue and the last error.
            "sync": {"upstream": "http://127.0.0.1:%d" % free_port(), "interval_seconds": 1,
                     "backoff_initial_seconds": 1, "backoff_max_seconds": 2, "timeout_seconds": 2},
        })
        cls.s.start()
        mint = functools.partial(mint_token, priv, ISS, cls.base)
        cls.tokens = {"writer": mint("writer-1", roles="FHIR Data Writer"),
                      "reader": mint("reader-1", roles="FHIR Data Reader"),
                      "admin": mint("admin-1", roles="FHIR Data Contributor")}
        ids = []
        for i in range(23):
            r = cls.s.request("POST", "/Patient", {"resourceType": "Patient", "name": [{"family": FAMILY, "given": ["P%02d" % i]}]},
                              token=cls.tokens["admin"])
            assert r.status == 201, r
            ids.append(r.json()["id"])
        r = cls.s.request("POST", "/Observation", {"resourceType": "Observation", "status": "final",
                                                   "code": {"text": "seeded"}, "subject": {"reference": "Patient/" + ids[0]}},
                          token=cls.tokens["admin"])
        assert r.status == 201, r
        cls.observation_ref = "Observation/" + r.json()["id"]
        r = cls.s.request("POST", "/Patient", {"resourceType": "Patient",
                                               "name": [{"family": "<img src=x onerror=alert(1)><script>alert(2)</script>"}]},
                          token=cls.tokens["admin"])
        assert r.status == 201, r
        cls.markup_ref = "Patient/" + r.json()["id"]
        cls.result = cls.drive()

    @classmethod
    def drive(cls):
        job = {"chromium": CHROMIUM, "user_data_dir": tempfile.mkdtemp(prefix="profile-", dir=cls.work),
               "shots_dir": os.path.join(cls.work, "screenshots"), "base": cls.base,
               "allowed_page": cls.allowed_origin + "/page.html",
               "disallowed_page": "http://localhost:%d/page.html" % cls.page_port,
               "tokens": cls.tokens, "patient_family": FAMILY, "issuer": ISS,
               "observation_ref": cls.observation_ref, "markup_ref": cls.markup_ref}
        path = os.path.join(cls.work, "job.json")
        with open(path, "w") as f:
            json.dump(job, f)
        p = subprocess.run(["node", os.path.join(BROWSER_DIR, "driver.mjs"), path], cwd=BROWSER_DIR,
                           capture_output=True, timeout=300)
        if p.returncode != 0:
            cls.keep_work = True
            raise AssertionError("driver.mjs failed (%d): %s\n%s\nscreenshots: %s" % (
                p.returncode, p.stdout.decode()[-3000:], p.stderr.decode()[-3000:], job["shots_dir"]))
        return json.loads(p.stdout.decode().strip().splitlines()[-1])

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "httpd"):
            cls.httpd.shutdown()
            cls.httpd.server_close()
        if hasattr(cls, "s"):
            cls.s.cleanup()
        if hasattr(cls, "work") and not cls.keep_work:
            shutil.rmtree(cls.work, ignore_errors=True)

    def scenario(self, name):
        rec = self.result[name]
        if "error" in rec:
            type(self).keep_work = True
            self.fail("%s scenario failed: %s\n(at %s)\nscreenshots kept in %s\nobserved: %s" % (
                name, rec["error"], rec.get("url_at_error"), os.path.join(self.work, "screenshots"),
                json.dumps({k: v for k, v in rec.items() if k != "error"})[:3000]))
        return rec

    # ---- CORS ----
    def test_allowed_origin_reads_searches_pages_and_creates(self):
        a = self.scenario("cors")["allowed"]
        self.assertEqual(a["origin"], self.allowed_origin)
        self.assertEqual(a["metadata_status"], 200)
        self.assertIs(a["metadata_cors"], True)
        self.assertEqual(a["search_status"], 200)
        self.assertGreaterEqual(a["search_total"], 24)
        self.assertEqual(len(a["page1_ids"]), 10)
        self.assertTrue(a["next_link"] and a["next_link"].startswith(self.base), a["next_link"])
        self.assertEqual(a["page2_status"], 200)
        self.assertEqual(len(a["page2_ids"]), 10)
        self.assertFalse(set(a["page1_ids"]) & set(a["page2_ids"]), "page 2 repeats page 1")
        self.assertEqual(a["create_status"], 201)
        # Location and ETag are exposed headers: a page can only read them when the server says so.
        self.assertIn("/Observation/" + a["created_id"], a["create_location"] or "")
        self.assertTrue(a["create_etag"], "ETag not exposed to the page")
        self.assertEqual(a["read_status"], 200)
        self.assertEqual(a["read_code"], "made by a page on " + self.allowed_origin)
        # Refusals are readable too (CORS headers on 401/403), with their exposed WWW-Authenticate.
        self.assertEqual(a["no_token_status"], 401)
        self.assertIn("Bearer", a["no_token_www"] or "")
        self.assertEqual(a["no_token_issue"], "login")
        f = self.result["cors"]["reader_forbidden"]
        self.assertEqual(f["status"], 403)
        self.assertIn("insufficient_scope", f["www"] or "")
        self.assertIn("write", f["diagnostics"])

    def test_fhirclient_browser_build_from_an_allowed_origin(self):
        f = self.scenario("cors")["fhirclient"]
        # Every page followed through the next links (24 Patients at 10 a page).
        self.assertEqual(f["patients"], 24)
        self.assertEqual(f["distinct"], 24)
        self.assertTrue(f["created_id"])
        self.assertEqual(f["read_code"], "made by fhirclient")
        self.assertEqual(f["missing_version"], 404)

    def test_disallowed_origin_is_blocked_by_the_browser(self):
        d = self.scenario("cors")["disallowed"]
        self.assertEqual(d["origin"], "http://localhost:%d" % self.page_port)
        for k in ("read_with_token", "simple_get_metadata", "create"):
            self.assertTrue(d[k].startswith("blocked: TypeError"), "%s: %s" % (k, d[k]))
        # The server still decided nothing from the origin: the blocked create did not happen
        # only because the preflight got no CORS headers.
        r = self.s.request("GET", "/Patient?_summary=count", token=self.tokens["admin"])
        self.assertEqual(r.json()["total"], 24)

    # ---- console ----
    def test_console_signs_in_and_reports_the_token(self):
        c = self.scenario("console")
        self.assertTrue(c["signin_shown"])
        self.assertEqual(c["verdict"], "accepted")
        self.assertIn("writer-1", c["who"])
        self.assertIn("FHIR Data Writer", c["who"])
        self.assertIn("role FHIR Data Writer", c["may_table"])
        self.assertTrue(c["session_token_stored"])
        self.assertEqual(c["cookies"], 0)
        self.assertEqual(c["csp_violations"], [])
        # Chromium logs every 4xx answer as "Failed to load resource"; the console shows those
        # itself (403/400 on purpose below).  Anything else (a script error) fails.
        self.assertEqual([e for e in c["console_errors"] if not e.startswith(
            "Failed to load resource: the server responded with a status of 4")], [])

    def test_console_lists_types_searches_and_pages(self):
        c = self.scenario("console")
        self.assertEqual(c["patient_count"], "24")
        self.assertIn("Patient", c["visible_types"])
        self.assertIn("Observation", c["visible_types"])
        self.assertNotIn("Medication", c["visible_types"])  # empty types are hidden by default
        self.assertIn("family", c["param_options"])
        self.assertIn("birthdate", c["param_options"])
        self.assertIn("family=" + FAMILY, c["search_hash"])
        self.assertIn("23 total", c["search_total"])
        self.assertEqual(len(c["result_links"]), 5)
        self.assertTrue(c["has_next"])
        self.assertEqual(len(c["page2_links"]), 5)
        self.assertFalse(set(c["result_links"]) & set(c["page2_links"]))

    def test_console_opens_follows_edits_and_diffs(self):
        c = self.scenario("console")
        self.assertEqual(len(c["ref_links"]), 1)
        self.assertTrue(c["ref_links"][0].startswith("#/r/Patient/"))
        self.assertTrue(c["resource_title"].startswith("Patient/"))
        self.assertIn('"other"', c["after_edit"])
        pid = c["resource_title"].strip().split("/")[1]
        r = self.s.request("GET", "/Patient/" + pid, token=self.tokens["admin"])
        self.assertEqual(r.json()["gender"], "other")
        self.assertEqual(r.json()["meta"]["versionId"], "2")
        self.assertIn("1 → 2", c["diff"])
        self.assertTrue(any('"gender": "other"' in line for line in c["diff_added"]), c["diff_added"])

    def test_console_creates_and_deletes_with_outcomes_inline(self):
        c = self.scenario("console")
        self.assertIn("HTTP 400", c["create_invalid"])
        self.assertIn("Observation", c["create_invalid"])  # the OperationOutcome's diagnostics
        self.assertTrue(c["created_title"].startswith("Patient/"))
        pid = c["created_title"].strip().split("/")[1]
        self.assertIn("delete: HTTP 20", c["delete_result"])
        self.assertEqual(self.s.request("GET", "/Patient/" + pid, token=self.tokens["admin"]).status, 410)

    def test_console_shows_403_with_reason_for_a_reader(self):
        c = self.scenario("console")
        self.assertIn("HTTP 403", c["reader_save"])
        self.assertIn("write", c["reader_save"])
        self.assertIn("FHIR Data Reader", c["reader_save"])
        self.assertIn("admin", c["reader_status"])

    def test_console_status_shows_keys_and_sync(self):
        c = self.scenario("console")
        self.assertEqual(c["fragment_verdict"], "accepted")
        self.assertNotIn("token=", c["url_after_fragment"])
        self.assertIn(ISS, c["keys"])
        self.assertIn("pinned", c["keys"])
        self.assertIn("127.0.0.1", c["sync"])  # the upstream
        self.assertIn("queue", c["sync"])
        self.assertIn("database", c["health"])
        self.assertIn("keys:" + ISS, c["health"])
        self.assertIn("sync:queue", c["health"])
        self.assertIn("writer-1", c["audit"])
        self.assertIn("edgefhir_http_requests_in_flight", c["metrics"])

    def test_console_renders_data_as_text(self):
        c = self.scenario("console")
        self.assertTrue(c["markup_text_shown"])
        self.assertEqual(c["markup_elements"], 0)


if __name__ == "__main__":
    unittest.main()

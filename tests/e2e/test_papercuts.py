"""Operator papercuts found by trying edgefhir as a new user would (issue 16), each against the
real binary: a refused start leaves no database file or folder behind and does not create
folders; a second `serve` on a port held by a running edgefhir fails with "address already in
use"; "listen": "127.0.0.1:0" puts the bound port into Location, fullUrl and links and the
start-up log; `_format=application/fhir json` (a '+' sent unencoded) is accepted; _summary and
_elements apply on read and vread; Accept with a non-R4 fhirVersion is 406; a UTF-8 BOM before
a JSON body is ignored; Preference-Applied names the Prefer preferences honoured; HTTP/1.1
pipelining (see README "Known limitations"); the JSON log writes numbers as numbers and one
line per request, switchable off with "log_requests": false."""
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from harness import BIN, Server, free_port


def tree(root):
    out = []
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            out.append(os.path.relpath(os.path.join(d, n), root))
    return sorted(out)


def log_events(text):
    """The JSON log lines of a server log (other lines ignored)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


class RefusedStartTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="edgefhir-e2e-refused-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def serve(self, config=None, args=()):
        cmd = [BIN, "serve"] + list(args)
        if config is not None:
            path = os.path.join(self.tmp, "config.json")
            with open(path, "w") as f:
                f.write(config if isinstance(config, str) else json.dumps(config))
            cmd += ["--config", path]
        return subprocess.run(cmd, cwd=self.tmp, capture_output=True, timeout=30)

    def test_serve_without_config_creates_nothing(self):
        p = self.serve()
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(b"no --config given", p.stderr)
        self.assertEqual(tree(self.tmp), [])  # no var/, no var/edgefhir.db

    def test_bad_config_creates_nothing(self):
        port = free_port()
        for cfg in ({"listen": "127.0.0.1:%d" % port, "database": "a/b/c.db", "bogus": 1},
                    {"listen": "127.0.0.1:%d" % port, "database": "a/b/c.db", "auth": {"required": True}},
                    {"listen": "nonsense", "database": "x.db", "auth": {"required": False}},
                    "{not json"):
            with self.subTest(cfg=cfg):
                p = self.serve(cfg)
                self.assertNotEqual(p.returncode, 0, p.stderr)
                self.assertEqual(tree(self.tmp), ["config.json"], p.stderr)

    def test_bad_section_stops_start_naming_the_key(self):
        # every section is checked at start-up (app/sections.h), before the database exists;
        # a bad export value used to surface only as a 500 on the first $export
        port = free_port()
        for section, key in (({"export": {"max_active_jobs": 0}}, b"export.max_active_jobs"),
                             ({"export": {"retention_seconds": "1d"}}, b"export.retention_seconds"),
                             ({"metrics": {"public": "yes"}}, b"metrics.public"),
                             ({"console": {"enabled": 1}}, b"console.enabled"),
                             ({"audit": {"retention_days": -1}}, b"retention_days")):
            with self.subTest(section=section):
                cfg = {"listen": "127.0.0.1:%d" % port, "database": "edgefhir.db", "auth": {"required": False}}
                cfg.update(section)
                p = self.serve(cfg)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(key, p.stderr)
                self.assertIn(b"config.json", p.stderr)
                self.assertEqual(tree(self.tmp), ["config.json"], p.stderr)

    def test_missing_database_folder_is_an_error_naming_it(self):
        cfg = {"listen": "127.0.0.1:%d" % free_port(), "database": "data/fhir/edgefhir.db", "auth": {"required": False}}
        p = self.serve(cfg)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"the database folder 'data/fhir' does not exist", p.stderr)
        self.assertEqual(tree(self.tmp), ["config.json"])
        # an existing folder is used; the file is created in it
        os.makedirs(os.path.join(self.tmp, "data", "fhir"))
        s = Server(config={"database": os.path.join(self.tmp, "data", "fhir", "edgefhir.db")})
        try:
            s.start()
            self.assertTrue(os.path.exists(os.path.join(self.tmp, "data", "fhir", "edgefhir.db")))
        finally:
            s.cleanup()

    def test_start_failing_after_the_database_opened_removes_the_new_file(self):
        # an unusable TLS certificate is found once the database is open: the file it created goes
        cfg = {"listen": "127.0.0.1:%d" % free_port(), "database": "edgefhir.db", "auth": {"required": False},
               "tls": {"cert": os.path.join(self.tmp, "missing.crt"), "key": os.path.join(self.tmp, "missing.key")}}
        p = self.serve(cfg)
        self.assertNotEqual(p.returncode, 0, p.stderr)
        self.assertEqual(tree(self.tmp), ["config.json"], p.stderr)


class PortTest(unittest.TestCase):
    def test_second_serve_on_a_held_port_fails(self):
        with Server() as first:
            pid = first.request("POST", "/Patient", {"resourceType": "Patient", "active": True})
            self.assertEqual(pid.status, 201)
            tmp = tempfile.mkdtemp(prefix="edgefhir-e2e-second-")
            try:
                cfg = dict(first.config, database=os.path.join(tmp, "second.db"))
                path = os.path.join(tmp, "config.json")
                with open(path, "w") as f:
                    json.dump(cfg, f)
                p = subprocess.run([BIN, "serve", "--config", path], capture_output=True, timeout=30)
                self.assertNotEqual(p.returncode, 0, p.stderr)
                self.assertIn(b"address already in use", p.stderr)
                self.assertIn(("127.0.0.1:%d" % first.port).encode(), p.stderr)
                self.assertEqual(tree(tmp), ["config.json"])  # its database was never created
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            # every connection still reaches the first server (no SO_REUSEPORT sharing)
            for _ in range(20):
                r = first.request("GET", "/Patient?_summary=count")
                self.assertEqual(r.json()["total"], 1)

    def test_port_zero_uses_the_bound_port(self):
        tmp = tempfile.mkdtemp(prefix="edgefhir-e2e-port0-")
        cfg = {"listen": "127.0.0.1:0", "database": os.path.join(tmp, "db.sqlite"), "auth": {"required": False}}
        path = os.path.join(tmp, "config.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        log = open(os.path.join(tmp, "log"), "wb")
        proc = subprocess.Popen([BIN, "serve", "--config", path], stdout=log, stderr=log)
        try:
            port = None
            deadline = time.time() + 15
            while port is None and time.time() < deadline:
                with open(os.path.join(tmp, "log")) as f:
                    for e in log_events(f.read()):
                        if e.get("event") == "server.listening":
                            port = e["port"]
                time.sleep(0.05)
            self.assertIsInstance(port, int)
            self.assertGreater(port, 0)
            s = Server(port=port, workdir=tmp)  # a client for the running process
            base = "http://127.0.0.1:%d" % port
            with open(os.path.join(tmp, "log")) as f:
                listening = [e for e in log_events(f.read()) if e.get("event") == "server.listening"][0]
            self.assertEqual(listening["base_url"], base)
            self.assertEqual(listening["listen"], "127.0.0.1:%d" % port)
            r = s.request("POST", "/Patient", {"resourceType": "Patient", "active": True})
            self.assertEqual(r.status, 201)
            self.assertTrue(r.header("Location").startswith(base + "/Patient/"), r.header("Location"))
            s.request("POST", "/Patient", {"resourceType": "Patient", "active": True})
            b = s.request("GET", "/Patient?_count=1").json()
            links = [l["url"] for l in b["link"]]
            self.assertIn("next", [l["relation"] for l in b["link"]])
            for l in links:
                self.assertTrue(l.startswith(base + "/"), l)
            self.assertTrue(b["entry"][0]["fullUrl"].startswith(base + "/Patient/"))
            tx = s.request("POST", "/", {"resourceType": "Bundle", "type": "transaction", "entry": [
                {"resource": {"resourceType": "Patient"}, "request": {"method": "POST", "url": "Patient"}}]},
                headers={"Prefer": "return=representation"}).json()
            self.assertTrue(tx["entry"][0]["fullUrl"].startswith(base + "/Patient/"), tx["entry"][0])
            meta = s.request("GET", "/metadata").json()
            self.assertEqual(meta["implementation"]["url"], base)
            self.assertNotIn(":0/", json.dumps(b) + json.dumps(tx) + json.dumps(meta))
        finally:
            proc.terminate()
            proc.wait(10)
            log.close()
            shutil.rmtree(tmp, ignore_errors=True)


class RequestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server().start()
        r = cls.s.request("POST", "/Patient", {"resourceType": "Patient", "active": True, "gender": "female",
                                               "birthDate": "1970-01-02", "name": [{"family": "Bom"}],
                                               "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}})
        assert r.status == 201, r
        cls.pid = r.json()["id"]

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def raw_get(self, target):
        """GET with the target sent exactly as given (no client-side encoding)."""
        with socket.create_connection(("127.0.0.1", self.s.port), timeout=10) as sock:
            sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target).encode())
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        return int(data.split(b" ", 2)[1])

    def test_format_with_unencoded_plus(self):
        self.assertEqual(self.raw_get("/Patient/%s?_format=application/fhir+json" % self.pid), 200)
        self.assertEqual(self.raw_get("/Patient/%s?_format=application/fhir%%2Bjson" % self.pid), 200)
        self.assertEqual(self.raw_get("/Patient?_format=application/json+fhir"), 200)
        self.assertEqual(self.raw_get("/Patient/%s?_format=xml" % self.pid), 200)
        self.assertEqual(self.raw_get("/Patient/%s?_format=application/fhir+xml" % self.pid), 200)
        self.assertEqual(self.raw_get("/Patient/%s?_format=turtle" % self.pid), 406)

    def test_summary_and_elements_on_read_and_vread(self):
        full = self.s.request("GET", "/Patient/" + self.pid).json()
        self.assertIn("birthDate", full)
        self.assertNotIn("tag", full["meta"])
        for path in ("/Patient/" + self.pid, "/Patient/%s/_history/1" % self.pid):
            with self.subTest(path=path):
                r = self.s.request("GET", path + "?_elements=name")
                self.assertEqual(r.status, 200, r)
                b = r.json()
                self.assertEqual(b["name"], full["name"])
                self.assertEqual((b["resourceType"], b["id"]), ("Patient", self.pid))
                self.assertNotIn("birthDate", b)
                self.assertNotIn("gender", b)
                self.assertIn("SUBSETTED", json.dumps(b["meta"]["tag"]))
                self.assertEqual(r.header("ETag"), 'W/"1"')
                b = self.s.request("GET", path + "?_summary=text").json()
                self.assertIn("text", b)
                self.assertNotIn("birthDate", b)
                b = self.s.request("GET", path + "?_summary=data").json()
                self.assertNotIn("text", b)
                self.assertEqual(b["birthDate"], "1970-01-02")
                b = self.s.request("GET", path + "?_summary=false").json()
                self.assertEqual(b, full)
                r = self.s.request("GET", path + "?_summary=bogus")
                self.assertEqual(r.status, 400)
                self.assertIn("_summary", r.json()["issue"][0]["diagnostics"])
                self.assertEqual(self.s.request("GET", path + "?_elements=na$me").status, 400)

    def test_accept_fhir_version(self):
        path = "/Patient/" + self.pid
        for accept, status in (("application/fhir+json; fhirVersion=3.0", 406),
                               ("application/fhir+json;fhirVersion=\"1.0\"", 406),
                               ("application/fhir+json; fhirVersion=4.0", 200),
                               ("application/fhir+json; fhirVersion=4.0.1", 200),
                               ("application/fhir+json; fhirVersion=3.0, application/fhir+json; fhirVersion=4.0", 200),
                               ("application/fhir+json", 200),
                               ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", 200),
                               ("application/fhir+xml; fhirVersion=3.0", 406),
                               ("text/html", 406)):
            with self.subTest(accept=accept):
                r = self.s.request("GET", path, headers={"Accept": accept})
                self.assertEqual(r.status, status, r)
                if status == 406 and "xml" in accept:  # the refusal in the format asked for (test_xml.py)
                    self.assertTrue(r.header("content-type").startswith("application/fhir+xml"), r)
                    self.assertIn(b"<OperationOutcome", r.body)
                elif status == 406:
                    self.assertEqual(r.json()["resourceType"], "OperationOutcome")
        r = self.s.request("GET", path, headers={"Accept": "application/fhir+json; fhirVersion=3.0"})
        self.assertIn("R4", r.json()["issue"][0]["diagnostics"])

    def test_utf8_bom_before_a_body(self):
        body = b"\xef\xbb\xbf" + json.dumps({"resourceType": "Patient", "name": [{"family": "Bom"}]}).encode()
        r = self.s.request("POST", "/Patient", body, headers={"Content-Type": "application/fhir+json"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["name"][0]["family"], "Bom")
        # a BOM elsewhere is still not JSON
        r = self.s.request("POST", "/Patient", b"  " + body, headers={"Content-Type": "application/fhir+json"})
        self.assertEqual(r.status, 400, r)

    def test_preference_applied(self):
        p = {"resourceType": "Patient", "active": True}
        r = self.s.request("POST", "/Patient", p, headers={"Prefer": "return=minimal"})
        self.assertEqual(r.status, 201)
        self.assertEqual(r.header("Preference-Applied"), "return=minimal")
        self.assertEqual(r.body, b"")
        pid = r.header("Location").split("/")[-3]
        r = self.s.request("PUT", "/Patient/" + pid, dict(p, id=pid), headers={"Prefer": "return=OperationOutcome"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Preference-Applied"), "return=OperationOutcome")
        self.assertEqual(r.json()["resourceType"], "OperationOutcome")
        r = self.s.request("POST", "/Patient", p, headers={"Prefer": "return=representation"})
        self.assertEqual(r.header("Preference-Applied"), "return=representation")
        r = self.s.request("GET", "/Patient?active=true", headers={"Prefer": "handling=strict"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Preference-Applied"), "handling=strict")
        r = self.s.request("GET", "/Patient?nosuchparam=1", headers={"Prefer": "handling=lenient"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Preference-Applied"), "handling=lenient")
        r = self.s.request("GET", "/Patient/$export", headers={"Prefer": "respond-async"})
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.header("Preference-Applied"), "respond-async")
        # not honoured -> not claimed: a read ignores return=, no Prefer -> no header
        r = self.s.request("GET", "/Patient/" + pid, headers={"Prefer": "return=minimal"})
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("Preference-Applied"))
        self.assertIsNone(self.s.request("POST", "/Patient", p).header("Preference-Applied"))
        # several at once
        r = self.s.request("POST", "/", {"resourceType": "Bundle", "type": "batch", "entry": []},
                           headers={"Prefer": "return=OperationOutcome, handling=strict"})
        self.assertEqual(r.header("Preference-Applied"), "return=OperationOutcome")

    def test_pipelined_requests(self):
        """cpp-httplib 0.11 answers the first of two pipelined requests and drops the second
        (README "Known limitations"): the first answer is complete and correct, the second
        request gets no answer, and the connection is closed - never a wrong or mixed answer."""
        req = ("GET /Patient/%s HTTP/1.1\r\nHost: x\r\n\r\n" % self.pid).encode()
        with socket.create_connection(("127.0.0.1", self.s.port), timeout=10) as sock:
            sock.sendall(req + req)
            data = b""
            sock.settimeout(10)
            try:
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            except socket.timeout:
                pass
        answers = re.findall(rb"HTTP/1.1 (\d{3})", data)
        self.assertGreaterEqual(len(answers), 1, data[:200])
        self.assertEqual(answers[0], b"200")
        first = data.split(b"\r\n\r\n", 1)[1]
        n = int(re.search(rb"(?i)content-length: *(\d+)", data).group(1))
        self.assertEqual(json.loads(first[:n])["id"], self.pid)
        # Documents what happens: pipelining is not supported, so exactly one answer.
        self.assertEqual(len(answers), 1, "the second pipelined request was answered: update README Known limitations")


class LogTest(unittest.TestCase):
    def test_request_line_with_numbers(self):
        with Server() as s:
            s.request("GET", "/Patient?name=Secretname&_count=5", headers={"X-Request-Id": "log-test-1"})
            s.request("GET", "/Patient/nope")
            s.stop()
            events = log_events(s.read_log())
        listening = [e for e in events if e["event"] == "server.listening"]
        self.assertEqual(listening[0]["port"], s.port)
        reqs = [e for e in events if e["event"] == "request"]
        mine = [e for e in reqs if e["request_id"] == "log-test-1"]
        self.assertEqual(len(mine), 1, reqs)
        e = mine[0]
        self.assertEqual(e["level"], "info")
        self.assertEqual((e["method"], e["path"], e["status"]), ("GET", "/Patient", 200))
        self.assertEqual(sorted(e["params"].split(",")), ["_count", "name"])
        self.assertIsInstance(e["status"], int)
        self.assertIsInstance(e["duration_us"], int)
        self.assertGreaterEqual(e["duration_us"], 0)
        self.assertEqual(e["caller"], "anonymous")
        self.assertEqual(e["interaction"], "search-type")
        self.assertNotIn("Secretname", s.read_log())
        miss = [e for e in reqs if e["path"] == "/Patient/nope"]
        self.assertEqual([m["status"] for m in miss], [404])
        # every number-valued field of every line is a JSON number, never a numeric string
        for ev in events:
            for k, v in ev.items():
                if k in ("ts", "request_id", "path", "params", "listen", "base_url", "job", "kid", "message", "issuer"):
                    continue
                self.assertFalse(isinstance(v, str) and re.fullmatch(r"-?\d+", v), (k, v, ev))

    def test_request_lines_switch_off(self):
        with Server(config={"log_requests": False}) as s:
            for _ in range(3):
                self.assertEqual(s.request("GET", "/Patient").status, 200)
            s.stop()
            events = log_events(s.read_log())
        self.assertTrue(any(e["event"] == "server.listening" for e in events))
        self.assertEqual([e for e in events if e["event"] == "request"], [])


if __name__ == "__main__":
    unittest.main()

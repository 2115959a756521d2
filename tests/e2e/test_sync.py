"""Edge-to-cloud sync end to end (issue 9) with TWO real edgefhir processes: an edge (auth off,
"sync" section) pushing to an upstream that requires bearer tokens, issued by a REAL OpenID
provider (panva/oidc-provider, tests/oidc/provider.js) through the OAuth 2.0 client credentials
grant.  The upstream pins the provider's public key (sync_common.start_upstream) and grants the client's tokens
write access by their client_id claim (auth.roles_claim + auth.role_permissions).

  1. create, update and delete on the edge appear upstream; `sync status` reports an empty queue
  2. upstream stopped while the edge keeps writing, then restarted: everything arrives, once
     (upstream history has no repeated version), the edge reported the outage meanwhile
  3. edge killed with SIGKILL while pushing, then restarted: nothing lost, nothing twice
  TLS: an https upstream (certificate from tools/gen-certs.sh) is reached with sync.ca_file;
  without it the certificate is refused and nothing is marked pushed

Needs node + npm (tests/oidc); fails without them (never skipped)."""
import http.client
import json
import os
import re
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

from harness import BIN, ROOT, Response, Server, free_port, run_cli
from sync_common import AUD, CLIENT_ID, client_token, start_upstream, wait_for


def strip_meta(res):
    r = dict(res)
    meta = dict(r.get("meta", {}))
    meta.pop("versionId", None)
    meta.pop("lastUpdated", None)
    if meta:
        r["meta"] = meta
    else:
        r.pop("meta", None)
    return r


def patient(pid, family, extra=None):
    p = {"resourceType": "Patient", "id": pid, "name": [{"family": family}]}
    if extra:
        p.update(extra)
    return p


class SyncE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.upstream = Server(config={})
        cls.provider, secret = start_upstream(cls.upstream)
        cls.edge = Server(config={"sync": {
            "upstream": "http://127.0.0.1:%d" % cls.upstream.port,
            "token_url": cls.provider.issuer + "/token", "client_id": CLIENT_ID, "client_secret_file": secret,
            "resource": AUD, "interval_seconds": 1, "batch_size": 20, "max_queue": 10,
            "backoff_initial_seconds": 1, "backoff_max_seconds": 2, "timeout_seconds": 5}})
        cls.edge.start()
        cls._token = None

    @classmethod
    def tearDownClass(cls):
        for s in ("edge", "upstream"):
            if hasattr(cls, s):
                getattr(cls, s).cleanup()
        if hasattr(cls, "provider"):
            cls.provider.stop()

    # ---- helpers ----
    def token(self):
        """An upstream token for the test's own checks (same client, no scope: roles decide)."""
        cls = type(self)
        if not cls._token:
            cls._token = client_token(self.provider)
        return cls._token

    def up(self, method, path, body=None):
        return self.upstream.request(method, path, body, token=self.token())

    def edge_write(self, method, path, body=None):
        r = self.edge.request(method, path, body)
        self.assertIn(r.status, (200, 201, 204), r)
        return r

    def status(self):
        p = self.edge.cli("sync", "status", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout.decode())

    def health_sync(self):
        r = self.edge.request("GET", "/health")
        self.assertIn(r.status, (200, 503), r)
        h = r.json()
        self.assertIn("sync:queue", h.get("checks", {}), "/health has no sync check: %s" % h)
        return h["status"], h["checks"]["sync:queue"][0]

    def wait_synced(self, timeout=30):
        deadline = time.time() + timeout
        while True:
            s = self.status()
            if s["queue_length"] == 0 and s["pushed_seq"] == s["newest_seq"]:
                return s
            if time.time() > deadline:
                raise AssertionError("the edge's sync queue did not drain in %ss: %s\nedge log:\n%s" % (
                    timeout, json.dumps(s), self.edge.read_log()[-3000:]))
            time.sleep(0.1)

    def assert_same_upstream(self, type_, id_):
        """Upstream current = edge current (or both deleted); upstream history has no version repeating
        its predecessor (a replay would have created one)."""
        e = self.edge.request("GET", "/%s/%s" % (type_, id_))
        u = self.up("GET", "/%s/%s" % (type_, id_))
        if e.status == 410:
            # 404: created and deleted within one push, so only the deletion was sent.
            self.assertIn(u.status, (404, 410), "%s/%s deleted on the edge but upstream says %s" % (type_, id_, u))
        else:
            self.assertEqual(e.status, 200, e)
            self.assertEqual(u.status, 200, "%s/%s missing upstream: %s" % (type_, id_, u))
            self.assertEqual(strip_meta(u.json()), strip_meta(e.json()))
        h = self.up("GET", "/%s/%s/_history?_count=100" % (type_, id_))
        if u.status == 404:
            return 0
        self.assertEqual(h.status, 200, h)
        entries = h.json().get("entry", [])
        bodies = [strip_meta(x["resource"]) if "resource" in x else None for x in reversed(entries)]
        for a, b in zip(bodies, bodies[1:]):
            self.assertNotEqual(a, b, "%s/%s has a repeated version upstream: %s" % (type_, id_, bodies))
        eh = self.edge.request("GET", "/%s/%s/_history?_count=100" % (type_, id_))
        self.assertLessEqual(len(entries), len(eh.json().get("entry", [])),
                             "%s/%s has more versions upstream than on the edge" % (type_, id_))
        return len(entries)

    # ---- tests (run in this order) ----
    def test_1_create_update_delete_arrive(self):
        self.assertEqual(self.up("GET", "/Patient/s1").status, 404)
        created = self.edge_write("POST", "/Patient", {"resourceType": "Patient", "name": [{"family": "Posted"}]})
        new_id = created.json()["id"]
        self.edge_write("PUT", "/Patient/s1", patient("s1", "One"))
        self.edge_write("PUT", "/Observation/o1", {"resourceType": "Observation", "id": "o1", "status": "final",
                                                   "code": {"text": "weight"},
                                                   "valueQuantity": {"value": 72.50, "unit": "kg"}})
        self.edge_write("PUT", "/Observation/o2", {"resourceType": "Observation", "id": "o2", "status": "final",
                                                   "code": {"text": "temp"}})
        self.edge_write("DELETE", "/Observation/o2")  # created and deleted before any push: nothing to send
        self.wait_synced()
        self.assertEqual(self.up("GET", "/Observation/o1").json()["valueQuantity"]["value"], 72.50)
        self.edge_write("PUT", "/Patient/s1", patient("s1", "One", {"gender": "female"}))  # update after a push
        self.edge_write("DELETE", "/Observation/o1")  # delete after a push
        self.wait_synced()
        self.assertEqual(self.up("GET", "/Patient/%s" % new_id).json()["name"][0]["family"], "Posted")
        u = self.up("GET", "/Patient/s1").json()
        self.assertEqual(u["gender"], "female")
        self.assertEqual(u["meta"]["versionId"], "2")
        self.assertEqual(self.up("GET", "/Observation/o1").status, 410)
        self.assertEqual(self.up("GET", "/Observation/o2").status, 404)
        for t, i in (("Patient", new_id), ("Patient", "s1"), ("Observation", "o1"), ("Observation", "o2")):
            self.assert_same_upstream(t, i)
        s = self.status()
        self.assertEqual(s["upstream"], "http://127.0.0.1:%d" % self.upstream.port)
        self.assertIsNotNone(s["last_success"])
        self.assertEqual(s["conflicts"], 0)
        self.assertEqual(s["health"], "pass")
        overall, check = self.health_sync()
        self.assertEqual((overall, check["status"], check["observedValue"]), ("pass", "pass", 0))
        text = self.edge.cli("sync", "status").stdout.decode()
        self.assertIn("queue:          0 changes", text)
        # The upstream refuses the same write without a token: it really required one.
        self.assertEqual(self.upstream.request("PUT", "/Patient/s1", patient("s1", "x")).status, 401)

    def test_2_upstream_outage_then_everything_once(self):
        self.upstream.stop()
        ids = ["off%d" % i for i in range(12)]
        for i, pid in enumerate(ids):
            self.edge_write("PUT", "/Patient/" + pid, patient(pid, "Offline%d" % i))
        for pid in ids[:5]:
            self.edge_write("PUT", "/Patient/" + pid, patient(pid, "Changed", {"active": True}))
        for pid in ids[10:]:
            self.edge_write("DELETE", "/Patient/" + pid)
        s = wait_for(lambda: (lambda s: s if s["last_error"] and s["consecutive_failures"] >= 1 else None)(self.status()),
                     15, "the edge to report the outage")
        self.assertGreater(s["queue_length"], 0)
        self.assertIsNotNone(s["oldest_unsent"])
        self.assertIn("connection", s["last_error"])
        # 19 changes queued, above max_queue 10: a clear warning (still HTTP 200: the edge serves).
        self.assertTrue(s["over_cap"])
        overall, check = self.health_sync()
        self.assertEqual((overall, check["status"]), ("warn", "warn"))
        self.assertIn("max_queue 10", check["output"])
        p = self.edge.cli("sync", "now")
        self.assertEqual(p.returncode, 1, "sync now must fail while the upstream is down")
        self.assertIn(b"connection", p.stderr)
        self.upstream.start()
        self.wait_synced(timeout=30)
        for pid in ids:
            self.assert_same_upstream("Patient", pid)
        self.assertEqual(self.up("GET", "/Patient/off0").json()["name"][0]["family"], "Changed")
        self.assertEqual(self.up("GET", "/Patient/off11").status, 404)  # created and deleted while offline
        self.assertEqual(self.status()["consecutive_failures"], 0)
        self.assertEqual(self.health_sync()[0], "pass")

    def test_3_edge_killed_mid_push_nothing_lost_nothing_twice(self):
        stop = threading.Event()
        acked = []

        def writer():
            i = 0
            while not stop.is_set() and i < 20000:  # writing until the kill: changes are always in flight
                pid = "k%d" % i
                try:
                    r = self.edge.request("PUT", "/Patient/" + pid, patient(pid, "Kill%d" % i), timeout=5)
                    if r.status in (200, 201):
                        acked.append(pid)
                    if i % 3 == 0:
                        r = self.edge.request("PUT", "/Patient/" + pid, patient(pid, "Kill%d" % i, {"active": True}),
                                              timeout=5)
                except OSError:
                    return
                i += 1

        t = threading.Thread(target=writer)
        t.start()
        def backlog():
            # /metrics' queue length while the edge runs: the kill must find changes unsent, so
            # it waits (on a loaded machine the pusher can catch up with the writer) for a
            # backlog the writer, still writing, cannot lose in the moment before the kill.
            r = self.edge.request("GET", "/metrics")
            m = re.search(r"^edgefhir_sync_queue_length (\d+)", r.body.decode(), re.M) if r.status == 200 else None
            return int(m.group(1)) if m else 0

        try:
            wait_for(lambda: self.up("GET", "/Patient/k40").status == 200, 30, "the push to be under way")
            wait_for(lambda: backlog() >= 5, 30, "changes waiting to be pushed")
        finally:
            self.edge.proc.send_signal(signal.SIGKILL)
            self.edge.proc.wait(10)
            stop.set()
            t.join(10)
        self.edge.stop()
        self.assertGreater(len(acked), 40)
        down = self.status()  # read from the database while the edge is down
        self.assertGreater(down["queue_length"], 0, "the kill should leave changes unsent: %s" % down)
        self.assertLess(down["pushed_seq"], down["newest_seq"])
        self.edge.start()
        self.wait_synced(timeout=40)
        # Every change the edge committed (acknowledged or not) is upstream exactly once.
        n = 0
        for i in range(len(acked) + 5):
            pid = "k%d" % i
            if self.edge.request("GET", "/Patient/" + pid).status == 404:
                self.assertNotIn(pid, acked)
                self.assertEqual(self.up("GET", "/Patient/" + pid).status, 404)
                continue
            versions = self.assert_same_upstream("Patient", pid)
            self.assertLessEqual(versions, 2 if i % 3 == 0 else 1)
            n += 1
        self.assertGreaterEqual(n, len(acked))
        s = self.status()
        self.assertEqual(s["conflicts"], 0)
        self.assertEqual(s["rejected"], 0)


class TlsServer(Server):
    """An edgefhir serving https with a development CA's certificate."""

    def __init__(self, certdir, **kw):
        super().__init__(**kw)
        self.ca = os.path.join(certdir, "ca.crt")
        self.config["tls"] = {"cert": os.path.join(certdir, "server.crt"), "key": os.path.join(certdir, "server.key")}

    def request(self, method, path, body=None, headers=None, timeout=30, token=None, raw=False):
        conn = http.client.HTTPSConnection("localhost", self.port, timeout=timeout,
                                           context=ssl.create_default_context(cafile=self.ca))
        h = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h["Content-Type"] = "application/fhir+json"
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()


class SyncTlsE2E(unittest.TestCase):
    def test_https_upstream_needs_a_trusted_certificate(self):
        certs = tempfile.mkdtemp(prefix="edgefhir-sync-certs-")
        g = subprocess.run(["sh", os.path.join(ROOT, "tools", "gen-certs.sh"), certs], capture_output=True, timeout=60)
        self.assertEqual(g.returncode, 0, g.stderr)
        up = TlsServer(certs)
        up.start()
        edge = Server(config={"sync": {"upstream": "https://localhost:%d" % up.port, "bundle": "none",
                                       "interval_seconds": 1, "backoff_initial_seconds": 1, "backoff_max_seconds": 1,
                                       "timeout_seconds": 5}})
        try:
            edge.config["sync"]["enabled"] = False  # first: only `sync now`, without the CA
            edge.start()
            edge.config["sync"]["enabled"] = True
            p = edge.cli("sync", "now")  # enables sync: changes from now on are pushed
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(edge.request("PUT", "/Patient/tls1", patient("tls1", "Secure")).status, 201)
            p = edge.cli("sync", "now")
            self.assertEqual(p.returncode, 1, p.stdout)
            self.assertIn(b"certificate verification failed", p.stderr)
            self.assertEqual(up.request("GET", "/Patient/tls1").status, 404)
            st = json.loads(edge.cli("sync", "status", "--json").stdout.decode())
            self.assertEqual(st["queue_length"], 1)
            # With the development CA as sync.ca_file the same push goes through.
            edge.config["sync"]["ca_file"] = up.ca
            p = edge.cli("sync", "now")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(up.request("GET", "/Patient/tls1").json()["name"][0]["family"], "Secure")
            st = json.loads(edge.cli("sync", "status", "--json").stdout.decode())
            self.assertEqual(st["queue_length"], 0)
        finally:
            edge.cleanup()
            up.cleanup()
            subprocess.run(["rm", "-rf", certs])


if __name__ == "__main__":
    unittest.main()

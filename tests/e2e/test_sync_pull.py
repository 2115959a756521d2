"""Two-way sync, pull side (issue 22), with real edgefhir processes: an upstream that requires
bearer tokens from a REAL OpenID provider (tests/oidc/provider.js, client credentials) and edges
(auth off) whose "sync" section pushes local changes and pulls `sync.pull` searches.

  1. upstream create / update / delete of a matching Patient arrive at the edge within the
     interval; a non-matching Patient does not
  2. a pulled resource changed on the edge reaches the upstream once (If-Match of the pulled
     version), with no echo: no second upstream version, no new edge version after the next pull
  3. the edge killed (SIGKILL) in the middle of a paged download resumes after a restart: every
     resource arrives, each exactly once (one local version each)
  4. the uplink down (upstream stopped, changed offline with `edgefhir import`), then back: all
     changes arrive, /health warned about the stale pull meanwhile
  5. the same resource changed on both sides: edge-wins, upstream-wins, skip-and-report and manual
     (with `sync conflicts`, /metrics and `sync resolve --keep local|upstream`) each give their
     documented outcome, and no local version is lost (the edge's history keeps it)
  6. an upstream resource the edge's validation.on_write strict refuses is recorded as a refused
     change (direction pull) and passed over; the rest of the page arrives

Needs node + npm (tests/oidc); fails without them (never skipped)."""
import json
import os
import signal
import tempfile
import time
import unittest
import urllib.parse

from harness import Server
from sync_common import AUD, CLIENT_ID, client_token, start_upstream, wait_for

ORG = "Organization/clinic-1"


def patient(pid, family, org=ORG, extra=None):
    p = {"resourceType": "Patient", "id": pid, "name": [{"family": family}],
         "managingOrganization": {"reference": org}}
    if extra:
        p.update(extra)
    return p


class PullE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # The upstream stores what it is sent with warnings only (validation.on_write warn), so it can
        # hold a resource the edge's strict write check refuses (test 6).
        cls.upstream = Server(config={"validation": {"on_write": "warn"}})
        cls.provider, cls.secret = start_upstream(cls.upstream)
        cls._token = None
        cls.edges = []

    @classmethod
    def tearDownClass(cls):
        for e in getattr(cls, "edges", []):
            e.cleanup()
        if hasattr(cls, "upstream"):
            cls.upstream.cleanup()
        if hasattr(cls, "provider"):
            cls.provider.stop()

    # ---- helpers ----
    def token(self):
        cls = type(self)
        if not cls._token:
            cls._token = client_token(self.provider)
        return cls._token

    def up(self, method, path, body=None):
        r = self.upstream.request(method, path, body, token=self.token())
        if method != "GET":
            self.assertIn(r.status, (200, 201, 204), r)
        return r

    def make_edge(self, search, policy="edge-wins", pull_interval=1, push_interval=1, **extra):
        cfg = {"upstream": "http://127.0.0.1:%d" % self.upstream.port,
               "token_url": self.provider.issuer + "/token", "client_id": CLIENT_ID,
               "client_secret_file": self.secret, "resource": AUD, "interval_seconds": push_interval,
               "conflict_policy": policy, "backoff_initial_seconds": 1, "backoff_max_seconds": 2,
               "timeout_seconds": 5, "pull": [{"search": search, "interval_seconds": pull_interval}]}
        cfg.update(extra)
        e = Server(config={"sync": cfg})
        type(self).edges.append(e)
        return e.start()

    def status(self, edge):
        p = edge.cli("sync", "status", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout.decode())

    def edge_family(self, edge, ref):
        r = edge.request("GET", "/" + ref)
        if r.status != 200:
            return r.status
        return r.json()["name"][0]["family"]

    def versions(self, server, ref, token=None):
        r = server.request("GET", "/" + ref + "/_history", token=token)
        self.assertEqual(r.status, 200, r)
        return [e["resource"]["meta"]["versionId"] if "resource" in e else "deleted"
                for e in r.json().get("entry", [])]

    # ---- tests ----
    def test_1_create_update_delete_arrive(self):
        self.up("PUT", "/Patient/a1", patient("a1", "Alpha"))
        self.up("PUT", "/Patient/a2", patient("a2", "Other", org="Organization/clinic-2"))
        edge = self.make_edge("Patient?organization=" + ORG)
        wait_for(lambda: self.edge_family(edge, "Patient/a1") == "Alpha", 15, "the create to arrive")
        self.up("PUT", "/Patient/a1", patient("a1", "Alpha2"))
        wait_for(lambda: self.edge_family(edge, "Patient/a1") == "Alpha2", 15, "the update to arrive")
        self.up("DELETE", "/Patient/a1")
        wait_for(lambda: self.edge_family(edge, "Patient/a1") == 410, 15, "the deletion to arrive")
        self.assertEqual(edge.request("GET", "/Patient/a2").status, 404, "a non-matching resource was pulled")
        # Pulled versions are not pushed back: the upstream's history has exactly its own three.
        self.assertEqual(len(self.versions(self.upstream, "Patient/a1", self.token())), 3)
        s = self.status(edge)
        self.assertEqual(len(s["pull"]), 1)
        q = s["pull"][0]
        self.assertIsNotNone(q["last_success"], q)
        self.assertIsNone(q["last_error"], q)
        self.assertGreaterEqual(q["received_total"], 2, q)
        self.assertEqual(q["deleted_total"], 1, q)
        self.assertTrue(q["full_download_done"], q)
        self.assertEqual(s["queue_length"], 0, s)
        h = edge.request("GET", "/health").json()
        self.assertEqual(h["checks"]["sync:pull"][0]["status"], "pass", h)
        m = edge.request("GET", "/metrics").body.decode()
        self.assertIn("edgefhir_sync_pull_deleted_total 1", m)

    def test_2_local_change_pushed_once_no_echo(self):
        self.up("PUT", "/Patient/e1", patient("e1", "Echo"))
        edge = self.make_edge("Patient?_id=e1")
        wait_for(lambda: self.edge_family(edge, "Patient/e1") == "Echo", 15, "the pull")
        r = edge.request("PUT", "/Patient/e1", patient("e1", "EchoLocal"))
        self.assertEqual(r.status, 200, r)
        wait_for(lambda: self.up("GET", "/Patient/e1").json()["name"][0]["family"] == "EchoLocal", 15,
                 "the local change to reach the upstream")
        up_versions = self.versions(self.upstream, "Patient/e1", self.token())
        self.assertEqual(up_versions, ["2", "1"], "one upstream version for the local change")
        # Several pull intervals later: no echo (no third edge version), no third upstream version.
        before = self.status(edge)["pull"][0]["last_success"]
        wait_for(lambda: self.status(edge)["pull"][0]["last_success"] != before, 15, "another pull")
        time.sleep(2.5)
        self.assertEqual(self.versions(edge, "Patient/e1"), ["2", "1"])
        self.assertEqual(self.versions(self.upstream, "Patient/e1", self.token()), ["2", "1"])
        self.assertEqual(self.status(edge)["conflicts"], 0)

    def test_3_kill_mid_download_resumes_without_gaps_or_duplicates(self):
        n = 1200
        for start in range(0, n, 300):
            entries = [{"resource": patient("k%d" % i, "Kill%d" % i, org="Organization/kill"),
                        "request": {"method": "PUT", "url": "Patient/k%d" % i}} for i in range(start, start + 300)]
            self.up("POST", "/", {"resourceType": "Bundle", "type": "transaction", "entry": entries})
        edge = self.make_edge("Patient?organization=Organization/kill", pull_page_size=20)

        def partial():
            q = self.status(edge)["pull"][0]
            return 0 < q["received_total"] < n and q["received_total"]
        wait_for(partial, 30, "the download to be under way", interval=0.02)
        edge.proc.send_signal(signal.SIGKILL)
        edge.proc.wait(10)
        edge.stop()
        got = self.status(edge)["pull"][0]["received_total"]
        self.assertLess(got, n, "the kill should interrupt the download")
        edge.start()
        wait_for(lambda: self.status(edge)["pull"][0]["full_download_done"], 60, "the download to finish")
        r = edge.request("GET", "/Patient?organization=Organization/kill&_summary=count")
        self.assertEqual(r.json()["total"], n)
        # No duplicates: every resource has exactly one local version (re-read pages are no-ops).
        seen, path = set(), "/Patient?organization=Organization/kill&_count=500"
        while path:
            page = edge.request("GET", path).json()
            for e in page.get("entry", []):
                self.assertEqual(e["resource"]["meta"]["versionId"], "1", e["resource"]["id"])
                seen.add(e["resource"]["id"])
            nxt = [l["url"] for l in page.get("link", []) if l["relation"] == "next"]
            path = urllib.parse.urlsplit(nxt[0]) if nxt else None
            path = (path.path + "?" + path.query) if path else None
        self.assertEqual(seen, {"k%d" % i for i in range(n)})
        self.assertEqual(self.status(edge)["pull"][0]["received_total"], n)

    def test_4_uplink_down_then_back(self):
        self.up("PUT", "/Patient/u0", patient("u0", "Up0", org="Organization/uplink"))
        edge = self.make_edge("Patient?organization=Organization/uplink", pull_max_age_seconds=2)
        wait_for(lambda: self.edge_family(edge, "Patient/u0") == "Up0", 15, "the first pull")
        self.upstream.stop()
        try:
            wait_for(lambda: self.status(edge)["pull"][0]["last_error"], 15, "a failed pull")
            h = wait_for(lambda: (lambda j: j["checks"]["sync:pull"][0]["status"] == "warn" and j)(
                edge.request("GET", "/health").json()), 15, "/health to warn")
            self.assertIn("has not succeeded", h["checks"]["sync:pull"][0]["output"])
            # Changed upstream while the edge cannot reach it (offline import into its database).
            d = tempfile.mkdtemp()
            with open(os.path.join(d, "u.ndjson"), "w") as f:
                for i in range(1, 6):
                    f.write(json.dumps(patient("u%d" % i, "Up%d" % i, org="Organization/uplink")) + "\n")
                f.write(json.dumps(patient("u0", "Up0b", org="Organization/uplink")) + "\n")
            p = self.upstream.cli("import", "--no-progress", d)
            self.assertEqual(p.returncode, 0, p.stderr)
        finally:
            self.upstream.start()
        for i in range(1, 6):
            wait_for(lambda: self.edge_family(edge, "Patient/u%d" % i) == "Up%d" % i, 20, "u%d to arrive" % i)
        wait_for(lambda: self.edge_family(edge, "Patient/u0") == "Up0b", 20, "the update to arrive")
        wait_for(lambda: edge.request("GET", "/health").json()["checks"]["sync:pull"][0]["status"] == "pass", 15,
                 "/health to recover")

    # ---- conflicts: both sides change the same resource between two syncs ----
    def conflict_setup(self, pid, policy):
        self.up("PUT", "/Patient/" + pid, patient(pid, "Base"))
        # Intervals of an hour: pull and push run once at start, then only through `sync now`.
        edge = self.make_edge("Patient?_id=" + pid, policy=policy, pull_interval=3600, push_interval=3600)
        wait_for(lambda: self.edge_family(edge, "Patient/" + pid) == "Base", 15, "the first pull")
        self.up("PUT", "/Patient/" + pid, patient(pid, "Upstream"))
        r = edge.request("PUT", "/Patient/" + pid, patient(pid, "Edge"))
        self.assertEqual(r.status, 200, r)
        p = edge.cli("sync", "now")
        return edge, p

    def up_family(self, pid):
        return self.up("GET", "/Patient/" + pid).json()["name"][0]["family"]

    def conflicts(self, edge):
        p = edge.cli("sync", "conflicts", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout.decode())

    def test_5a_edge_wins(self):
        edge, p = self.conflict_setup("cw", "edge-wins")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(self.up_family("cw"), "Edge")
        self.assertEqual(self.edge_family(edge, "Patient/cw"), "Edge")
        # The overwritten upstream version stays in the upstream's history.
        self.assertEqual(self.versions(self.upstream, "Patient/cw", self.token()), ["3", "2", "1"])
        c = self.conflicts(edge)
        self.assertTrue(any(k["direction"] == "pull" and k["resolution"] == "kept-local" for k in c), c)

    def test_5b_upstream_wins(self):
        edge, p = self.conflict_setup("cu", "upstream-wins")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(self.edge_family(edge, "Patient/cu"), "Upstream")
        self.assertEqual(self.up_family("cu"), "Upstream")
        self.assertEqual(self.versions(self.upstream, "Patient/cu", self.token()), ["2", "1"], "nothing pushed")
        # The overwritten local version stays in the edge's history.
        r = edge.request("GET", "/Patient/cu/_history/2")
        self.assertEqual(r.json()["name"][0]["family"], "Edge")
        c = self.conflicts(edge)
        self.assertTrue(any(k["resolution"] == "kept-upstream" for k in c), c)

    def test_5c_skip_and_report(self):
        edge, p = self.conflict_setup("cs", "skip-and-report")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(self.edge_family(edge, "Patient/cs"), "Edge")
        self.assertEqual(self.up_family("cs"), "Upstream")
        c = self.conflicts(edge)
        self.assertTrue(any(k["resolution"] == "skipped" and k["direction"] == "pull" for k in c), c)
        self.assertGreaterEqual(self.status(edge)["conflicts"], 1)

    def test_5d_manual_keep_upstream_then_keep_local(self):
        edge, p = self.conflict_setup("cm", "manual")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(self.edge_family(edge, "Patient/cm"), "Edge")
        self.assertEqual(self.up_family("cm"), "Upstream")
        c = [k for k in self.conflicts(edge) if k["resolution"] == "pending"]
        self.assertEqual(len(c), 1, self.conflicts(edge))
        m = edge.request("GET", "/metrics").body.decode()
        self.assertIn("edgefhir_sync_conflicts_pending 1", m)
        p = edge.cli("sync", "resolve", str(c[0]["id"]), "--keep", "upstream")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(self.edge_family(edge, "Patient/cm"), "Upstream")
        self.assertEqual(edge.request("GET", "/Patient/cm/_history/2").json()["name"][0]["family"], "Edge")
        p = edge.cli("sync", "resolve", str(c[0]["id"]), "--keep", "upstream")
        self.assertNotEqual(p.returncode, 0, "a resolved conflict cannot be resolved twice")
        # Second round, decided for the local side.
        self.up("PUT", "/Patient/cm", patient("cm", "Upstream2"))
        r = edge.request("PUT", "/Patient/cm", patient("cm", "Edge2"))
        self.assertEqual(r.status, 200, r)
        p = edge.cli("sync", "now")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        c = [k for k in self.conflicts(edge) if k["resolution"] == "pending"]
        self.assertEqual(len(c), 1, self.conflicts(edge))
        self.assertEqual(self.up_family("cm"), "Upstream2")
        p = edge.cli("sync", "resolve", str(c[0]["id"]), "--keep", "local")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(self.up_family("cm"), "Edge2")
        self.assertEqual(self.edge_family(edge, "Patient/cm"), "Edge2")
        self.assertEqual(self.status(edge)["conflicts_pending"], 0)

    def test_6_invalid_upstream_resource_is_refused_and_passed_over(self):
        self.up("PUT", "/Patient/v1", patient("v1", "Valid1", org="Organization/val"))
        self.up("PUT", "/Patient/v2", patient("v2", "Bad", org="Organization/val", extra={"gender": "robot"}))
        self.up("PUT", "/Patient/v3", patient("v3", "Valid3", org="Organization/val"))
        edge = self.make_edge("Patient?organization=Organization/val")
        wait_for(lambda: self.edge_family(edge, "Patient/v3") == "Valid3", 15, "the valid resources to arrive")
        self.assertEqual(self.edge_family(edge, "Patient/v1"), "Valid1")
        self.assertEqual(edge.request("GET", "/Patient/v2").status, 404)
        c = wait_for(lambda: [k for k in self.conflicts(edge) if k["kind"] == "rejected"], 10, "the refusal to be recorded")
        self.assertEqual(len(c), 1, c)
        self.assertEqual(c[0]["resource"], "Patient/v2")
        self.assertEqual(c[0]["direction"], "pull")
        self.assertIn("gender", c[0]["detail"])
        time.sleep(2.5)  # later runs re-read it in the overlap window: still one report
        self.assertEqual(len([k for k in self.conflicts(edge) if k["kind"] == "rejected"]), 1)


if __name__ == "__main__":
    unittest.main()

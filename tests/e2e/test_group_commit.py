"""Group commit (store/db.h) against the real binary: many clients writing at once share
SQLite transactions (checked in /metrics), and each write still behaves as if it had its own:
concurrent conditional creates of the same identifier create exactly one resource (each
sees the writes before it in its group), concurrent updates of one resource get one version
each in commit order, a failing write in a group gets its own error and leaves no trace, a
transaction Bundle stays all or nothing.  The server runs with durability power (an fsync per
COMMIT) so that commits are slow enough for groups to form; writer.group_commit false is
the baseline of one transaction per write."""
import json
import re
import threading
import unittest

from harness import Server, run_cli

WORKERS = 12


def metric(s, name):
    text = s.request("GET", "/metrics").body.decode()
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


def grouped_transactions(s):
    """Transactions that held more than one write so far."""
    return metric(s, "edgefhir_database_write_group_size_count") - \
        metric(s, 'edgefhir_database_write_group_size_bucket{le="1"}')


def together(n, fn):
    """Runs fn(i) on n threads released at once; returns their results in order."""
    out = [None] * n
    gate = threading.Barrier(n)

    def run(i):
        gate.wait()
        out[i] = fn(i)
    ths = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(60)
    return out


class GroupCommitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server(config={"durability": "power", "log_level": "warn"}).start()

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def test_concurrent_writes_share_transactions_and_keep_their_own_answers(self):
        s = self.s
        before = grouped_transactions(s)
        rounds = 0
        # Rounds of WORKERS simultaneous writes until some transactions held several (bounded).
        while grouped_transactions(s) == before and rounds < 20:
            rounds += 1
            sys_ = "urn:gc:%d" % rounds

            def one(i):
                if i % 4 == 3:  # a write failing inside its transaction: If-Match on a version that is not there
                    r = s.request("PUT", "/Patient/gc-bad-%d-%d" % (rounds, i),
                                  {"resourceType": "Patient", "id": "gc-bad-%d-%d" % (rounds, i)},
                                  headers={"If-Match": 'W/"5"'})
                    return ("bad", r.status, r.json())
                r = s.request("POST", "/Patient", {"resourceType": "Patient",
                                                   "identifier": [{"system": sys_, "value": str(i)}]},
                              headers={"Prefer": "return=representation"})
                return ("ok", r.status, r.json())
            for kind, status, body in together(WORKERS, one):
                if kind == "bad":
                    self.assertIn(status, (409, 412), body)
                    self.assertEqual(body["resourceType"], "OperationOutcome")
                else:
                    self.assertEqual(status, 201, body)
            for i in range(WORKERS):
                r = s.request("GET", "/Patient?identifier=%s|%d" % (sys_, i))
                self.assertEqual(len(r.json().get("entry", [])), 0 if i % 4 == 3 else 1, i)
                if i % 4 == 3:
                    self.assertEqual(s.request("GET", "/Patient/gc-bad-%d-%d" % (rounds, i)).status, 404)
        self.assertGreater(grouped_transactions(s), before,
                           "%d rounds of %d simultaneous writes never shared a transaction" % (rounds, WORKERS))

    def test_concurrent_conditional_creates_of_one_identifier_create_one_resource(self):
        s = self.s
        for k in range(3):
            ident = "urn:gc:cond|same-%d" % k

            def one(i):
                r = s.request("POST", "/Patient", {"resourceType": "Patient",
                                                   "identifier": [{"system": "urn:gc:cond", "value": "same-%d" % k}],
                                                   "name": [{"family": "Writer%d" % i}]},
                              headers={"If-None-Exist": "identifier=" + ident})
                return r.status, r.headers.get("location", "")
            res = together(WORKERS, one)
            self.assertEqual(sorted(st for st, _ in res).count(201), 1, res)
            self.assertTrue(all(st in (200, 201) for st, _ in res), res)
            ids = {re.search(r"Patient/([^/]+)", loc).group(1) for _, loc in res if loc}
            self.assertEqual(len(ids), 1, res)
            found = s.request("GET", "/Patient?identifier=" + ident).json()
            self.assertEqual(len(found.get("entry", [])), 1)

    def test_concurrent_updates_get_one_version_each_in_commit_order(self):
        s = self.s
        self.assertEqual(s.request("PUT", "/Patient/gc-upd", {"resourceType": "Patient", "id": "gc-upd"}).status, 201)

        def one(i):
            r = s.request("PUT", "/Patient/gc-upd", {"resourceType": "Patient", "id": "gc-upd",
                                                     "name": [{"family": "V%d" % i}]})
            return r.status, r.json()
        res = together(WORKERS, one)
        self.assertTrue(all(st == 200 for st, _ in res), res)
        versions = sorted(int(b["meta"]["versionId"]) for _, b in res)
        self.assertEqual(versions, list(range(2, WORKERS + 2)))
        hist = s.request("GET", "/Patient/gc-upd/_history?_count=100").json()
        entries = hist.get("entry", [])
        self.assertEqual(len(entries), WORKERS + 1)
        # newest first, versions strictly decreasing, lastUpdated never increasing
        vs = [int(e["resource"]["meta"]["versionId"]) for e in entries]
        self.assertEqual(vs, sorted(vs, reverse=True))
        lu = [e["resource"]["meta"]["lastUpdated"] for e in entries]
        self.assertEqual(lu, sorted(lu, reverse=True))
        # each acknowledged body is the one stored at its version
        for _, b in res:
            old = s.request("GET", "/Patient/gc-upd/_history/%s" % b["meta"]["versionId"]).json()
            self.assertEqual(old["name"], b["name"])

    def test_transaction_bundles_in_a_group_stay_all_or_nothing(self):
        s = self.s

        def one(i):
            entries = [{"resource": {"resourceType": "Patient", "id": "gc-tx-%d-%d" % (i, j)},
                        "request": {"method": "PUT", "url": "Patient/gc-tx-%d-%d" % (i, j)}} for j in range(3)]
            if i % 3 == 0:  # one failing entry: If-Match on a resource that does not exist
                entries[2]["request"]["ifMatch"] = 'W/"7"'
            r = s.request("POST", "/", {"resourceType": "Bundle", "type": "transaction", "entry": entries})
            return r.status
        res = together(WORKERS, one)
        for i, st in enumerate(res):
            present = [s.request("GET", "/Patient/gc-tx-%d-%d" % (i, j)).status for j in range(3)]
            if i % 3 == 0:
                self.assertNotEqual(st, 200)
                self.assertEqual(present, [404, 404, 404], i)
            else:
                self.assertEqual(st, 200)
                self.assertEqual(present, [200, 200, 200], i)


class GroupCommitConfigTest(unittest.TestCase):
    def test_group_commit_off_is_one_transaction_per_write(self):
        with Server(config={"writer": {"group_commit": False}, "durability": "power", "log_level": "warn"}) as s:
            res = together(WORKERS, lambda i: s.request("POST", "/Patient", {"resourceType": "Patient"}).status)
            self.assertEqual(res, [201] * WORKERS)
            self.assertEqual(grouped_transactions(s), 0)
            self.assertGreaterEqual(metric(s, "edgefhir_database_write_group_size_count"), WORKERS)

    def test_bad_writer_keys_are_named(self):
        import os
        import tempfile
        d = tempfile.mkdtemp()
        p = os.path.join(d, "c.json")
        for cfg, key in [({"writer": {"group_commit": "yes"}}, b"writer.group_commit"),
                         ({"writer": {"max_group_requests": 0}}, b"writer.max_group_requests"),
                         ({"writer": {"max_group_bytes": 10}}, b"writer.max_group_bytes"),
                         ({"writer": {"commit_delay_us": -1}}, b"writer.commit_delay_us"),
                         ({"writer": {"commit_delay_us": 1e6}}, b"writer.commit_delay_us"),
                         ({"writer": {"group_size": 4}}, b"writer.group_size"),
                         ({"writer": 5}, b"writer")]:
            with open(p, "w") as f:
                json.dump(cfg, f)
            r = run_cli("serve", "--config", p)
            self.assertEqual(r.returncode, 2, cfg)
            self.assertIn(key, r.stderr, cfg)


if __name__ == "__main__":
    unittest.main()

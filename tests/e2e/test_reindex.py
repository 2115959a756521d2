"""`edgefhir reindex` against the real binary on real Synthea patients (tests/data/synthea,
loaded with `edgefhir import`, so a POST entry with fullUrl urn:uuid:X is stored as Type/X).
The search index is damaged directly in SQLite (rows deleted, a stale row added, a stored body
corrupted), searches are shown to be wrong, and reindex must bring back exactly the results
(ids and order) and the row counts from before; expected matches of a few searches are also
computed independently from the JSON so the baseline itself is known to be right."""
import glob
import json
import os
import re
import sqlite3
import threading
import unicodedata
import unittest
import urllib.parse

from harness import SYNTHEA, Server

BUNDLES = sorted(b for b in glob.glob(os.path.join(SYNTHEA, "*.json"))
                 if "Information" not in os.path.basename(b))[:8]
IDX_TABLES = ["idx_string", "idx_token", "idx_date", "idx_number", "idx_reference", "idx_uri"]


def norm(s):
    s = unicodedata.normalize("NFKD", s)
    return " ".join("".join(ch for ch in s if not unicodedata.combining(ch)).lower().split())


def load_entries(paths):
    """(type, id) -> resource as stored by import (urn:uuid:X -> Type/X)."""
    out = {}
    for p in paths:
        with open(p, encoding="utf-8") as f:
            bundle = json.load(f)
        urls = {e["fullUrl"]: "%s/%s" % (e["resource"]["resourceType"], e["fullUrl"].rsplit(":", 1)[1])
                for e in bundle["entry"] if e.get("fullUrl", "").startswith("urn:uuid:")}
        text = json.dumps(bundle)
        for u, ref in urls.items():
            text = text.replace('"%s"' % u, '"%s"' % ref)
        for orig, e in zip(bundle["entry"], json.loads(text)["entry"]):
            r = e["resource"]
            out[(r["resourceType"], orig["fullUrl"].rsplit(":", 1)[1])] = r
    return out


class ReindexTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.res = load_entries(BUNDLES)
        cls.s = Server()
        cls.db = cls.s.config["database"]
        p = cls.s.cli("import", *BUNDLES)
        assert p.returncode == 0, p.stderr
        cls.s.start()
        cls.base = "http://127.0.0.1:%d" % cls.s.port
        cls.queries = cls.pick_queries()

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    @classmethod
    def pick_queries(cls):
        pats = sorted((r for (t, _), r in cls.res.items() if t == "Patient"), key=lambda r: r["id"])
        p0, p1 = pats[0], pats[1]
        fam = p0["name"][0]["family"]
        ident = p1["identifier"][0]
        obs = sorted((r for (t, _), r in cls.res.items() if t == "Observation" and r["subject"]["reference"] == "Patient/" + p0["id"]),
                     key=lambda r: r["effectiveDateTime"])
        code = obs[0]["code"]["coding"][0]
        year = obs[len(obs) // 2]["effectiveDateTime"][:4]
        enc = sorted(r["period"]["start"][:7] for (t, _), r in cls.res.items() if t == "Encounter")
        q = urllib.parse.quote
        return [
            "/Patient?name=" + q(fam),
            "/Patient?identifier=" + q(ident["system"] + "|" + ident["value"]),
            "/Observation?subject=Patient/%s&code=%s" % (p0["id"], q(code["system"] + "|" + code["code"])),
            "/Observation?patient=%s&date=ge%s-01-01&date=lt%d-01-01" % (p0["id"], year, int(year) + 1),
            "/Observation?patient=%s&_include=Observation:subject&_sort=-date" % p0["id"],
            "/Encounter?date=" + enc[len(enc) // 2],
            "/Observation?subject:Patient.name=" + q(fam),
            "/Condition?patient=" + p1["id"],
            "/Immunization?_sort=date,_id",
            "/Observation?code-value-quantity=http://loinc.org|8302-2$gt100",
            "/Patient?_has:Observation:subject:code=http://loinc.org|8302-2",
        ]

    # ---- helpers ----
    def search_all(self, path):
        """Matches (in order) and included resources over every page."""
        ids, inc = [], []
        url = path + ("&" if "?" in path else "?") + "_count=100"
        for _ in range(200):
            r = self.s.request("GET", url)
            self.assertEqual(r.status, 200, "%s: %r" % (url, r))
            b = r.json()
            for e in b.get("entry", []):
                key = e["resource"]["resourceType"] + "/" + e["resource"]["id"]
                (ids if e["search"]["mode"] == "match" else inc).append(key)
            nxt = [l["url"] for l in b.get("link", []) if l["relation"] == "next"]
            if not nxt:
                break
            url = nxt[0][len(self.base):]
        return ids, inc

    def results(self):
        return {q: self.search_all(q) for q in self.queries}

    def sql(self, *stmts):
        con = sqlite3.connect(self.db, timeout=10)
        try:
            out = [con.execute(s, a).fetchall() for s, a in stmts]
            con.commit()
            return out
        finally:
            con.close()

    def counts(self):
        return {t: n[0][0] for t, n in zip(IDX_TABLES, self.sql(*[("SELECT COUNT(*) FROM %s" % t, ()) for t in IDX_TABLES]))}

    def reindex(self, *args, rc=0):
        p = self.s.cli("reindex", *args)
        self.assertEqual(p.returncode, rc, p.stdout + p.stderr)
        return p.stdout.decode(), p.stderr.decode()

    def restart(self):
        self.s.stop()
        self.s.start()

    # ---- tests ----
    def test_baseline_is_right(self):
        """The searches used below give the results computed from the JSON (so the test can fail)."""
        fam = self.queries[0].split("=", 1)[1]
        want = sorted("Patient/" + r["id"] for (t, _), r in self.res.items() if t == "Patient"
                      and any(norm(n.get("family", "")).startswith(norm(urllib.parse.unquote(fam))) for n in r["name"]))
        ids, _ = self.search_all(self.queries[0])
        self.assertEqual(sorted(ids), want)
        m = re.search(r"subject=Patient/([^&]+)&code=([^&]+)", self.queries[2])
        sysc = urllib.parse.unquote(m.group(2)).split("|")
        want = sorted("Observation/" + r["id"] for (t, _), r in self.res.items() if t == "Observation"
                      and r["subject"]["reference"] == "Patient/" + m.group(1)
                      and any(c.get("system") == sysc[0] and c.get("code") == sysc[1] for c in r["code"]["coding"]))
        ids, _ = self.search_all(self.queries[2])
        self.assertEqual(sorted(ids), want)
        self.assertTrue(want)

    def test_full_reindex_restores_index(self):
        before = self.results()
        empty = [q for q, (ids, _) in before.items() if not ids]
        self.assertEqual(empty, [], "every probe search must find something on the loaded data")
        counts = self.counts()
        n_resources = self.sql(("SELECT COUNT(*) FROM resource WHERE deleted=0", ()))[0][0][0]
        self.s.stop()
        self.sql(*[("DELETE FROM %s" % t, ()) for t in IDX_TABLES])
        self.s.start()
        for q in self.queries:
            if "_sort=date,_id" in q:
                continue  # a type search with only a sort still lists every Immunization
            self.assertEqual(self.search_all(q)[0], [], "the index was emptied: " + q)
        self.s.stop()
        # small batches: many commits, batch boundaries inside every resource type
        out, err = self.reindex("--batch", "37", "--no-progress")
        m = re.search(r"reindexed ([\d,]+) resources: ([\d,]+) index rows", out)
        self.assertTrue(m, out)
        self.assertEqual(int(m.group(1).replace(",", "")), n_resources)
        self.assertEqual(int(m.group(2).replace(",", "")), sum(counts.values()))
        self.assertEqual(err, "")
        self.assertEqual(self.counts(), counts)
        self.s.start()
        self.assertEqual(self.results(), before)

    def test_type_reindex_touches_only_that_type(self):
        before = self.results()
        counts = self.counts()
        self.s.stop()
        self.sql(*[("DELETE FROM %s WHERE rid IN (SELECT rid FROM resource WHERE type IN ('Patient','Encounter'))" % t, ())
                   for t in IDX_TABLES])
        obs_rows = self.sql(("SELECT COUNT(*) FROM idx_token WHERE rid IN (SELECT rid FROM resource WHERE type='Observation')", ()))[0][0][0]
        out, _ = self.reindex("--type", "Patient", "--type=Encounter")
        n = self.sql(("SELECT COUNT(*) FROM resource WHERE type IN ('Patient','Encounter') AND deleted=0", ()))[0][0][0]
        self.assertIn("reindexed %d resources of types Encounter,Patient:" % n, out)
        self.assertEqual(self.counts(), counts)
        self.assertEqual(obs_rows, self.sql(("SELECT COUNT(*) FROM idx_token WHERE rid IN (SELECT rid FROM resource WHERE type='Observation')", ()))[0][0][0])
        self.s.start()
        self.assertEqual(self.results(), before)

    def test_stale_rows_removed_and_deleted_resources_not_indexed(self):
        pats = sorted(r["id"] for (t, _), r in self.res.items() if t == "Patient")
        victim = pats[-1]
        fam = [r for (t, i), r in self.res.items() if t == "Patient" and i == victim][0]["name"][0]["family"]
        r = self.s.request("DELETE", "/Patient/" + victim)
        self.assertIn(r.status, (200, 204))
        rid = self.sql(("SELECT rid FROM resource WHERE type='Patient' AND id=?", (victim,)))[0][0][0]
        self.s.stop()
        # a row for a deleted resource and one for no resource at all
        self.sql(("INSERT INTO idx_string(rid, pid, n, norm, exact) SELECT ?, pid, 0, ?, ? FROM search_param WHERE type='Patient' AND code='family'",
                  (rid, norm(fam), fam)),
                 ("INSERT INTO idx_token(rid, pid, n, code) SELECT 987654321, pid, 0, 'x' FROM search_param WHERE type='Patient' AND code='gender'", ()))
        out, _ = self.reindex()
        self.assertIn("removed 2 stale index rows", out)
        self.assertEqual(self.sql(("SELECT COUNT(*) FROM idx_string WHERE rid=?", (rid,)))[0][0][0], 0)
        self.s.start()
        ids, _ = self.search_all("/Patient?family=" + urllib.parse.quote(fam))
        self.assertNotIn("Patient/" + victim, ids)
        # and a second run changes nothing
        out, _ = self.reindex()
        self.assertNotIn("stale", out)

    def test_unparsable_body_is_reported_and_the_rest_done(self):
        r = self.s.request("POST", "/Patient", {"resourceType": "Patient", "name": [{"family": "Brokenbody"}]})
        self.assertEqual(r.status, 201)
        pid = r.json()["id"]
        self.s.stop()
        body = self.sql(("SELECT body FROM resource_version WHERE seq=(SELECT seq FROM resource WHERE type='Patient' AND id=?)", (pid,)))[0][0][0]
        self.sql(("UPDATE resource_version SET body='{\"resourceType\":' WHERE seq=(SELECT seq FROM resource WHERE type='Patient' AND id=?)", (pid,)),
                 ("DELETE FROM idx_string", ()))
        out, err = self.reindex(rc=1)
        self.assertIn("Patient/%s: the stored JSON cannot be parsed" % pid, err)
        self.assertIn("1 failed", out)
        self.assertGreater(self.counts()["idx_string"], 0)
        self.sql(("UPDATE resource_version SET body=? WHERE seq=(SELECT seq FROM resource WHERE type='Patient' AND id=?)", (body, pid)))
        self.reindex()
        self.s.start()
        ids, _ = self.search_all("/Patient?family=brokenbody")
        self.assertEqual(ids, ["Patient/" + pid])

    def test_reindex_while_serving(self):
        """Writes served during a reindex (small batches) are all searchable afterwards."""
        stop = threading.Event()
        made = []

        def writer():
            i = 0
            while not stop.is_set() or i < 20:
                r = self.s.request("POST", "/Patient", {"resourceType": "Patient", "name": [{"family": "Concurrentreindex", "given": ["G%d" % i]}]})
                if r.status == 201:
                    made.append(r.json()["id"])
                i += 1

        t = threading.Thread(target=writer)
        t.start()
        try:
            self.reindex("--batch", "50")
        finally:
            stop.set()
            t.join()
        ids, _ = self.search_all("/Patient?family=concurrentreindex")
        self.assertEqual(sorted(ids), sorted("Patient/" + i for i in made))
        self.assertGreaterEqual(len(made), 20)

    def test_usage_errors(self):
        for args, msg in [(("--type", "Bogus"), "'Bogus' is not an R4 resource type"),
                          (("--batch", "0"), "--batch needs a number"),
                          (("--type",), "--type needs a value"),
                          (("extra",), "unexpected argument 'extra'")]:
            p = self.s.cli("reindex", *args)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn(msg, p.stderr.decode())
        p = self.s.cli("reindex", "--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("usage: edgefhir reindex", p.stdout.decode())


if __name__ == "__main__":
    unittest.main()

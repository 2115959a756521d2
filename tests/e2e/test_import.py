"""`edgefhir import` and `edgefhir export` against the real binary with temporary databases:
all Synthea bundles (expected numbers computed from the files), resuming (a second run writes
nothing), references kept (urn:uuid -> Type/<uuid>), export as NDJSON per type and re-import
of the export, bad files / lines / entries reported by name and line while the rest goes in,
collection and batch Bundles, the progress line on a terminal and the plain summary
otherwise, exit statuses."""
import glob
import json
import os
import pty
import re
import shutil
import sqlite3
import subprocess
import tempfile
import unittest
from collections import Counter, defaultdict

from harness import BIN, ROOT, SYNTHEA, run_cli

SUMMARY = re.compile(r"imported (\d+) resources from (\d+) files?: (\d+) stored, (\d+) unchanged, (\d+) failed")


def summary(p):
    m = SUMMARY.search(p.stdout.decode())
    assert m, (p.stdout, p.stderr)
    n, files, stored, unchanged, failed = map(int, m.groups())
    return {"resources": n, "files": files, "stored": stored, "unchanged": unchanged, "failed": failed}


def read_ndjson(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


IDX_COLUMNS = {"idx_string": "norm, exact", "idx_token": "system, code, text, type_system, type_code",
               "idx_date": "lo, hi", "idx_number": "num, lo, hi, system, code, unit",
               "idx_reference": "ref_type, ref_id, exact, system, code", "idx_uri": "exact"}


def index_rows(db):
    """Every search-index row as (type, id, parameter, composite?, values...), per table, sorted."""
    con = sqlite3.connect(db)
    try:
        return {t: sorted(map(repr, con.execute(
            "SELECT r.type, r.id, p.code, x.grp > 0, %s FROM %s x JOIN resource r ON r.rid = x.rid "
            "JOIN search_param p ON p.pid = x.pid" % (", ".join("x." + c.strip() for c in cols.split(",")), t))))
                for t, cols in IDX_COLUMNS.items()}
    finally:
        con.close()


def strip_meta(r):
    r = dict(r)
    r.pop("meta", None)
    return r


class ImportTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="edgefhir-e2e-import-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def db(self, name="db"):
        return os.path.join(self.tmp, name + ".sqlite")

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text if isinstance(text, str) else json.dumps(text))
        return path

    def export(self, db, name):
        out = os.path.join(self.tmp, name)
        p = run_cli("export", "--database", db, out)
        self.assertEqual(p.returncode, 0, p.stderr)
        return out, p

    def test_synthea_import_resume_export_reimport(self):
        files = sorted(glob.glob(os.path.join(SYNTHEA, "*.json")))
        total = 0
        unique = {}  # (type, uuid) -> resource as in the file
        obs_subject = {}  # Observation uuid -> Patient uuid (from the urn:uuid references)
        for f in files:
            with open(f) as fh:
                doc = json.load(fh)
            for e in doc["entry"]:
                total += 1
                r = e["resource"]
                u = e["fullUrl"][len("urn:uuid:"):]
                unique.setdefault((r["resourceType"], u), r)
                if r["resourceType"] == "Observation":
                    obs_subject[u] = r["subject"]["reference"][len("urn:uuid:"):]
        per_type = Counter(t for t, _ in unique)

        p = run_cli("import", "--database", self.db(), SYNTHEA, timeout=600)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        s = summary(p)
        self.assertEqual(s["files"], len(files))
        self.assertEqual(s["resources"], total)
        self.assertEqual(s["stored"], len(unique))  # the same entity in two bundles is stored once
        self.assertEqual(s["unchanged"], total - len(unique))
        self.assertEqual(s["failed"], 0)
        # not a terminal: no progress line, no control characters
        self.assertNotIn(b"\r", p.stderr)
        self.assertNotIn(b"ETA", p.stderr)

        # The bundles went through the prepared path (store on one thread, parse and index on
        # another, service/bundle_processor.h); its index rows are the ones a reindex (the
        # general indexer) computes from the stored resources, row for row.
        before = index_rows(self.db())
        self.assertGreater(sum(len(v) for v in before.values()), 10 * len(unique))
        p = run_cli("reindex", "--database", self.db(), "--no-progress", timeout=600)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        self.assertEqual(index_rows(self.db()), before)

        # resume: everything is already in, nothing is written
        p = run_cli("import", "--database", self.db(), SYNTHEA, timeout=600)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        s = summary(p)
        self.assertEqual((s["stored"], s["unchanged"], s["failed"]), (0, total, 0))

        out, p = self.export(self.db(), "export")
        self.assertIn("exported %d resources of %d types" % (len(unique), len(per_type)), p.stdout.decode())
        self.assertEqual(sorted(os.listdir(out)), sorted(t + ".ndjson" for t in per_type))
        exported = {}
        for t, n in per_type.items():
            rows = read_ndjson(os.path.join(out, t + ".ndjson"))
            self.assertEqual(len(rows), n, t)
            for r in rows:
                self.assertEqual(r["resourceType"], t)
                exported[(t, r["id"])] = r
        # ids are the urn:uuid of the entries, references point at them
        self.assertEqual(set(exported), set(unique))
        for oid, pid in obs_subject.items():
            self.assertEqual(exported[("Observation", oid)]["subject"]["reference"], "Patient/" + pid)
        for (t, i), r in exported.items():
            self.assertNotIn("urn:uuid:", json.dumps(r), (t, i))
        pat = exported[("Patient", next(i for t, i in unique if t == "Patient"))]
        self.assertEqual(pat["meta"]["versionId"], "1")

        # the export imports into a fresh database and exports to the same content
        p = run_cli("import", "--database", self.db("copy"), out, timeout=600)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        s = summary(p)
        self.assertEqual((s["resources"], s["stored"], s["failed"]), (len(unique), len(unique), 0))
        out2, _ = self.export(self.db("copy"), "export2")
        for t in per_type:
            a = {r["id"]: strip_meta(r) for r in read_ndjson(os.path.join(out, t + ".ndjson"))}
            b = {r["id"]: strip_meta(r) for r in read_ndjson(os.path.join(out2, t + ".ndjson"))}
            self.assertEqual(a, b, t)
        # exporting only some types
        p = run_cli("export", "--database", self.db("copy"), "--type", "Patient,Goal", os.path.join(self.tmp, "e4"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(sorted(os.listdir(os.path.join(self.tmp, "e4"))), ["Goal.ndjson", "Patient.ndjson"])

    def test_transaction_bundles_whether_prepared_ahead_or_not(self):
        """Bundles of plain creates are prepared on the loading thread; anything that needs the
        database (a conditional reference) or fails goes through the general transaction path.
        Both must give what a transaction gives: ids, references, versions, index rows, errors."""
        P, O, E = ("11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222",
                   "33333333-3333-4333-8333-333333333333")

        def bundle(*entries):
            return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}

        pat = {"fullUrl": "urn:uuid:" + P, "request": {"method": "POST", "url": "Patient"},
               "resource": {"resourceType": "Patient", "name": [{"family": "Alpha"}],
                            "managingOrganization": {"reference": "urn:uuid:" + O}}}
        org = {"fullUrl": "urn:uuid:" + O, "request": {"method": "POST", "url": "Organization"},
               "resource": {"resourceType": "Organization", "name": "Org",
                            "identifier": [{"system": "http://x", "value": "o1"}]}}
        doc = {"fullUrl": "http://example.org/fhir/Practitioner/pr1",
               "request": {"method": "PUT", "url": "Practitioner/pr1"},
               "resource": {"resourceType": "Practitioner", "id": "pr1", "name": [{"family": "Doc"}]}}
        doc2 = json.loads(json.dumps(doc))
        doc2["resource"]["name"][0]["family"] = "Doctor"
        enc = {"fullUrl": "urn:uuid:" + E, "request": {"method": "POST", "url": "Encounter"},
               "resource": {"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"},
                            "serviceProvider": {"reference": "Organization?identifier=http://x|o1"},
                            "subject": {"reference": "Patient/" + P}}}
        lost = {"fullUrl": "urn:uuid:44444444-4444-4444-8444-444444444444",
                "request": {"method": "POST", "url": "Observation"},
                "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                             "subject": {"reference": "urn:uuid:99999999-9999-4999-8999-999999999999"}}}
        steps = [  # file, (stored, unchanged, failed)
            (self.write("t1.json", bundle(pat, org, doc)), (3, 0, 0)),
            (self.write("t2.json", bundle(doc2)), (1, 0, 0)),   # an update of pr1
            (self.write("t3.json", bundle(doc2)), (0, 1, 0)),   # identical: no new version
            (self.write("t4.json", bundle(enc)), (1, 0, 0)),    # conditional reference
            (self.write("t5.json", bundle(lost)), (0, 0, 1)),
            (self.write("t1b.json", bundle(pat, org, doc)), (1, 2, 0)),  # creates exist; pr1 back to "Doc"
        ]
        stderr = {}
        for path, want in steps:
            p = run_cli("import", "--database", self.db(), path)
            s = summary(p)
            self.assertEqual((s["stored"], s["unchanged"], s["failed"]), want, (path, p.stdout, p.stderr))
            stderr[os.path.basename(path)] = p.stderr
        self.assertIn(b"t5.json: entry 0 (urn:uuid:44444444-4444-4444-8444-444444444444): reference "
                      b"'urn:uuid:99999999-9999-4999-8999-999999999999' (at Observation.subject.reference) names "
                      b"no entry of the Bundle", stderr["t5.json"])
        con = sqlite3.connect(self.db())
        try:
            cur = {(t, i): (v, d) for t, i, v, d in con.execute("SELECT type, id, version, deleted FROM resource")}
            body = {(t, i): json.loads(b) for t, i, b in con.execute(
                "SELECT v.type, v.id, v.body FROM resource r JOIN resource_version v ON v.seq = r.seq")}
        finally:
            con.close()
        self.assertEqual(cur, {("Patient", P): (1, 0), ("Organization", O): (1, 0), ("Practitioner", "pr1"): (3, 0),
                               ("Encounter", E): (1, 0)})
        self.assertEqual(body[("Patient", P)]["managingOrganization"]["reference"], "Organization/" + O)
        self.assertEqual(body[("Patient", P)]["meta"]["versionId"], "1")
        self.assertEqual(body[("Practitioner", "pr1")]["name"][0]["family"], "Doc")
        self.assertEqual(body[("Practitioner", "pr1")]["meta"]["versionId"], "3")
        self.assertEqual(body[("Encounter", E)]["serviceProvider"]["reference"], "Organization/" + O)
        # index rows of both paths are what the general indexer computes
        before = index_rows(self.db())
        self.assertIn(repr(("Patient", P, "organization", 0, "Organization", O, None, None, None)),
                      before["idx_reference"])
        p = run_cli("reindex", "--database", self.db(), "--no-progress")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(index_rows(self.db()), before)

    def test_bad_files_lines_and_entries_are_named_and_the_rest_goes_in(self):
        good = [{"resourceType": "Patient", "id": "g%d" % i, "active": True} for i in range(3)]
        self.write("in/a-good.ndjson", "\n".join(json.dumps(r) for r in good) + "\n\n")
        self.write("in/b-bad.ndjson", "\n".join([
            json.dumps({"resourceType": "Patient", "id": "b1"}),
            "{not json",
            json.dumps({"resourceType": "Patient", "id": "b3"}),
            json.dumps({"resourceType": "Patient", "id": "bad id!"}),
            json.dumps({"resourceType": "NoSuchType", "id": "b5"}),
            json.dumps({"resourceType": "Patient", "id": "b6", "active": None}),
            json.dumps({"resourceType": "Patient", "id": "b7"}),
        ]) + "\n")
        self.write("in/c-broken.json", '{"resourceType": "Patient", "id": ')
        self.write("in/d-tx.json", {"resourceType": "Bundle", "type": "transaction", "entry": [
            {"fullUrl": "urn:uuid:7d0c3c1e-0000-4000-8000-000000000001", "request": {"method": "POST", "url": "Patient"},
             "resource": {"resourceType": "Patient"}},
            {"fullUrl": "urn:uuid:7d0c3c1e-0000-4000-8000-000000000002", "request": {"method": "POST", "url": "Observation"},
             "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                          "subject": {"reference": "urn:uuid:7d0c3c1e-0000-4000-8000-00000000dead"}}}]})
        self.write("in/e-batch.json", {"resourceType": "Bundle", "type": "batch", "entry": [
            {"request": {"method": "PUT", "url": "Patient/batch-ok"}, "resource": {"resourceType": "Patient", "id": "batch-ok"}},
            {"request": {"method": "PUT", "url": "Patient/batch-bad", "ifMatch": 'W/"4"'},
             "resource": {"resourceType": "Patient", "id": "batch-bad"}}]})
        self.write("in/f-collection.json", {"resourceType": "Bundle", "type": "collection", "entry": [
            {"fullUrl": "urn:uuid:1a2b3c4d-0000-4000-8000-000000000001",
             "resource": {"resourceType": "Patient", "id": "coll-p"}},
            {"fullUrl": "urn:uuid:1a2b3c4d-0000-4000-8000-000000000002",
             "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "y"},
                          "subject": {"reference": "urn:uuid:1a2b3c4d-0000-4000-8000-000000000001"}}}]})
        self.write("in/g-single.json", {"resourceType": "Patient", "id": "single"})
        self.write("in/sub/h-nested.ndjson", json.dumps({"resourceType": "Patient", "id": "nested"}) + "\n")
        self.write("in/README.txt", "not FHIR")
        p = run_cli("import", "--database", self.db(), os.path.join(self.tmp, "in"))
        err = p.stderr.decode()
        self.assertEqual(p.returncode, 1, err)
        for needle in ["b-bad.ndjson:2:", "b-bad.ndjson:4:", "'bad id!'", "b-bad.ndjson:5:", "b-bad.ndjson:6:",
                       "c-broken.json:", "d-tx.json: entry 1 (urn:uuid:7d0c3c1e-0000-4000-8000-000000000002)",
                       "00000000dead", "e-batch.json: entry 1 (PUT Patient/batch-bad)"]:
            self.assertIn(needle, err)
        self.assertNotIn("README", err)
        self.assertNotIn("a-good", err)
        for line in err.strip().splitlines():  # every problem once
            self.assertEqual(err.count(line + "\n"), 1, line)
        s = summary(p)
        # stored: 3 good + b1 b3 b7 + batch-ok + coll-p + its Observation + single + nested
        self.assertEqual(s["stored"], 11)
        # failed: 4 lines, the broken file, the transaction's 2 entries, 1 batch entry
        self.assertEqual(s["failed"], 8)
        self.assertEqual(s["files"], 8)
        out, _ = self.export(self.db(), "out")
        pats = {r["id"] for r in read_ndjson(os.path.join(out, "Patient.ndjson"))}
        self.assertEqual(pats, {"g0", "g1", "g2", "b1", "b3", "b7", "batch-ok", "coll-p", "single", "nested"})
        obs = read_ndjson(os.path.join(out, "Observation.ndjson"))
        self.assertEqual([o["subject"]["reference"] for o in obs], ["Patient/coll-p"])
        self.assertEqual(obs[0]["id"], "1a2b3c4d-0000-4000-8000-000000000002")
        # again: the good ones are unchanged, the bad ones fail again
        p = run_cli("import", "--database", self.db(), os.path.join(self.tmp, "in"))
        self.assertEqual(p.returncode, 1)
        s = summary(p)
        self.assertEqual((s["stored"], s["unchanged"], s["failed"]), (0, 11, 8))

    def test_progress_line_on_a_terminal(self):
        files = sorted(glob.glob(os.path.join(SYNTHEA, "*.json")))[:4]
        expected = sum(len(json.load(open(f))["entry"]) for f in files)
        master, slave = pty.openpty()
        proc = subprocess.Popen([BIN, "import", "--database", self.db()] + files, cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=slave)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        out = proc.stdout.read().decode()
        self.assertEqual(proc.wait(60), 0)
        os.close(master)
        tty = b"".join(chunks).decode()
        self.assertIn("\r", tty)
        # the terminal turns "\n" into "\r\n"; the last redraw is the final state
        last = tty.replace("\x1b[K", "").replace("\r\n", "\n").split("\r")[-1].strip()
        self.assertIn("100%", last)
        self.assertIn("%s resources" % format(expected, ","), last)
        self.assertRegex(last, r"[\d,]+/s")
        self.assertIn("ETA 0:00", last)
        self.assertIn("imported %d resources" % expected, out)

    def test_usage_and_missing_paths(self):
        p = run_cli("import", "--database", self.db())
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"usage", p.stderr)
        p = run_cli("import", "--database", self.db(), "--bogus", "x")
        self.assertEqual(p.returncode, 2)
        missing = os.path.join(self.tmp, "nope.ndjson")
        p = run_cli("import", "--database", self.db(), missing)
        self.assertEqual(p.returncode, 1)
        self.assertIn(missing.encode() + b": cannot be read", p.stderr)
        p = run_cli("import", "--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"Re-running an import is safe", p.stdout)
        p = run_cli("export", "--database", self.db())
        self.assertEqual(p.returncode, 2)
        p = run_cli("export", "--database", self.db(), "--type", "Nonsense", os.path.join(self.tmp, "x"))
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"Nonsense", p.stderr)


if __name__ == "__main__":
    unittest.main()

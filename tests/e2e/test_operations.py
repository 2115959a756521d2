"""FHIR operations end to end against the real binary: Patient/$everything (instance and type
level, _type, _since, _count paging, patient-scoped tokens), Bulk Data export (system, Patient
and Group level, the async pattern with X-Progress / Retry-After, manifest, NDJSON files under
auth and bound to the caller, DELETE to cancel, jobs surviving a restart) and $validate
(valid and broken resources, Parameters, modes, every resource of real Synthea bundles).
Expected results are computed from the Synthea files and the transaction responses."""
import glob
import json
import os
import time
import unittest
import urllib.parse
from collections import Counter

from harness import DATA, SYNTHEA, Server, mint_token, make_key, pinned_auth

SYNTHEA_FILES = sorted(glob.glob(os.path.join(SYNTHEA, "*.json")))
COMPARTMENT = os.path.join(DATA, "fhir-r4", "CompartmentDefinition-patient.json")
ISS = "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0"
AUD = "https://fhir.example.org"


def compartment_types():
    with open(COMPARTMENT) as f:
        d = json.load(f)
    return {r["code"] for r in d["resource"] if r.get("param")} | {"Patient"}


def load_bundle(s, path, token=None):
    """POSTs one Synthea transaction; returns {fullUrl: (type, server id)} and the Bundle."""
    with open(path) as f:
        b = json.load(f)
    r = s.request("POST", "/", b, token=token)
    assert r.status == 200, r
    ids = {}
    for e, re_ in zip(b["entry"], r.json()["entry"]):
        loc = re_["response"]["location"]
        parts = loc.split("/")
        i = parts.index("_history") if "_history" in parts else len(parts)
        ids[e["fullUrl"]] = (parts[i - 2], parts[i - 1])
    return ids, b


def path_of(url, base):
    assert url.startswith(base), url
    return url[len(base):]


def all_pages(s, path, token=None, limit=200):
    """Follows next links; returns the list of page Bundles."""
    pages = []
    while path and len(pages) < limit:
        r = s.request("GET", path, token=token)
        assert r.status == 200, r
        b = r.json()
        pages.append(b)
        nxt = [l["url"] for l in b.get("link", []) if l["relation"] == "next"]
        path = path_of(nxt[0], s.base) if nxt else None
    return pages


def entries(pages, mode):
    return [(e["resource"]["resourceType"], e["resource"]["id"]) for p in pages for e in p.get("entry", [])
            if e.get("search", {}).get("mode") == mode]


class Loaded:
    """Three Synthea patients loaded through transactions; the expected $everything of each."""

    def __init__(self, s, token=None):
        ctypes = compartment_types()
        self.patients = []  # (patient id, expected matches set, expected includes set)
        for path in SYNTHEA_FILES[:3]:
            ids, b = load_bundle(s, path, token)
            matches, support_urls = set(), set()
            pid = None
            for e in b["entry"]:
                t, i = ids[e["fullUrl"]]
                if t == "Patient":
                    pid = i
                if t in ctypes:
                    matches.add((t, i))
                    text = json.dumps(e["resource"])
                    for other in b["entry"]:
                        ot = other["resource"]["resourceType"]
                        if ot not in ctypes and other["fullUrl"] in text:
                            support_urls.add(other["fullUrl"])
            self.patients.append((pid, matches, {ids[u] for u in support_urls}))


class EverythingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server()
        cls.s.base = "http://127.0.0.1:%d" % cls.s.port
        cls.s.config["base_url"] = cls.s.base
        cls.s.start()
        cls.data = Loaded(cls.s)

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def test_instance_everything_is_the_compartment_plus_what_it_references(self):
        for pid, matches, includes in self.data.patients:
            pages = all_pages(self.s, "/Patient/%s/$everything?_count=1000" % pid)
            self.assertEqual(len(pages), 1)
            got = entries(pages, "match")
            self.assertEqual(len(got), len(set(got)), "no resource listed twice")
            self.assertEqual(set(got), matches)
            self.assertEqual(pages[0]["total"], len(matches))
            self.assertEqual(set(entries(pages, "include")), includes)
            self.assertTrue(includes, "Synthea encounters reference organizations and practitioners")
            self.assertEqual(pages[0]["type"], "searchset")

    def test_instance_paging_with_count(self):
        pid, matches, includes = self.data.patients[1]
        pages = all_pages(self.s, "/Patient/%s/$everything?_count=7" % pid)
        got = entries(pages, "match")
        self.assertEqual(len(pages), -(-len(matches) // 7))
        self.assertTrue(all(len([e for e in p.get("entry", []) if e["search"]["mode"] == "match"]) <= 7 for p in pages))
        self.assertEqual(len(got), len(matches))
        self.assertEqual(set(got), matches)
        # every supporting resource appears, each on a page that references it
        self.assertEqual(set(entries(pages, "include")), includes)
        self.assertIn("_count=7", [l["url"] for l in pages[0]["link"] if l["relation"] == "next"][0])

    def test_type_filter(self):
        pid, matches, includes = self.data.patients[0]
        pages = all_pages(self.s, "/Patient/%s/$everything?_type=Observation,Patient&_count=1000" % pid)
        self.assertEqual(set(entries(pages, "match")), {m for m in matches if m[0] in ("Observation", "Patient")})
        self.assertEqual(entries(pages, "include"), [], "no supporting types were asked for")
        pages = all_pages(self.s, "/Patient/%s/$everything?_type=Encounter,Practitioner&_count=1000" % pid)
        self.assertEqual(set(entries(pages, "match")), {m for m in matches if m[0] == "Encounter"})
        self.assertEqual(set(entries(pages, "include")), {i for i in includes if i[0] == "Practitioner"})
        r = self.s.request("GET", "/Patient/%s/$everything?_type=NoSuchType" % pid)
        self.assertEqual(r.status, 400)
        self.assertIn("NoSuchType", r.json()["issue"][0]["diagnostics"])

    def test_since(self):
        pid, matches, _ = self.data.patients[2]
        obs = sorted(m[1] for m in matches if m[0] == "Observation")[0]
        time.sleep(1.1)
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time()))
        time.sleep(1.1)
        o = self.s.request("GET", "/Observation/" + obs).json()
        o["status"] = "amended"
        self.assertEqual(self.s.request("PUT", "/Observation/" + obs, o).status, 200)
        pages = all_pages(self.s, "/Patient/%s/$everything?_since=%s" % (pid, urllib.parse.quote(since)))
        self.assertEqual(entries(pages, "match"), [("Observation", obs)])
        r = self.s.request("GET", "/Patient/%s/$everything?_since=yesterday" % pid)
        self.assertEqual(r.status, 400)

    def test_type_level_pages_through_every_patient(self):
        pages = all_pages(self.s, "/Patient/$everything?_count=40")
        got = entries(pages, "match")
        expected = set().union(*(m for _, m, _ in self.data.patients))
        self.assertEqual(len(got), len(set(got)), "no resource listed twice")
        self.assertEqual(set(got), expected)
        self.assertTrue(all(len([e for e in p.get("entry", []) if e["search"]["mode"] == "match"]) <= 40 for p in pages))
        self.assertGreater(len(pages), 3)

    def test_unknown_patient_and_unsupported_parameters(self):
        r = self.s.request("GET", "/Patient/nobody/$everything")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json()["resourceType"], "OperationOutcome")
        pid = self.data.patients[0][0]
        r = self.s.request("GET", "/Patient/%s/$everything?start=2020-01-01&_count=1" % pid)
        self.assertEqual(r.status, 200)
        oo = [e for e in r.json()["entry"] if e["search"]["mode"] == "outcome"]
        self.assertEqual(len(oo), 1)
        self.assertIn("start", oo[0]["resource"]["issue"][0]["diagnostics"])
        r = self.s.request("GET", "/Patient/%s/$everything?start=2020-01-01" % pid,
                           headers={"Prefer": "handling=strict"})
        self.assertEqual(r.status, 400)
        r = self.s.request("GET", "/Observation/$everything")
        self.assertEqual(r.status, 501)
        self.assertTrue(self.s.alive())

    def test_capability_statement_lists_the_operations(self):
        cs = self.s.request("GET", "/metadata").json()
        rest = cs["rest"][0]
        self.assertIn("export", [o["name"] for o in rest["operation"]])
        byt = {r["type"]: [o["name"] for o in r.get("operation", [])] for r in rest["resource"]}
        self.assertIn("everything", byt["Patient"])
        self.assertIn("export", byt["Patient"])
        self.assertIn("export", byt["Group"])
        self.assertIn("validate", byt["Observation"])


def poll(s, url, token=None, timeout=60):
    """Polls a $export status URL until it is no longer 202; returns the last response and the
    X-Progress values seen."""
    seen = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = s.request("GET", path_of(url, s.base), token=token)
        if r.status != 202:
            return r, seen
        seen.append(r.header("X-Progress"))
        assert r.header("Retry-After"), r.headers
        time.sleep(0.05)
    raise AssertionError("export did not finish in %ss" % timeout)


def kick_off(s, path, token=None):
    r = s.request("GET", path, token=token, headers={"Prefer": "respond-async", "Accept": "application/fhir+json"})
    assert r.status == 202, r
    loc = r.header("Content-Location")
    assert loc and "/$export-poll/" in loc, r.headers
    return loc


def download(s, manifest, token=None):
    """{type: [resources]} from every file of a manifest."""
    out = {}
    for o in manifest["output"]:
        r = s.request("GET", path_of(o["url"], s.base), token=token)
        assert r.status == 200, r
        assert r.header("Content-Type").startswith("application/fhir+ndjson"), r.headers
        lines = [json.loads(l) for l in r.body.decode().splitlines() if l.strip()]
        assert len(lines) == o["count"], (o, len(lines))
        assert all(x["resourceType"] == o["type"] for x in lines)
        out.setdefault(o["type"], []).extend(lines)
    return out


class ExportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server()
        cls.s.base = "http://127.0.0.1:%d" % cls.s.port
        cls.s.config["base_url"] = cls.s.base
        cls.s.config["export"] = {"max_resources_per_file": 50, "retry_after_seconds": 1}
        cls.s.start()
        cls.data = Loaded(cls.s)

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def counts(self):
        c = Counter()
        for _, m, inc in self.data.patients:
            c.update(t for t, _ in m | inc)
        return c

    def test_system_export_writes_every_resource_once(self):
        loc = kick_off(self.s, "/$export")
        r, _ = poll(self.s, loc)
        self.assertEqual(r.status, 200, r)
        m = r.json()
        self.assertTrue(m["transactionTime"].endswith("Z") or "+" in m["transactionTime"])
        self.assertTrue(m["request"].endswith("/$export"))
        self.assertEqual(m["requiresAccessToken"], False)
        got = download(self.s, m)
        expected = self.counts()
        groups = self.s.request("GET", "/Group?_summary=count").json()["total"]  # other tests add Groups
        if groups:
            expected["Group"] = groups
        self.assertEqual(Counter({t: len(v) for t, v in got.items()}), expected)
        for t, v in got.items():
            self.assertEqual(len({x["id"] for x in v}), len(v), t)
        self.assertTrue(all(o["count"] <= 50 for o in m["output"]), "max_resources_per_file splits files")
        self.assertGreater(len([o for o in m["output"] if o["type"] == "Observation"]), 1)

    def test_type_and_since(self):
        loc = kick_off(self.s, "/$export?_type=Patient,Practitioner&_outputFormat=application%2Ffhir%2Bndjson")
        r, _ = poll(self.s, loc)
        got = download(self.s, r.json())
        self.assertEqual(set(got), {"Patient", "Practitioner"})
        self.assertEqual(len(got["Patient"]), 3)
        future = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        loc = kick_off(self.s, "/$export?_since=" + urllib.parse.quote(future))
        r, _ = poll(self.s, loc)
        self.assertEqual(r.json()["output"], [])

    def test_patient_and_group_level(self):
        loc = kick_off(self.s, "/Patient/$export")
        r, _ = poll(self.s, loc)
        got = download(self.s, r.json())
        ctypes = compartment_types()
        self.assertTrue(set(got) <= ctypes, set(got) - ctypes)
        expected = Counter(t for _, m, _ in self.data.patients for t, _ in m)
        self.assertEqual(Counter({t: len(v) for t, v in got.items()}), expected)

        pid, matches, _ = self.data.patients[1]
        g = {"resourceType": "Group", "type": "person", "actual": True,
             "member": [{"entity": {"reference": "Patient/" + pid}}]}
        gid = self.s.request("POST", "/Group", g).json()["id"]
        loc = kick_off(self.s, "/Group/%s/$export" % gid)
        r, _ = poll(self.s, loc)
        got = download(self.s, r.json())
        # the Group is in its member's compartment (CompartmentDefinition: Group.member)
        self.assertEqual({(t, x["id"]) for t, v in got.items() for x in v}, matches | {("Group", gid)})
        self.assertEqual(self.s.request("GET", "/Group/nope/$export", headers={"Prefer": "respond-async"}).status, 404)

    def test_bad_requests(self):
        r = self.s.request("GET", "/$export")
        self.assertEqual(r.status, 400)
        self.assertIn("respond-async", r.json()["issue"][0]["diagnostics"])
        for q, word in [("_type=Nope", "Nope"), ("_outputFormat=text/csv", "_outputFormat"),
                        ("_since=notadate", "_since"), ("_typeFilter=Patient%3Factive%3Dtrue", "_typeFilter")]:
            r = self.s.request("GET", "/$export?" + q, headers={"Prefer": "respond-async"})
            self.assertEqual(r.status, 400, q)
            self.assertIn(word, r.json()["issue"][0]["diagnostics"])
        r = self.s.request("GET", "/Patient/$export?_type=Organization", headers={"Prefer": "respond-async"})
        self.assertEqual(r.status, 400)
        self.assertEqual(self.s.request("GET", "/$export-poll/0123456789abcdef0123456789abcdef").status, 404)
        self.assertEqual(self.s.request("GET", "/$export-poll/../../etc").status, 404)
        self.assertTrue(self.s.alive())

    def test_cancel_removes_the_job_and_its_files(self):
        loc = kick_off(self.s, "/$export")
        r, _ = poll(self.s, loc)
        m = r.json()
        job = loc.rsplit("/", 1)[1]
        d = os.path.join(self.s.tmp, "db.sqlite.export", job)
        self.assertTrue(os.path.isdir(d))
        r = self.s.request("DELETE", path_of(loc, self.s.base))
        self.assertEqual(r.status, 202)
        self.assertFalse(os.path.exists(d))
        self.assertEqual(self.s.request("GET", path_of(loc, self.s.base)).status, 404)
        self.assertEqual(self.s.request("GET", path_of(m["output"][0]["url"], self.s.base)).status, 404)

    def test_jobs_survive_a_restart(self):
        loc = kick_off(self.s, "/$export?_type=Observation")
        self.s.stop()  # SIGTERM right after the kick-off: queued, running or done
        self.s.start()
        r, _ = poll(self.s, loc)
        self.assertEqual(r.status, 200)
        got = download(self.s, r.json())
        self.assertEqual(len(got["Observation"]), self.counts()["Observation"])
        # a finished job and its files are still there after another restart
        self.s.stop()
        self.s.start()
        r = self.s.request("GET", path_of(loc, self.s.base))
        self.assertEqual(r.status, 200)
        self.assertEqual(len(download(self.s, r.json())["Observation"]), self.counts()["Observation"])


class ExportAuthTest(unittest.TestCase):
    """With auth on: files need a token, and only the caller that started a job may use it;
    a patient-scoped token cannot export, and $everything stays inside its patient."""

    @classmethod
    def setUpClass(cls):
        cls.s = Server()
        cls.s.base = "http://127.0.0.1:%d" % cls.s.port
        d = cls.s.tmp
        cls.priv, pub = make_key(d)
        cls.s.config["base_url"] = cls.s.base
        cls.s.config["auth"] = pinned_auth(ISS, AUD, pub)
        cls.s.start()
        cls.admin = cls.tok("admin-1", roles="FHIR Data Exporter,FHIR Data Writer,FHIR Data Reader")
        cls.data = Loaded(cls.s, token=cls.admin)

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    @classmethod
    def tok(cls, sub, roles=None, scope=None, extra=()):
        return mint_token(cls.priv, ISS, AUD, sub, roles, scope,
                          ("--claim", "tid=11111111-2222-3333-4444-555555555555") + tuple(extra))

    def test_export_is_bound_to_its_caller(self):
        loc = kick_off(self.s, "/$export?_type=Patient", token=self.admin)
        r, _ = poll(self.s, loc, token=self.admin)
        self.assertEqual(r.status, 200)
        m = r.json()
        self.assertTrue(m["requiresAccessToken"])
        url = path_of(m["output"][0]["url"], self.s.base)
        self.assertEqual(self.s.request("GET", url).status, 401)
        other = self.tok("admin-2", roles="FHIR Data Exporter,FHIR Data Reader")
        self.assertEqual(self.s.request("GET", url, token=other).status, 403)
        self.assertEqual(self.s.request("GET", path_of(loc, self.s.base), token=other).status, 403)
        self.assertEqual(self.s.request("DELETE", path_of(loc, self.s.base), token=other).status, 403)
        self.assertEqual(len(download(self.s, m, token=self.admin)["Patient"]), 3)

    def test_reader_cannot_export_and_patient_scope_stays_in_its_patient(self):
        reader = self.tok("reader-1", roles="FHIR Data Reader")
        r = self.s.request("GET", "/$export", token=reader, headers={"Prefer": "respond-async"})
        self.assertEqual(r.status, 403, r)
        pid, matches, includes = self.data.patients[0]
        other = self.data.patients[1][0]
        pt = self.tok("patient-user", scope="patient/*.read", extra=("--claim", "patient=" + pid))
        pages = all_pages(self.s, "/Patient/%s/$everything?_count=1000" % pid, token=pt)
        self.assertEqual(set(entries(pages, "match")), matches)
        self.assertEqual(self.s.request("GET", "/Patient/%s/$everything" % other, token=pt).status, 404)  # not known to pt
        pages = all_pages(self.s, "/Patient/$everything?_count=1000", token=pt)
        self.assertEqual(set(entries(pages, "match")), matches)
        r = self.s.request("GET", "/Patient/$export", token=pt, headers={"Prefer": "respond-async"})
        self.assertEqual(r.status, 403)


class ValidateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server().start()

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def validate(self, path, body, method="POST", headers=None):
        r = self.s.request(method, path, body, headers=headers)
        self.assertEqual(r.status, 200, r)
        oo = r.json()
        self.assertEqual(oo["resourceType"], "OperationOutcome")
        return [i for i in oo["issue"] if i["severity"] in ("error", "fatal")], oo

    def test_every_synthea_resource_is_valid(self):
        n = 0
        for path in SYNTHEA_FILES[:4]:
            with open(path) as f:
                b = json.load(f)
            for e in b["entry"]:
                res = e["resource"]
                errs, _ = self.validate("/%s/$validate" % res["resourceType"], res)
                self.assertEqual(errs, [], (res["resourceType"], res.get("id")))
                n += 1
        self.assertGreater(n, 300)

    def test_broken_resources_are_reported_with_their_paths(self):
        errs, _ = self.validate("/Patient/$validate", {"resourceType": "Patient", "birthDate": "1990-13-45",
                                                       "gender": "female "})
        exprs = " ".join(" ".join(i.get("expression", [])) + " " + i.get("diagnostics", "") for i in errs)
        self.assertIn("birthDate", exprs)
        self.assertIn("gender", exprs)
        errs, _ = self.validate("/Observation/$validate", {"resourceType": "Observation"})
        text = json.dumps(errs)
        self.assertIn("status", text)
        self.assertIn("code", text)
        errs, _ = self.validate("/Patient/$validate", {"resourceType": "Observation", "status": "final",
                                                       "code": {"text": "x"}})
        self.assertIn("resourceType", json.dumps(errs))
        errs, _ = self.validate("/Patient/$validate", {"resourceType": "Patient", "name": [], "active": "yes"})
        text = json.dumps(errs)
        self.assertIn("name", text)
        self.assertIn("active", text)
        errs, _ = self.validate("/Patient/$validate", '{"resourceType": "Patient", ', headers={"Content-Type": "application/fhir+json"})
        self.assertEqual(len(errs), 1)
        self.assertEqual(errs[0]["code"], "structure")

    def test_valid_resource_all_ok_and_nothing_stored(self):
        errs, oo = self.validate("/Patient/$validate", {"resourceType": "Patient", "id": "v1", "active": True,
                                                        "birthDate": "1970-01-01"})
        self.assertEqual(errs, [])
        self.assertEqual(oo["issue"][0]["diagnostics"], "All OK")
        self.assertEqual(self.s.request("GET", "/Patient/v1").status, 404, "$validate stores nothing")

    def test_parameters_modes_and_stored_instances(self):
        self.assertEqual(self.s.request("PUT", "/Patient/p1", {"resourceType": "Patient", "id": "p1"}).status, 201)
        params = {"resourceType": "Parameters", "parameter": [
            {"name": "resource", "resource": {"resourceType": "Patient", "id": "other"}},
            {"name": "mode", "valueCode": "update"}]}
        errs, _ = self.validate("/Patient/p1/$validate", params)
        self.assertIn("id", json.dumps(errs), "update mode: the id must match the URL")
        params["parameter"][0]["resource"]["id"] = "p1"
        errs, _ = self.validate("/Patient/p1/$validate", params)
        self.assertEqual(errs, [])
        errs, _ = self.validate("/Patient/p1/$validate", None, method="GET")
        self.assertEqual(errs, [])
        r = self.s.request("POST", "/Patient/$validate", {"resourceType": "Parameters", "parameter": [
            {"name": "resource", "resource": {"resourceType": "Patient"}}, {"name": "mode", "valueCode": "bogus"}]})
        self.assertEqual(r.status, 400)
        self.assertEqual(self.s.request("GET", "/Patient/missing/$validate").status, 404)
        r = self.s.request("POST", "/Patient/$validate", {"resourceType": "Parameters", "parameter": []})
        self.assertEqual(r.status, 400)
        self.assertTrue(self.s.alive())


if __name__ == "__main__":
    unittest.main()

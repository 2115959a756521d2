"""Randomized authorization test (issue 14): a seeded generator builds thousands of search and
Bundle requests (random types, parameters, modifiers, _include/_revinclude/:iterate/*, _has,
chains, _summary/_total/_elements, reads/vreads/history of anybody's ids, compartment and system
searches, batch and transaction entries) sent with patient-restricted tokens over a generated
data set of 30 patients x ~40 resources (written in transactions, some resources updated,
moved between patients or deleted). Every response is checked: each resource it contains (at
any depth) must be in the caller's view at the version returned, computed here in Python from
the generated data, and no other patient's id, family name, MRN or marker may appear anywhere
(echoes of the request itself excepted).

    AUTHZ_RANDOM_SEED=1234 AUTHZ_RANDOM_REQUESTS=5000 python3 tests/e2e/run.py authz_random
The seed is printed (and named in any failure); the default request count is 3000."""
import json
import os
import random
import re
import sys
import time
import unittest
import urllib.parse

import authz_common as C

N_PATIENTS = 30
OTHER = ["p%02d" % i for i in range(1, N_PATIENTS)]
PATIENTS = [C.PA] + OTHER
# every text naming another patient contains pNN / PNN as a whole token
OTHER_NEEDLES = re.compile(r"(?<![A-Za-z0-9])p(?:0[1-9]|[12][0-9])(?![0-9A-Za-z])", re.I)
SHARED_TYPES = {"Practitioner", "Organization", "Medication"}
CODES = ["c%02d" % i for i in range(12)]
CATS = ["laboratory", "vital-signs", "social-history"]
PRACS = ["prac-%d" % i for i in range(5)]
ORGS = ["org-%d" % i for i in range(3)]
MEDS = ["med-%d" % i for i in range(4)]
CAT_SYS = C.CAT
CODE_SYS = C.CODES


def _date(rng):
    return "20%02d-%02d-%02d" % (rng.randint(10, 25), rng.randint(1, 12), rng.randint(1, 28))


def _cc(code):
    return {"coding": [{"system": CODE_SYS, "code": code}], "text": code}


class DataSet:
    """The generated resources and, per resource, the owner patient and category of each version
    (owner None = shared; a version None = a deletion)."""

    def __init__(self, rng):
        self.rng = rng
        self.versions = {}   # key -> [ (owner, category) | None ]
        self.ids_by_patient = {p: {} for p in PATIENTS}  # p -> type -> [ids]
        self.bodies = {}

    def add(self, res, owner, cat=None):
        key = "%s/%s" % (res["resourceType"], res["id"])
        self.versions.setdefault(key, []).append((owner, cat))
        self.bodies[key] = res
        if owner:
            self.ids_by_patient[owner].setdefault(res["resourceType"], []).append(res["id"])
        return res

    def visible(self, key, version=None, view="A"):
        """Whether `key` (at `version`, default current) is in the view."""
        vs = self.versions.get(key)
        if not vs:
            return False
        v = vs[-1] if version is None else (vs[int(version) - 1] if 0 < int(version) <= len(vs) else None)
        if v is None:
            return False
        owner, cat = v
        if owner != C.PA:
            return False
        rtype = key.split("/")[0]
        if view == "Acat":
            return rtype == "Patient" or (rtype == "Observation" and cat == "laboratory")
        return True


def marker(p):
    return "MARKER-%s" % p.upper()


def build_data(rng):
    d = DataSet(rng)
    shared = [{"resourceType": "Practitioner", "id": x, "name": [{"family": "Doc-" + x}]} for x in PRACS]
    shared += [{"resourceType": "Organization", "id": x, "name": "Org " + x} for x in ORGS]
    shared += [{"resourceType": "Medication", "id": x, "code": _cc("m" + x)} for x in MEDS]
    for r in shared:
        d.add(r, None)
    per_patient = {}
    for p in PATIENTS:
        pre = p + "-"
        fam = "Alpha" if p == C.PA else "Fam-" + p.upper()
        mrn = "MRN-A" if p == C.PA else "MRN-" + p.upper()
        res = [({"resourceType": "Patient", "id": p, "name": [{"family": fam, "given": [marker(p)]}],
                 "gender": rng.choice(["male", "female", "other"]), "birthDate": _date(rng),
                 "identifier": [{"system": "http://example.org/mrn", "value": mrn}],
                 "managingOrganization": C.ref("Organization/" + rng.choice(ORGS)),
                 "generalPractitioner": [C.ref("Practitioner/" + rng.choice(PRACS))]}, None)]
        encs = []
        for i in range(3):
            eid = "%senc-%d" % (pre, i)
            encs.append(eid)
            res.append(({"resourceType": "Encounter", "id": eid, "status": "finished",
                         "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                         "subject": C.ref("Patient/" + p), "serviceProvider": C.ref("Organization/" + rng.choice(ORGS)),
                         "participant": [{"individual": C.ref("Practitioner/" + rng.choice(PRACS))}],
                         "period": {"start": _date(rng)}, "reasonCode": [{"text": marker(p)}]}, None))
        obs = []
        for i in range(15):
            oid = "%sobs-%d" % (pre, i)
            cat = rng.choice(CATS)
            o = {"resourceType": "Observation", "id": oid, "status": rng.choice(["final", "amended", "preliminary"]),
                 "category": [{"coding": [{"system": CAT_SYS, "code": cat}]}], "code": _cc(rng.choice(CODES)),
                 "subject": C.ref("Patient/" + p), "encounter": C.ref("Encounter/" + rng.choice(encs)),
                 "effectiveDateTime": _date(rng), "note": [{"text": marker(p)}],
                 "valueQuantity": {"value": rng.randint(1, 200), "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}}
            o["performer"] = [C.ref(rng.choice(["Practitioner/" + rng.choice(PRACS), "Patient/" + p]))]
            if obs and rng.random() < 0.3:
                o["hasMember"] = [C.ref("Observation/" + rng.choice(obs))]
            obs.append(oid)
            res.append((o, cat))
        conds = []
        for i in range(6):
            cid = "%scond-%d" % (pre, i)
            conds.append(cid)
            res.append(({"resourceType": "Condition", "id": cid, "code": _cc(rng.choice(CODES)),
                         "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                                        "code": rng.choice(["active", "resolved"])}]},
                         "subject": C.ref("Patient/" + p), "encounter": C.ref("Encounter/" + rng.choice(encs)),
                         "onsetDateTime": _date(rng), "note": [{"text": marker(p)}],
                         "asserter": C.ref(rng.choice(["Practitioner/" + rng.choice(PRACS), "Patient/" + p]))}, None))
        for i in range(4):
            res.append(({"resourceType": "MedicationRequest", "id": "%smedreq-%d" % (pre, i),
                         "status": rng.choice(["active", "completed"]), "intent": "order",
                         "medicationReference": C.ref("Medication/" + rng.choice(MEDS)),
                         "subject": C.ref("Patient/" + p), "encounter": C.ref("Encounter/" + rng.choice(encs)),
                         "requester": C.ref("Practitioner/" + rng.choice(PRACS)), "authoredOn": _date(rng),
                         "note": [{"text": marker(p)}]}, None))
        for i in range(3):
            res.append(({"resourceType": "Procedure", "id": "%sproc-%d" % (pre, i), "status": "completed",
                         "code": _cc(rng.choice(CODES)), "subject": C.ref("Patient/" + p),
                         "performer": [{"actor": C.ref("Practitioner/" + rng.choice(PRACS))}],
                         "performedDateTime": _date(rng), "note": [{"text": marker(p)}]}, None))
        for i in range(3):
            # clinicalStatus: ait-1 wants it unless the record is entered-in-error
            res.append(({"resourceType": "AllergyIntolerance", "id": "%sallergy-%d" % (pre, i),
                         "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                                                        "code": "active"}]},
                         "code": _cc(rng.choice(CODES)), "patient": C.ref("Patient/" + p),
                         "recorder": C.ref("Practitioner/" + rng.choice(PRACS)), "note": [{"text": marker(p)}]}, None))
        for i in range(2):
            res.append(({"resourceType": "Immunization", "id": "%simm-%d" % (pre, i), "status": "completed",
                         "vaccineCode": _cc(rng.choice(CODES)), "patient": C.ref("Patient/" + p),
                         "occurrenceDateTime": _date(rng), "note": [{"text": marker(p)}]}, None))
        for i in range(3):
            res.append(({"resourceType": "DiagnosticReport", "id": "%sdr-%d" % (pre, i), "status": "final",
                         "code": _cc(rng.choice(CODES)), "subject": C.ref("Patient/" + p),
                         "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}],
                         "result": [C.ref("Observation/" + o) for o in rng.sample(obs, 2)],
                         "effectiveDateTime": _date(rng), "conclusion": marker(p)}, None))
        per_patient[p] = res
    # other patients' Observations point at A's resources through non-compartment elements
    a_conds = ["%s-cond-%d" % (C.PA, i) for i in range(6)]
    a_obs = ["%s-obs-%d" % (C.PA, i) for i in range(15)]
    for p in OTHER:
        for body, _ in per_patient[p]:
            if body["resourceType"] == "Observation" and rng.random() < 0.15:
                body["focus"] = [C.ref("Condition/" + rng.choice(a_conds))]
                body["hasMember"] = [C.ref("Observation/" + rng.choice(a_obs))]
    for p in PATIENTS:
        for body, cat in per_patient[p]:
            d.add(body, p, cat)
    return d, shared, per_patient


def write_data(s, d, shared, per_patient, rng):
    tok = C.admin_token()

    def tx(bodies):
        b = C.bundle("transaction", [C.entry("PUT", "%s/%s" % (r["resourceType"], r["id"]), r) for r in bodies])
        r = s.request("POST", "/", b, token=tok)
        assert r.status == 200, r
    tx(shared)
    for p in PATIENTS:
        tx([b for b, _ in per_patient[p]])
    # changes: updates (new version, same owner), moves to/from A under neutral ids, deletions
    moved = 0
    for p in PATIENTS:
        for body, cat in per_patient[p]:
            key = "%s/%s" % (body["resourceType"], body["id"])
            x = rng.random()
            if body["resourceType"] == "Patient":
                continue
            if x < 0.05:
                r = s.request("DELETE", "/" + key, token=tok)
                assert r.status in (200, 204), r
                d.versions[key].append(None)
            elif x < 0.12:
                body = dict(body, status="entered-in-error") if "status" in body else dict(body, language="en")
                r = s.request("PUT", "/" + key, body, token=tok)
                assert r.status in (200, 201), r
                d.versions[key].append((p, cat))
    # moves: a resource created for one patient and then re-pointed to another (ids neutral)
    for i in range(40):
        src, dst = rng.sample(PATIENTS, 2)
        if i % 2 == 0:
            src, dst = rng.choice(OTHER), C.PA
        elif i % 4 == 1:
            src, dst = C.PA, rng.choice(OTHER)
        oid, cat = "mv-%d" % i, rng.choice(CATS)
        for who in (src, dst):
            o = {"resourceType": "Observation", "id": oid, "status": "final",
                 "category": [{"coding": [{"system": CAT_SYS, "code": cat}]}], "code": _cc(rng.choice(CODES)),
                 "subject": C.ref("Patient/" + who), "note": [{"text": marker(who)}]}
            r = s.request("PUT", "/Observation/" + oid, o, token=tok)
            assert r.status in (200, 201), r
            d.versions.setdefault("Observation/" + oid, []).append((who, cat))
        d.bodies["Observation/" + oid] = o
        moved += 1
    return moved


# ------------------------------------------------------------------------------- request generator
REF_PARAMS = {  # type -> reference search params (target types)
    "Observation": {"subject": "Patient", "patient": "Patient", "encounter": "Encounter", "performer": "Practitioner",
                    "focus": "Condition", "has-member": "Observation"},
    "Condition": {"subject": "Patient", "patient": "Patient", "encounter": "Encounter", "asserter": "Practitioner"},
    "Encounter": {"subject": "Patient", "patient": "Patient", "service-provider": "Organization", "participant": "Practitioner"},
    "MedicationRequest": {"subject": "Patient", "patient": "Patient", "medication": "Medication",
                          "requester": "Practitioner", "encounter": "Encounter"},
    "Procedure": {"subject": "Patient", "patient": "Patient", "performer": "Practitioner"},
    "AllergyIntolerance": {"patient": "Patient", "recorder": "Practitioner"},
    "Immunization": {"patient": "Patient"},
    "DiagnosticReport": {"subject": "Patient", "patient": "Patient", "result": "Observation"},
    "Patient": {"organization": "Organization", "general-practitioner": "Practitioner"},
    "Practitioner": {}, "Organization": {}, "Medication": {},
}
TOKEN_PARAMS = {
    "Observation": {"code": CODES, "category": CATS, "status": ["final", "amended", "preliminary", "entered-in-error"]},
    "Condition": {"code": CODES, "clinical-status": ["active", "resolved"]},
    "Encounter": {"status": ["finished", "planned"]},
    "MedicationRequest": {"status": ["active", "completed"]},
    "Procedure": {"code": CODES},
    "AllergyIntolerance": {"code": CODES},
    "Immunization": {"vaccine-code": CODES},
    "DiagnosticReport": {"code": CODES},
    "Patient": {"gender": ["male", "female", "other"]},
    "Practitioner": {}, "Organization": {}, "Medication": {"code": ["m" + m for m in MEDS]},
}
DATE_PARAMS = {"Observation": "date", "Condition": "onset-date", "Encounter": "date", "MedicationRequest": "authoredon",
               "Procedure": "date", "Immunization": "date", "DiagnosticReport": "date", "Patient": "birthdate"}
TYPES = list(REF_PARAMS)
CLINICAL = [t for t in TYPES if t not in SHARED_TYPES and t != "Patient"]


class Gen:
    def __init__(self, rng, d):
        self.rng, self.d = rng, d
        self.keys = sorted(d.versions)

    def patient(self):
        return self.rng.choice([C.PA] * 3 + OTHER)

    def any_id(self, rtype):
        ks = [k for k in self.keys if k.startswith(rtype + "/")]
        return self.rng.choice(ks).split("/")[1] if ks else "none"

    def value_for_ref(self, target):
        r = self.rng.random()
        if target == "Patient":
            p = self.patient()
            return p if r < 0.3 else "Patient/" + p
        rid = self.any_id(target)
        return rid if r < 0.3 else "%s/%s" % (target, rid)

    def param(self, rtype):
        rng = self.rng
        kind = rng.random()
        if kind < 0.3 and REF_PARAMS[rtype]:
            name, target = rng.choice(sorted(REF_PARAMS[rtype].items()))
            mod = rng.choice(["", "", "", ":missing", ":" + target])
            if mod == ":missing":
                return name + mod, rng.choice(["true", "false"])
            return name + mod, ",".join(self.value_for_ref(target) for _ in range(rng.randint(1, 2)))
        if kind < 0.5 and TOKEN_PARAMS[rtype]:
            name, vals = rng.choice(sorted(TOKEN_PARAMS[rtype].items()))
            mod = rng.choice(["", "", ":not", ":text", ":missing"])
            if mod == ":missing":
                return name + mod, rng.choice(["true", "false"])
            return name + mod, ",".join(rng.choice(vals) for _ in range(rng.randint(1, 2)))
        if kind < 0.6 and rtype in DATE_PARAMS:
            return DATE_PARAMS[rtype], rng.choice(["ge", "le", "gt", "lt", "eq", ""]) + _date(rng)[:rng.choice([4, 7, 10])]
        if kind < 0.7:
            return "_id", ",".join(self.any_id(rtype) for _ in range(rng.randint(1, 3)))
        if kind < 0.8 and rtype == "Patient":
            p = self.patient()
            name = rng.choice(["family", "name", "family:exact", "family:contains", "identifier"])
            val = ("Alpha" if p == C.PA else "Fam-" + p.upper()) if name != "identifier" else \
                ("MRN-A" if p == C.PA else "MRN-" + p.upper())
            return name, val if rng.random() < 0.8 else val[:rng.randint(1, len(val))]
        if kind < 0.9 and "subject" in REF_PARAMS[rtype] or "patient" in REF_PARAMS[rtype]:
            # chains into Patient
            p = self.patient()
            ref = "subject" if "subject" in REF_PARAMS[rtype] else "patient"
            leaf = rng.choice([("family", "Alpha" if p == C.PA else "Fam-" + p.upper()),
                               ("identifier", "MRN-A" if p == C.PA else "MRN-" + p.upper()),
                               ("gender", rng.choice(["male", "female"])), ("birthdate", "ge" + _date(rng)[:4])])
            return "%s%s.%s" % (ref, rng.choice([":Patient", ""]), leaf[0]), leaf[1]
        if rtype in ("Observation", "Condition", "DiagnosticReport") and "encounter" in REF_PARAMS[rtype]:
            p = self.patient()
            return "encounter.subject:Patient.family", "Alpha" if p == C.PA else "Fam-" + p.upper()
        return "_lastUpdated", "ge2000-01-01"

    def has(self, rtype):
        rng = self.rng
        back = [(t, n) for t in CLINICAL for n, tgt in REF_PARAMS[t].items() if tgt == rtype]
        if not back:
            return None
        t, n = rng.choice(back)
        if TOKEN_PARAMS[t]:
            pn, vals = rng.choice(sorted(TOKEN_PARAMS[t].items()))
            return "_has:%s:%s:%s" % (t, n, pn), rng.choice(vals)
        return "_has:%s:%s:_id" % (t, n), self.any_id(t)

    def includes(self, rtype):
        rng, out = self.rng, []
        for _ in range(rng.randint(0, 3)):
            k = rng.random()
            if k < 0.35 and REF_PARAMS[rtype]:
                n = rng.choice(sorted(REF_PARAMS[rtype]))
                out.append(("_include" + rng.choice(["", "", ":iterate"]), "%s:%s" % (rtype, n)))
            elif k < 0.7:
                back = [(t, n) for t in CLINICAL for n, tgt in REF_PARAMS[t].items() if tgt == rtype]
                if back:
                    t, n = rng.choice(back)
                    out.append(("_revinclude" + rng.choice(["", "", ":iterate"]), "%s:%s" % (t, n)))
            elif k < 0.8:
                out.append((rng.choice(["_include", "_revinclude"]), "*"))
            else:  # an iterate hop from a clinical type to another
                t = rng.choice(CLINICAL)
                n = rng.choice(sorted(REF_PARAMS[t]))
                out.append((rng.choice(["_include:iterate", "_revinclude:iterate"]), "%s:%s" % (t, n)))
        return out

    def search(self):
        """A search URL (relative, no leading slash)."""
        rng = self.rng
        k = rng.random()
        if k < 0.1:
            types = rng.sample(TYPES, rng.randint(1, 3))
            params = [("_type", ",".join(types))]
            if rng.random() < 0.5:
                params.append(("_id", ",".join(self.any_id(rng.choice(types)) for _ in range(2))))
            path = ""
            rtype = types[0]
        elif k < 0.25:
            rtype = rng.choice(CLINICAL + ["*"])
            path = "Patient/%s/%s" % (self.patient(), rtype)
            params = []
            rtype = rtype if rtype != "*" else "Observation"
        else:
            rtype = rng.choice(TYPES + CLINICAL)
            path = rtype
            params = []
        for _ in range(rng.randint(0, 3)):
            params.append(self.param(rtype))
        if rng.random() < 0.25:
            h = self.has(rtype)
            if h:
                params.append(h)
        params += self.includes(rtype)
        x = rng.random()
        if x < 0.1:
            params.append(("_summary", "count"))
        elif x < 0.2:
            params.append(("_total", "accurate"))
        elif x < 0.3:
            params.append(("_elements", rng.choice(["id", "subject", "code,subject", "name"])))
        if rng.random() < 0.3:
            params.append(("_count", str(rng.choice([1, 3, 10, 100]))))
        if rng.random() < 0.1:
            params.append(("_sort", rng.choice(["_id", "-_lastUpdated", "_lastUpdated"])))
        qs = "&".join("%s=%s" % (n, urllib.parse.quote(v, safe=",:/")) for n, v in params)
        return path + ("?" + qs if qs else "")

    def by_id(self):
        rng = self.rng
        key = rng.choice(self.keys)
        n = len(self.d.versions[key])
        return rng.choice([key, key, "%s/_history/%d" % (key, rng.randint(1, n + 1)), key + "/_history"])

    def entry_url(self):
        return self.search() if self.rng.random() < 0.6 else self.by_id()

    def request(self):
        """(method, path, body, headers)."""
        rng = self.rng
        k = rng.random()
        if k < 0.4:
            return "GET", "/" + self.search(), None, None
        if k < 0.5:
            url = self.search()
            path, _, qs = url.partition("?")
            if path.startswith("Patient/") and path.count("/") == 2:
                return "GET", "/" + url, None, None
            return "POST", "/%s_search" % (path + "/" if path else ""), qs, {"Content-Type": "application/x-www-form-urlencoded"}
        if k < 0.62:
            return "GET", "/" + self.by_id(), None, None
        if k < 0.67:
            return "GET", "/Patient/%s/$everything" % self.patient(), None, None
        kind = "batch" if k < 0.92 else "transaction"
        entries = [C.entry("GET", self.entry_url()) for _ in range(rng.randint(1, 6))]
        return "POST", "/", C.bundle(kind, entries), None


# ------------------------------------------------------------------------------------------ checks
def walk_resources(node, out):
    """Every resource (with resourceType and id) at any depth, Bundles and outcomes excluded."""
    if isinstance(node, dict):
        rt = node.get("resourceType")
        if rt and rt not in ("Bundle", "OperationOutcome", "Parameters") and "id" in node:
            out.append(node)
        for v in node.values():
            walk_resources(v, out)
    elif isinstance(node, list):
        for v in node:
            walk_resources(v, out)
    return out


class AuthzRandom(unittest.TestCase):
    CALLERS = [("pA", "A"), ("pA2", "A"), ("uPat", "A"), ("pAscope", "A"), ("pAcat", "Acat")]

    @classmethod
    def setUpClass(cls):
        cls.seed = int(os.environ.get("AUTHZ_RANDOM_SEED") or int(time.time() * 1000) % 1000000007)
        cls.count = int(os.environ.get("AUTHZ_RANDOM_REQUESTS") or 3000)
        print("\nauthz random: seed %d, %d requests (AUTHZ_RANDOM_SEED / AUTHZ_RANDOM_REQUESTS)"
              % (cls.seed, cls.count), file=sys.stderr)
        rng = random.Random(cls.seed)
        cls.s = C.start_server()
        try:
            t0 = time.time()
            cls.d, shared, per_patient = build_data(rng)
            write_data(cls.s, cls.d, shared, per_patient, rng)
            print("authz random: %d resources (%d versions) written in %.1f s"
                  % (len(cls.d.versions), sum(len(v) for v in cls.d.versions.values()), time.time() - t0), file=sys.stderr)
            cls.tokens = {n: C.token(n) for n, _ in cls.CALLERS}
        except Exception:
            cls.s.cleanup()
            raise
        cls.rng = rng

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def test_model_matches_server(self):
        """The Python view model agrees with an unrestricted read of A's compartment, so the random
        test's verdicts are about authorization, not about the model."""
        r = self.s.request("GET", "/Patient/%s/*?_count=1000" % C.PA, token=C.admin_token())
        self.assertEqual(r.status, 200, r)
        got = {"%s/%s" % (x["resourceType"], x["id"]) for x in walk_resources(r.json(), [])}
        want = {k for k in self.d.versions if self.d.visible(k)}
        self.assertEqual(got, want)

    def test_random_requests(self):
        gen = Gen(self.rng, self.d)
        failures, statuses, n_res = [], {}, 0
        t0 = time.time()
        for i in range(self.count):
            caller, view = self.rng.choice(self.CALLERS)
            method, path, body, headers = gen.request()
            r = self.s.request(method, path, body, token=self.tokens[caller], headers=headers)
            statuses[r.status] = statuses.get(r.status, 0) + 1
            req_text = path + " " + (body if isinstance(body, str) else json.dumps(body) if body else "")
            what = "#%d %s %s %s as %s" % (i, method, path, json.dumps(body)[:300] if isinstance(body, dict) else body or "", caller)
            found = C.leaks(r, req_text, OTHER_NEEDLES)
            if found:
                failures.append("%s: names another patient %s: ...%s..." % (what, found, C.leak_context(r, req_text, OTHER_NEEDLES)))
                continue
            j = C.body_json(r)
            if j is None:
                continue
            for res in walk_resources(j, []):
                n_res += 1
                key = "%s/%s" % (res["resourceType"], res["id"])
                version = (res.get("meta") or {}).get("versionId")
                if not self.d.visible(key, version, view):
                    failures.append("%s: returned %s version %s outside the view" % (what, key, version))
                    break
        print("authz random: %d requests in %.1f s, statuses %s, %d resources checked, %d failures"
              % (self.count, time.time() - t0, dict(sorted(statuses.items())), n_res, len(failures)), file=sys.stderr)
        self.assertFalse(failures, "seed %d: %d of %d requests leak; first ones:\n%s"
                         % (self.seed, len(failures), self.count, "\n".join(failures[:int(os.environ.get("AUTHZ_RANDOM_SHOW") or 15)])))


if __name__ == "__main__":
    unittest.main()

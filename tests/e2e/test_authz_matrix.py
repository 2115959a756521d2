"""Authorization matrix (issue 14): every FHIR interaction x route (direct HTTP, batch entry,
transaction entry) x caller (authz_common.CALLERS) x data (alpha's = A, beta's = B, B's deleted,
the shared Organization/Practitioner), with the expected outcome of each cell computed from the
tables below by a few small rule functions. The tables are the policy a reviewer reads; adding
an interaction or a route means adding a row here (see tests/e2e/AUTHZ_MATRIX.md).

For every cell whose caller may not see B, no response header, body or error text may contain
any of B's ids or markers (authz_common.B_NEEDLES: "beta", B's MRN and birth date; echoes of the
request itself excepted). By-id access to anything outside the caller's view must be
indistinguishable from a never-existing id (same status, issue code and diagnostics with the id
substituted). One server per class, data written once, tokens minted once per process."""
import json
import unittest

import authz_common as C

DIRECT, BATCH, TX = "direct", "batch", "transaction"
ALL_ROUTES = (DIRECT, BATCH, TX)
NEVER = "zz-never-existed"


def S(s):
    return set(s.split())


# ------------------------------------------------------------------------------------------------
# Route runner: performs one interaction through one route and normalises the answer to
# (status, body dict, raw HTTP response). A Bundle route answers with the entry's status and its
# resource or outcome; a failed transaction (or a refused Bundle) with the HTTP status and body.
# ------------------------------------------------------------------------------------------------
class Result:
    def __init__(self, status, body, raw):
        self.status, self.body, self.raw = status, body, raw

    def __repr__(self):
        return "<%d %s>" % (self.status, json.dumps(self.body)[:400] if self.body is not None else self.raw)


def perform(s, tok, route, method, url, resource=None, headers=None, if_none_exist=None, raw_body=None):
    """One interaction; url is relative without the leading slash."""
    if route == DIRECT:
        h = dict(headers or {})
        if if_none_exist:
            h["If-None-Exist"] = if_none_exist
        if raw_body is not None:
            h["Content-Type"] = "application/json-patch+json"
        body = raw_body if raw_body is not None else resource
        r = s.request(method, "/" + url, body, token=tok, headers=h)
        return Result(r.status, C.body_json(r), r)
    if raw_body is not None:  # a JSON Patch travels as a Binary in a Bundle
        resource = C.patch_binary(json.loads(raw_body))
    b = C.bundle(route, [C.entry(method, url, resource, if_none_exist=if_none_exist)])
    r = s.request("POST", "/", b, token=tok)
    j = C.body_json(r)
    if r.status != 200 or not j or j.get("resourceType") != "Bundle":
        return Result(r.status, j, r)
    e = (j.get("entry") or [{}])[0]
    resp = e.get("response") or {}
    return Result(C.status_code(resp.get("status")), e.get("resource") or resp.get("outcome"), r)


def request_text(url, resource=None, if_none_exist=None, raw_body=None):
    return " ".join(x for x in (url, json.dumps(resource) if resource else "", if_none_exist or "", raw_body or "") if x)


class MatrixCase(unittest.TestCase):
    """Assertions shared by the matrix classes."""

    def check_refused(self, cell, caller, res):
        self.assertEqual(res.status, 403, cell)
        if caller.names:
            self.assertIn(caller.names, json.dumps(res.body), cell + ": the 403 must name the malformed scope")

    def check_no_leak(self, cell, caller, res, req_text):
        if caller.kind == "open":
            return
        found = C.leaks(res.raw, req_text)
        self.assertFalse(found, "%s: response names B (%s): ...%s..." % (cell, found, C.leak_context(res.raw, req_text)))

    def check_like_never(self, cell, res, never_res, ident):
        """res (for `ident`) must look exactly like never_res (for NEVER)."""
        self.assertEqual(res.status, never_res.status, "%s: status differs from a never-existing id (%r vs %r)"
                         % (cell, res, never_res))
        self.assertEqual(C.outcome_sig(res.body, ident, NEVER), C.outcome_sig(never_res.body, NEVER, NEVER),
                         "%s: outcome differs from a never-existing id" % cell)


# ------------------------------------------------------------------------------------------------
# Reads by id: interaction x target x route x caller
# ------------------------------------------------------------------------------------------------
BY_ID = [
    # interaction   url template                  routes
    ("read",        "{key}",                      ALL_ROUTES),
    ("vread",       "{key}/_history/1",           ALL_ROUTES),
    ("history",     "{key}/_history",             ALL_ROUTES),
    ("validate",    "{key}/$validate",            (DIRECT,)),
    ("everything",  "{key}/$everything",          (DIRECT,)),   # Patient targets only
    ("meta",        "{key}/$meta",                (DIRECT,)),   # authorized as read
    ("meta-vread",  "{key}/_history/1/$meta",     (DIRECT,)),   # authorized as vread
]
TARGETS = [
    # data label          key
    ("A",                 "Observation/alpha-lab"),
    ("A-vital",           "Observation/alpha-vital"),   # outside pAcat's category constraint
    ("A-patient",         "Patient/alpha"),
    ("A-deleted",         "Condition/alpha-cond-del"),
    ("A-condition",       "Condition/alpha-cond"),
    ("B",                 "Observation/beta-lab"),
    ("B-patient",         "Patient/beta"),
    ("B-condition",       "Condition/beta-cond"),
    ("B-deleted",         "Condition/beta-cond-del"),
    ("shared-org",        "Organization/org-shared"),
    ("shared-prac",       "Practitioner/prac-shared"),
]


class Exp:
    """Expected outcome of a cell: allowed statuses; like_never = must equal the never-existing
    id's answer; alt403 = a uniform 403 (the interaction refused for this caller whatever the
    target) is also acceptable."""

    def __init__(self, codes, like_never=False, alt403=False):
        self.codes, self.like_never, self.alt403 = set(codes), like_never, alt403

    def __repr__(self):
        return "Exp(%s%s%s)" % (sorted(self.codes), " like-never" if self.like_never else "",
                                " or-403" if self.alt403 else "")


def expect_by_id(caller, inter, key):
    rtype = key.split("/")[0]
    if caller.kind == "refused":
        return Exp({403})
    need = "validate" if inter == "validate" else "read"
    if need not in caller.perms or not caller.may_type(rtype):
        return Exp({403})
    # a restricted caller may be refused $validate / a type-limited one $everything outright
    alt = caller.restricted and (inter == "validate" or (inter == "everything" and caller.types is not None))
    if not C.in_view(caller, key, include_deleted=True):
        return Exp({404}, like_never=True, alt403=alt)
    if C.DATA[key][2] and inter in ("read", "validate", "everything", "meta"):
        return Exp({410}, alt403=alt)
    return Exp({200}, alt403=alt)


def check_status(tc, cell, exp, res):
    if exp.alt403 and res.status == 403:
        return False
    tc.assertIn(res.status, exp.codes, "%s: expected %s, got %r" % (cell, exp, res))
    return True


# ------------------------------------------------------------------------------------------------
# Searches: every search feature. Expected matches/includes are over ALL data; a caller gets the
# intersection with its view (includes too; totals count the view only).
# ------------------------------------------------------------------------------------------------
OBS = "Observation/alpha-lab Observation/alpha-vital Observation/beta-lab Observation/beta-vital"
PATS = "Patient/alpha Patient/beta"
CONDS = "Condition/alpha-cond Condition/beta-cond"
ENCS = "Encounter/alpha-enc Encounter/beta-enc"
SEARCH = [
    # label              query                                                  matches                                      includes            check
    ("type",             "Observation",                                         OBS,                                         "",                 ""),
    ("token",            "Observation?category=laboratory",                     "Observation/alpha-lab Observation/beta-lab", "",                ""),
    ("token-not",        "Observation?category:not=vital-signs",                "Observation/alpha-lab Observation/beta-lab", "",                ""),
    ("string-B",         "Patient?family=Beta",                                 "Patient/beta",                              "",                 ""),
    ("identifier-B",     "Patient?identifier=MRN-B-SECRET",                     "Patient/beta",                              "",                 ""),
    ("date-B",           "Patient?birthdate=1911-11-11",                        "Patient/beta",                              "",                 ""),
    ("reference-B",      "Observation?subject=Patient/beta",                    "Observation/beta-lab Observation/beta-vital", "",               ""),
    ("id-list",          "Observation?_id=alpha-lab,beta-lab",                  "Observation/alpha-lab Observation/beta-lab", "",                ""),
    ("deleted",          "Condition?_id=alpha-cond-del,beta-cond-del",          "",                                          "",                 ""),
    ("missing",          "Observation?encounter:missing=false",                 OBS,                                         "",                 ""),
    ("sort",             "Observation?_sort=-code",                             OBS,                                         "",                 ""),
    ("include",          "Observation?_include=Observation:subject",            OBS,                                         PATS,               ""),
    ("include-B",        "Observation?code=beta-lab&_include=Observation:subject", "Observation/beta-lab",                   "Patient/beta",     ""),
    ("include-*",        "Observation?_include=*",                              OBS,                                         PATS + " " + ENCS + " Practitioner/prac-shared", ""),
    ("revinclude",       "Patient?_revinclude=Observation:subject",             PATS,                                        OBS,                ""),
    ("revinclude-*",     "Patient?_revinclude=*",                               PATS,                                        OBS + " " + CONDS + " " + ENCS, ""),
    ("include-iterate",  "Observation?category=laboratory&_include=Observation:subject&_include:iterate=Patient:organization",
                                                                                "Observation/alpha-lab Observation/beta-lab", PATS + " Organization/org-shared", ""),
    ("revinc-iterate",   "Encounter?_revinclude=Observation:encounter&_include:iterate=Observation:subject",
                                                                                ENCS,                                        OBS + " " + PATS,   ""),
    ("revinclude-org",   "Organization?_revinclude=Patient:organization",       "Organization/org-shared",                   PATS,               ""),
    ("has",              "Patient?_has:Observation:subject:category=vital-signs", PATS,                                      "",                 ""),
    ("has-B",            "Patient?_has:Observation:subject:code=beta-lab",      "Patient/beta",                              "",                 ""),
    ("has-org",          "Organization?_has:Patient:organization:family=Beta",  "Organization/org-shared",                   "",                 ""),
    ("chain-B",          "Observation?subject:Patient.family=Beta",             "Observation/beta-lab Observation/beta-vital", "",               ""),
    ("chain-A",          "Observation?subject.family=Alpha",                    "Observation/alpha-lab Observation/alpha-vital", "",             ""),
    ("chain-2",          "Observation?encounter.subject:Patient.family=Beta",   "Observation/beta-lab Observation/beta-vital", "",               ""),
    ("summary-count",    "Observation?_summary=count",                          OBS,                                         "",                 "count"),
    ("total",            "Observation?_total=accurate&_count=1",                OBS,                                         "",                 "total"),
    ("elements",         "Observation?_elements=code",                          OBS,                                         "",                 ""),
    ("condition",        "Condition",                                           CONDS,                                       "",                 ""),
    ("encounter-B",      "Encounter?subject=Patient/beta",                      "Encounter/beta-enc",                        "",                 ""),
    ("organization",     "Organization",                                        "Organization/org-shared",                   "",                 ""),
    ("practitioner",     "Practitioner",                                        "Practitioner/prac-shared",                  "",                 ""),
    # system search
    ("system",           "?_type=Patient,Observation",                          PATS + " " + OBS,                            "",                 ""),
    ("system-B",         "?_type=Observation&code=beta-lab",                    "Observation/beta-lab",                      "",                 ""),
    ("system-all-types", "?_id=alpha,beta,org-shared",                          PATS + " Organization/org-shared",           "",                 ""),
    # compartment search
    ("compartment-A",    "Patient/alpha/Observation",                           "Observation/alpha-lab Observation/alpha-vital", "",             ""),
    ("compartment-B",    "Patient/beta/Observation",                            "Observation/beta-lab Observation/beta-vital", "",               "other-compartment"),
    ("compartment-B-*",  "Patient/beta/*",                                      "Patient/beta Observation/beta-lab Observation/beta-vital Condition/beta-cond Encounter/beta-enc",
                                                                                                                             "",                 "other-compartment"),
    ("compartment-A-*",  "Patient/alpha/*",                                     "Patient/alpha Observation/alpha-lab Observation/alpha-vital Condition/alpha-cond Encounter/alpha-enc",
                                                                                                                             "",                 ""),
]
# _has and chains are evaluated over the caller's view: a match counts only when the resources
# that make it match are visible too (row label -> match -> what must be visible)
NEEDS = {
    "has":      {"Patient/alpha": "Observation/alpha-vital", "Patient/beta": "Observation/beta-vital"},
    "has-B":    {"Patient/beta": "Observation/beta-lab"},
    "has-org":  {"Organization/org-shared": "Patient/beta"},
    "chain-A":  {"Observation/alpha-lab": "Patient/alpha", "Observation/alpha-vital": "Patient/alpha"},
    "chain-B":  {"Observation/beta-lab": "Patient/beta", "Observation/beta-vital": "Patient/beta"},
    "chain-2":  {"Observation/beta-lab": "Encounter/beta-enc Patient/beta",
                 "Observation/beta-vital": "Encounter/beta-enc Patient/beta"},
}
SEARCH_ROUTES = (DIRECT, "post-_search", BATCH, TX)


def search_types(query):
    """(resource types the search reads as main type, whether the type set is open-ended)."""
    path, _, qs = query.partition("?")
    if not path:  # system search
        for p in qs.split("&"):
            if p.startswith("_type="):
                return set(p[6:].split(",")), False
        return set(), True
    parts = path.split("/")
    if len(parts) == 3:
        return ({parts[2]} if parts[2] != "*" else set()), parts[2] == "*"
    return {parts[0]}, False


def expect_search(caller, query, check):
    """Exp for the status; the result sets are checked by check_search_body."""
    if caller.kind == "refused" or "read" not in caller.perms:
        return Exp({403})
    types, open_ended = search_types(query)
    if caller.types is not None:
        if open_ended or not types <= caller.types:
            # a type outside the scopes: 403 for one type; a filtered answer is also fine for a
            # system / compartment search over several types
            return Exp({403}) if len(types) == 1 and not open_ended else Exp({200}, alt403=True)
    if caller.restricted and check == "other-compartment":
        return Exp({200, 404})
    return Exp({200})


class AuthzMatrixReads(MatrixCase):
    @classmethod
    def setUpClass(cls):
        cls.s = C.start_server()
        C.write_matrix_data(cls.s)
        cls.tokens = {c.name: C.token(c) for c in C.CALLERS}
        cls.never_cache = {}

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def never(self, caller, route, url):
        k = (caller.name, route, url)
        if k not in self.never_cache:
            self.never_cache[k] = perform(self.s, self.tokens[caller.name], route, "GET", url)
        return self.never_cache[k]

    def test_reads_by_id(self):
        for inter, tmpl, routes in BY_ID:
            for label, key in TARGETS:
                if inter == "everything" and not key.startswith("Patient/"):
                    continue
                for route in routes:
                    for caller in C.CALLERS:
                        cell = "[%s %s %s via %s as %s]" % (inter, label, key, route, caller.name)
                        with self.subTest(cell=cell):
                            self.by_id_cell(cell, caller, inter, tmpl, key, route)

    def by_id_cell(self, cell, caller, inter, tmpl, key, route):
        exp = expect_by_id(caller, inter, key)
        url = tmpl.format(key=key)
        res = perform(self.s, self.tokens[caller.name], route, "GET", url)
        self.check_no_leak(cell, caller, res, url)  # the requested id itself may be echoed
        if exp.codes == {403} and not exp.alt403:
            return self.check_refused(cell, caller, res) if caller.kind == "refused" else \
                self.assertEqual(res.status, 403, "%s: %r" % (cell, res))
        rtype, rid = key.split("/")
        if exp.like_never:  # also when refused outright: a 403 here must be a 403 for any id
            self.check_like_never(cell, res, self.never(caller, route, tmpl.format(key=rtype + "/" + NEVER)), rid)
        if not check_status(self, cell, exp, res):
            return
        if res.status == 200 and caller.restricted:
            got = set()
            if res.body.get("resourceType") == "Bundle":
                for e in res.body.get("entry") or []:
                    r = e.get("resource")
                    if r and r.get("resourceType") != "OperationOutcome":
                        got.add("%s/%s" % (r["resourceType"], r["id"]))
            elif inter not in ("validate", "meta", "meta-vread"):
                got.add("%s/%s" % (res.body["resourceType"], res.body["id"]))
            for k in got:
                self.assertTrue(k in C.DATA and C.in_view(caller, k, include_deleted=True),
                                "%s: returned %s outside the caller's view" % (cell, k))
            if inter == "everything":
                want = {k for k in C.DATA if C.in_view(caller, k)}
                self.assertEqual(got, want, cell + ": $everything must return exactly the view")
        if inter in ("meta", "meta-vread") and res.status == 200:  # that resource's own meta codes
            self.assertEqual(res.body["resourceType"], "Parameters", cell)
            meta = res.body["parameter"][0]["valueMeta"]
            self.assertEqual(meta.get("versionId"), "1" if inter == "meta-vread" else meta.get("versionId"), cell)
            if key in C.META_CODES:
                self.assertIn(C.META_CODES[key][2], json.dumps(meta), cell + ": $meta lacks the resource's code")
        if inter == "everything" and res.status == 200:  # for any caller: nothing of the other patient
            other = "beta" if rid == "alpha" else "alpha"
            for e in res.body.get("entry") or []:
                k = "%s/%s" % (e["resource"]["resourceType"], e["resource"]["id"])
                self.assertNotIn(other, k, cell + ": another patient's resource in $everything")

    def test_search(self):
        for label, query, matches, includes, check in SEARCH:
            for route in SEARCH_ROUTES:
                if route == "post-_search" and query.startswith("Patient/") and "/" in query[8:]:
                    continue  # compartment searches have no POST form here
                for caller in C.CALLERS:
                    cell = "[search %s %s via %s as %s]" % (label, query, route, caller.name)
                    with self.subTest(cell=cell):
                        self.search_cell(cell, caller, query, route, S(matches), S(includes), check,
                                         NEEDS.get(label, {}))

    def search_cell(self, cell, caller, query, route, matches, includes, check, needs):
        tok = self.tokens[caller.name]
        if route == "post-_search":
            path, _, qs = query.partition("?")
            r = self.s.request("POST", "/%s_search" % (path + "/" if path else ""), qs, token=tok,
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
            res = Result(r.status, C.body_json(r), r)
        else:
            res = perform(self.s, tok, route, "GET", query)
        self.check_no_leak(cell, caller, res, query)
        exp = expect_search(caller, query, check)
        if exp.codes == {403} and not exp.alt403:
            return self.check_refused(cell, caller, res) if caller.kind == "refused" else \
                self.assertEqual(res.status, 403, "%s: %r" % (cell, res))
        if not check_status(self, cell, exp, res) or res.status != 200:
            return
        self.assertEqual(res.body.get("resourceType"), "Bundle", cell)
        got_m, got_i = C.search_entries(res.body)
        want_m = {k for k in matches if C.in_view(caller, k) and all(C.in_view(caller, n) for n in S(needs.get(k, "")))}
        # includes come from visible matches only: none when no match is visible
        want_i = {k for k in includes if C.in_view(caller, k)} - want_m if want_m else set()
        if caller.types is not None and res.status == 200:
            # a type-limited caller answered 200 for a search over types it lacks: filtered
            want_m = {k for k in want_m if caller.may_type(k.split("/")[0])}
        for k in got_m | got_i:
            self.assertTrue(k in C.DATA and C.in_view(caller, k), "%s: returned %s outside the view" % (cell, k))
        if check == "count":
            self.assertEqual(res.body.get("total"), len(want_m), cell + ": _summary=count total")
            self.assertEqual(got_m, set(), cell + ": _summary=count has no entries")
            return
        if check == "total":
            self.assertEqual(res.body.get("total"), len(want_m), cell + ": _total=accurate")
            self.assertTrue(got_m <= want_m and len(got_m) == min(1, len(want_m)), "%s: %s" % (cell, got_m))
            return
        self.assertEqual(got_m, want_m, cell + ": matches")
        self.assertEqual(got_i, want_i, cell + ": includes")
        if "total" in res.body:
            self.assertEqual(res.body["total"], len(want_m), cell + ": total counts the view only")

    def test_history_type_and_system(self):
        for label, url in (("type-history", "Observation/_history"), ("type-history-Condition", "Condition/_history"),
                           ("system-history", "_history")):
            for route in ALL_ROUTES:
                for caller in C.CALLERS:
                    cell = "[%s %s via %s as %s]" % (label, url, route, caller.name)
                    with self.subTest(cell=cell):
                        res = perform(self.s, self.tokens[caller.name], route, "GET", url)
                        self.check_no_leak(cell, caller, res, url)
                        rtype = url.split("/")[0] if "/" in url else None
                        if caller.kind == "refused" or (rtype and not caller.may_type(rtype)):
                            self.check_refused(cell, caller, res) if caller.kind == "refused" else \
                                self.assertEqual(res.status, 403, cell)
                            continue
                        if caller.restricted:  # filtered to the view, or refused
                            self.assertIn(res.status, (200, 403), "%s: %r" % (cell, res))
                        else:
                            self.assertEqual(res.status, 200, "%s: %r" % (cell, res))
                        if res.status == 200 and caller.restricted:
                            for e in res.body.get("entry") or []:
                                r = e.get("resource")
                                url_parts = ((e.get("request") or {}).get("url") or e.get("fullUrl") or "")
                                key = "%s/%s" % (r["resourceType"], r["id"]) if r else \
                                    "/".join(url_parts.split("/_history")[0].split("?")[0].split("/")[-2:])
                                self.assertTrue(key in C.DATA and C.in_view(caller, key, True),
                                                "%s: history names %s" % (cell, key))

    def test_meta_summary(self):
        """$meta at system and type level: exactly the codes of current resources in the caller's
        view (codes used only outside it, or only by deleted resources, never appear)."""
        for url, types in (("$meta", None), ("Observation/$meta", {"Observation"}), ("Condition/$meta", {"Condition"})):
            for caller in C.CALLERS:
                cell = "[%s as %s]" % (url, caller.name)
                with self.subTest(cell=cell):
                    r = self.s.request("GET", "/" + url, token=self.tokens[caller.name])
                    res = Result(r.status, C.body_json(r), r)
                    self.check_no_leak(cell, caller, res, url)
                    if caller.kind == "refused":
                        self.check_refused(cell, caller, res)
                        continue
                    if "read" not in caller.perms or (types and not all(caller.may_type(t) for t in types)):
                        self.assertEqual(r.status, 403, "%s: %r" % (cell, res))
                        continue
                    if caller.types is not None and types is None and r.status == 403:
                        continue  # a type-limited caller may be refused the system level outright
                    self.assertEqual(r.status, 200, "%s: %r" % (cell, res))
                    meta = res.body["parameter"][0]["valueMeta"]
                    got = set(meta.get("profile", []))
                    for kind in ("tag", "security"):
                        got |= {c["code"] for c in meta.get(kind, [])}
                    want = {code for k, (_, _, code) in C.META_CODES.items()
                            if C.in_view(caller, k) and (types is None or k.split("/")[0] in types)}
                    self.assertEqual(got, want, cell)

    def test_export_kickoff(self):
        for caller in C.CALLERS:
            for url in ("$export", "Patient/$export"):
                cell = "[export %s as %s]" % (url, caller.name)
                with self.subTest(cell=cell):
                    r = self.s.request("GET", "/" + url, token=self.tokens[caller.name],
                                       headers={"Prefer": "respond-async"})
                    res = Result(r.status, C.body_json(r), r)
                    self.check_no_leak(cell, caller, res, url)
                    if caller.kind == "refused":
                        self.check_refused(cell, caller, res)
                    elif "export" in caller.perms and not caller.restricted:
                        self.assertEqual(r.status, 202, "%s: %r" % (cell, res))
                        loc = r.header("content-location")
                        self.s.request("DELETE", "/" + loc.split("/", 3)[3], token=self.tokens[caller.name])
                    else:
                        self.assertEqual(r.status, 403, "%s: %r" % (cell, res))

    def test_validate_posted_resource(self):
        body = C.observation("new", "alpha", "laboratory", "x", "x")
        del body["id"]
        # POST /$validate (system level) is decided on the posted resource's type: same cells.
        for caller, path in [(c, p) for c in C.CALLERS for p in ("/Observation/$validate", "/$validate")]:
            cell = "[validate POST %s as %s]" % (path[1:], caller.name)
            with self.subTest(cell=cell):
                r = self.s.request("POST", path, body, token=self.tokens[caller.name])
                res = Result(r.status, C.body_json(r), r)
                self.check_no_leak(cell, caller, res, "")
                if caller.kind == "refused":
                    self.check_refused(cell, caller, res)
                elif "validate" in caller.perms and caller.may_type("Observation"):
                    self.assertIn(r.status, (200,) + ((403,) if caller.restricted else ()), "%s: %r" % (cell, res))
                else:
                    self.assertEqual(r.status, 403, "%s: %r" % (cell, res))

    def test_terminology_operations(self):
        """Terminology (issue 21): the bundled content for any authenticated caller whose claims
        parse; a stored ValueSet only for callers who may search ValueSet (type level) or read it
        (instance level); restricted callers never learn a stored definition (it names B)."""
        vs = {"resourceType": "ValueSet", "id": "vs-beta-terms", "url": "http://example.org/vs/beta-terms",
              "status": "active", "compose": {"include": [{"system": "http://example.org/beta",
                                                           "concept": [{"code": "beta-term-code"}]}]}}
        r = self.s.request("PUT", "/ValueSet/vs-beta-terms", vs, token=self.tokens["Contributor"])
        self.assertIn(r.status, (200, 201), r)
        gender = "ValueSet/$expand?url=http%3A%2F%2Fhl7.org%2Ffhir%2FValueSet%2Fadministrative-gender"
        stored = "ValueSet/$expand?url=http%3A%2F%2Fexample.org%2Fvs%2Fbeta-terms"
        instance = "ValueSet/vs-beta-terms/$expand"
        for caller in C.CALLERS:
            claim_problem = caller.kind == "refused" and caller.scp is not None
            reader = caller.kind == "open" and "read" in caller.perms
            for url in (gender, stored, instance):
                cell = "[terminology GET %s as %s]" % (url, caller.name)
                with self.subTest(cell=cell):
                    r = self.s.request("GET", "/" + url, token=self.tokens[caller.name])
                    res = Result(r.status, C.body_json(r), r)
                    self.check_no_leak(cell, caller, res, url)
                    if claim_problem:
                        self.check_refused(cell, caller, res)
                    elif url == gender:
                        self.assertEqual(r.status, 200, "%s: %r" % (cell, res))
                        self.assertIn("female", r.body.decode())
                    elif reader:
                        self.assertEqual(r.status, 200, "%s: %r" % (cell, res))
                        self.assertIn("beta-term-code", r.body.decode())
                    elif url == stored:
                        self.assertEqual(r.status, 404, "%s: %r" % (cell, res))  # as if it did not exist
                    else:
                        self.assertIn(r.status, (403, 404), "%s: %r" % (cell, res))
                    if not reader:
                        self.assertNotIn("beta-term-code", r.body.decode(), cell)


if __name__ == "__main__":
    unittest.main()


# ------------------------------------------------------------------------------------------------
# Writes: interaction x target kind x route x caller. Each cell writes to its own fresh target
# (created by the Contributor just before), so an allowed write never changes the data another
# cell reads. Kinds: A (alpha's Observation), B (beta's), Bdel (beta's, deleted), Org (a shared
# Organization), new (no target). Outcomes: a set of statuses, NEVER = exactly like the same
# request on a never-existing id / a condition matching nothing (with those statuses).
# ------------------------------------------------------------------------------------------------
OK = {200}
CREATED = {201}
GONE_OK = {200, 204}
N404 = ("never", {404})
N404_403 = ("never", {403, 404})
NDEL = ("never", {200, 204})
NDEL_403 = ("never", {200, 204, 403})


def _obs_body(n, code, subject="Patient/alpha", performers=None, rid=None):
    o = C.observation(rid or "x", subject.split("/")[1], "laboratory", code, "w%d" % n, performers=performers)
    o["subject"] = C.ref(subject)
    if rid is None:
        del o["id"]
    return o


def _org_body(n, code, rid=None):
    o = {"resourceType": "Organization", "name": "w%d" % n,
         "identifier": [{"system": "http://example.org/org", "value": code}]}
    if rid:
        o["id"] = rid
    return o


def _patch(ops):
    return json.dumps(ops)


def _fp_replace(key, path, value):
    """A FHIRPath Patch replacing `path` (relative to the resource) with a string value."""
    vk = "valueCode" if path == "status" else "valueString"
    return {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": key.split("/")[0] + "." + path},
        {"name": "value", vk: value}]}]}


def _meta_params(n):
    return {"resourceType": "Parameters", "parameter": [{"name": "meta", "valueMeta": {
        "tag": [{"system": "http://example.org/tags", "code": "w%d" % n}]}}]}


# request builders: (kind, target key, target code, n) -> (method, url, resource, raw_body, if_none_exist)
def _body_for(key, code, n, **kw):
    rtype, rid = key.split("/")
    return _org_body(n, code, rid) if rtype == "Organization" else _obs_body(n, code, rid=rid, **kw)


def _cond_query(key, code):
    rtype = key.split("/")[0]
    return "%s?%s=%s" % (rtype, "identifier" if rtype == "Organization" else "code", code)


def _cond_body(key, n):
    return _org_body(n, "new-w%d" % n) if key.startswith("Organization") else _obs_body(n, "new-w%d" % n)


WRITES = [
    # label                 perm      kinds                       request builder
    #                                                             restricted writer per kind / open writer per kind
    ("create",              "write",  ["new"],                    lambda k, c, n: ("POST", "Observation", _obs_body(n, "new-w%d" % n), None, None),
                                                                  {"new": CREATED}, {"new": CREATED}),
    ("create-subject-B",    "write",  ["new"],                    lambda k, c, n: ("POST", "Observation", _obs_body(n, "new-w%d" % n, "Patient/beta"), None, None),
                                                                  {"new": {403}}, {"new": CREATED}),
    ("create-performer-B",  "write",  ["new"],                    lambda k, c, n: ("POST", "Observation", _obs_body(n, "new-w%d" % n, performers=["Patient/beta"]), None, None),
                                                                  {"new": {403}}, {"new": CREATED}),
    ("create-Patient",      "write",  ["new"],                    lambda k, c, n: ("POST", "Patient", {"resourceType": "Patient", "id": C.PA, "identifier": [{"value": "new-w%d" % n}]}, None, None),
                                                                  {"new": {403}}, {"new": CREATED}),
    ("create-Organization", "write",  ["new"],                    lambda k, c, n: ("POST", "Organization", _org_body(n, "new-w%d" % n), None, None),
                                                                  {"new": {403}}, {"new": CREATED}),
    ("update",              "write",  ["A", "B", "Bdel", "Org"],  lambda k, c, n: ("PUT", k, _body_for(k, c, n), None, None),
                                                                  {"A": OK, "B": N404, "Bdel": N404, "Org": N404_403},
                                                                  {"A": OK, "B": OK, "Bdel": {200, 201}, "Org": OK}),
    ("update-move-to-B",    "write",  ["A"],                      lambda k, c, n: ("PUT", k, _body_for(k, c, n, subject="Patient/beta"), None, None),
                                                                  {"A": {403}}, {"A": OK}),
    ("update-own-Patient",  "write",  ["new"],                    lambda k, c, n: ("PUT", "Patient/alpha", C.patient("alpha", "Alpha", "1980-01-01", "MRN-A-1", C.A_MARK), None, None),
                                                                  {"new": OK}, {"new": OK}),
    ("update-other-Patient", "write", ["new"],                    lambda k, c, n: ("PUT", "Patient/zz-new-w%d" % n, {"resourceType": "Patient", "id": "zz-new-w%d" % n}, None, None),
                                                                  {"new": {403, 404}}, {"new": CREATED}),
    ("patch",               "write",  ["A", "B", "Bdel", "Org"],  lambda k, c, n: ("PATCH", k, None, _patch([{"op": "replace", "path": "/name" if k.startswith("Org") else "/status", "value": "amended" if not k.startswith("Org") else "x%d" % n}]), None),
                                                                  {"A": OK, "B": N404, "Bdel": N404, "Org": N404_403},
                                                                  {"A": OK, "B": OK, "Bdel": {410}, "Org": OK}),
    ("fhirpath-patch",      "write",  ["A", "B", "Bdel", "Org"],  lambda k, c, n: ("PATCH", k, _fp_replace(k, "name" if k.startswith("Org") else "status", "x%d" % n if k.startswith("Org") else "amended"), None, None),
                                                                  {"A": OK, "B": N404, "Bdel": N404, "Org": N404_403},
                                                                  {"A": OK, "B": OK, "Bdel": {410}, "Org": OK}),
    ("fhirpath-patch-move-to-B", "write", ["A"],                  lambda k, c, n: ("PATCH", k, _fp_replace(k, "subject.reference", "Patient/beta"), None, None),
                                                                  {"A": {403}}, {"A": OK}),
    ("meta-add",            "write",  ["A", "B", "Bdel", "Org"],  lambda k, c, n: ("POST", k + "/$meta-add", _meta_params(n), None, None),
                                                                  {"A": OK, "B": N404, "Bdel": N404, "Org": N404_403},
                                                                  {"A": OK, "B": OK, "Bdel": {410}, "Org": OK}, (DIRECT,)),
    ("meta-delete",         "write",  ["A", "B", "Bdel", "Org"],  lambda k, c, n: ("POST", k + "/$meta-delete", _meta_params(n), None, None),
                                                                  {"A": OK, "B": N404, "Bdel": N404, "Org": N404_403},
                                                                  {"A": OK, "B": OK, "Bdel": {410}, "Org": OK}, (DIRECT,)),
    ("patch-move-to-B",     "write",  ["A"],                      lambda k, c, n: ("PATCH", k, None, _patch([{"op": "replace", "path": "/subject/reference", "value": "Patient/beta"}]), None),
                                                                  {"A": {403}}, {"A": OK}),
    ("delete",              "delete", ["A", "B", "Bdel", "Org"],  lambda k, c, n: ("DELETE", k, None, None, None),
                                                                  {"A": GONE_OK, "B": NDEL, "Bdel": NDEL, "Org": NDEL_403},
                                                                  {"A": GONE_OK, "B": GONE_OK, "Bdel": {200, 204, 410}, "Org": GONE_OK}),
    ("cond-create",         "write",  ["A", "B", "Bdel", "Org"],  lambda k, c, n: ("POST", k.split("/")[0], _cond_body(k, n), None, _cond_query(k, c).split("?")[1]),
                                                                  {"A": OK, "B": CREATED, "Bdel": CREATED, "Org": {403}},
                                                                  {"A": OK, "B": OK, "Bdel": CREATED, "Org": OK}),
    ("cond-create-multiple", "write", ["new"],                    lambda k, c, n: ("POST", "Observation", _obs_body(n, "new-w%d" % n), None, "subject=Patient/alpha"),
                                                                  {"new": {412}}, {"new": {412}}),
    ("cond-update",         "write",  ["A", "B", "Bdel", "Org"],  lambda k, c, n: ("PUT", _cond_query(k, c), _cond_body(k, n), None, None),
                                                                  {"A": OK, "B": CREATED, "Bdel": CREATED, "Org": {403}},
                                                                  {"A": OK, "B": OK, "Bdel": CREATED, "Org": OK}),
    ("cond-patch",          "write",  ["A", "B", "Bdel", "Org"],  lambda k, c, n: ("PATCH", _cond_query(k, c), None, _patch([{"op": "add", "path": "/language", "value": "en"}]), None),
                                                                  {"A": OK, "B": N404, "Bdel": N404, "Org": N404_403},
                                                                  {"A": OK, "B": OK, "Bdel": {404}, "Org": OK}),
    ("cond-delete",         "delete", ["A", "B", "Bdel", "Org"],  lambda k, c, n: ("DELETE", _cond_query(k, c), None, None, None),
                                                                  {"A": GONE_OK, "B": NDEL, "Bdel": NDEL, "Org": NDEL_403},
                                                                  {"A": GONE_OK, "B": GONE_OK, "Bdel": GONE_OK, "Org": GONE_OK}),
]


def expect_write(caller, perm, kind, restricted_out, open_out):
    """(statuses, like_never, may_change_target)."""
    if caller.kind == "refused" or perm not in caller.perms:
        return {403}, False, False
    out = (restricted_out if caller.restricted else open_out)[kind]
    if isinstance(out, tuple):
        return out[1], True, False
    return out, False, caller.kind == "open" or kind == "A" or kind == "new"


class AuthzMatrixWrites(MatrixCase):
    @classmethod
    def setUpClass(cls):
        cls.s = C.start_server()
        C.write_matrix_data(cls.s)
        cls.tokens = {c.name: C.token(c) for c in C.CALLERS}
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def make_targets(self, specs):
        """specs: [(n, kind)] -> {n: (key, code)}; written in one transaction, Bdel ones deleted."""
        out, entries, dels = {}, [], []
        for n, kind in specs:
            if kind == "new":
                out[n] = (None, "new-w%d" % n)
                continue
            if kind == "Org":
                key, code = "Organization/org-w%d" % n, "org-w%d" % n
                body = _org_body(n, code, "org-w%d" % n)
            else:
                who = "alpha" if kind == "A" else "beta"
                rid = "%s-w%d" % (who, n)
                key, code = "Observation/" + rid, rid
                body = _obs_body(n, code, "Patient/" + who, rid=rid)
                body["note"] = [{"text": C.B_MARK if who == "beta" else C.A_MARK}]
                if kind == "Bdel":
                    dels.append(key)
            entries.append(C.entry("PUT", key, body))
            out[n] = (key, code)
        if entries:
            r = self.s.request("POST", "/", C.bundle("transaction", entries), token=C.admin_token())
            assert r.status == 200, r
        for k in dels:
            r = self.s.request("DELETE", "/" + k, token=C.admin_token())
            assert r.status in (200, 204), r
        return out

    def target_state(self, key):
        r = self.s.request("GET", "/" + key, token=C.admin_token())
        return r.status, (C.body_json(r) or {}).get("meta", {}).get("versionId")

    def test_writes(self):
        for row in WRITES:
            label, perm, kinds, build, r_out, o_out = row[:6]
            routes = row[6] if len(row) > 6 else ALL_ROUTES
            cells = []
            for kind in kinds:
                for route in routes:
                    for caller in C.CALLERS:
                        type(self).n += 1
                        cells.append((type(self).n, kind, route, caller))
            targets = self.make_targets([(n, kind) for n, kind, _, _ in cells])
            for n, kind, route, caller in cells:
                key, code = targets[n]
                cell = "[%s %s%s via %s as %s]" % (label, kind, " " + key if key else "", route, caller.name)
                with self.subTest(cell=cell):
                    self.write_cell(cell, caller, perm, kind, route, build, key, code, n, r_out, o_out)

    def write_cell(self, cell, caller, perm, kind, route, build, key, code, n, r_out, o_out):
        tok = self.tokens[caller.name]
        before = self.target_state(key) if key else None
        method, url, resource, raw, ine = build(key, code, n)
        res = perform(self.s, tok, route, method, url, resource, if_none_exist=ine, raw_body=raw)
        self.check_no_leak(cell, caller, res, request_text(url, resource, ine, raw))
        codes, like_never, may_change = expect_write(caller, perm, kind, r_out, o_out)
        if codes == {403} and caller.kind == "refused":
            self.check_refused(cell, caller, res)
        else:
            self.assertIn(res.status, codes, "%s: expected %s, got %r" % (cell, sorted(codes), res))
        if like_never:
            nkey = key.split("/")[0] + "/zz-never-w%d" % n
            ncode = "zz-never-w%d" % n
            m2, url2, res2, raw2, ine2 = build(nkey, ncode, n)
            never_res = perform(self.s, tok, route, m2, url2, res2, if_none_exist=ine2, raw_body=raw2)
            # the answer may name the requested id/code; substitute both before comparing
            sig = C.outcome_sig(res.body, key.split("/")[1], "zz-never-w%d" % n)
            sig = (sig[0], sig[1].replace(code, ncode)) if sig else sig
            self.assertEqual(res.status, never_res.status, "%s: status differs from a never-existing target (%r vs %r)"
                             % (cell, res, never_res))
            self.assertEqual(sig, C.outcome_sig(never_res.body, "", ""), "%s: outcome differs from a never-existing target" % cell)
        if key and not may_change:
            self.assertEqual(self.target_state(key), before, cell + ": the target must be unchanged")
        if res.status not in (200, 201) and kind == "new":
            r = self.s.request("GET", "/%s?%s=new-w%d" % (url.split("/")[0].split("?")[0],
                               "identifier" if url.startswith(("Organization", "Patient")) else "code", n),
                               token=C.admin_token())
            self.assertEqual((C.body_json(r) or {}).get("total"), 0, cell + ": a refused create stored something")

    def test_transaction_conditional_references(self):
        """A conditional reference resolves over the caller's view only: one matching only B fails
        exactly like one matching nothing, and stores nothing."""
        writers = [c for c in C.CALLERS if "write" in c.perms]
        for caller in writers:
            for field in ("focus", "subject"):
                for query in ("Patient?family=Beta", "Patient?identifier=MRN-B-SECRET", "Patient?family=Alpha"):
                    type(self).n += 1
                    n = type(self).n
                    cell = "[tx conditional reference %s=%s as %s]" % (field, query, caller.name)
                    with self.subTest(cell=cell):
                        self.cond_ref_cell(cell, caller, field, query, n)

    def cond_ref_cell(self, cell, caller, field, query, n):
        def tx(q, code):
            o = _obs_body(n, code)
            if field == "focus":
                o["focus"] = [C.ref(q)]
            else:
                o["subject"] = C.ref(q)
            return C.bundle("transaction", [C.entry("POST", "Observation", o, full_url="urn:uuid:00000000-0000-0000-0000-%012d" % n)])
        code = "cref-w%d" % n
        r = self.s.request("POST", "/", tx(query, code), token=self.tokens[caller.name])
        res = Result(r.status, C.body_json(r), r)
        self.check_no_leak(cell, caller, res, query)
        stored = C.body_json(self.s.request("GET", "/Observation?code=" + code, token=C.admin_token()))
        stored_refs = [e["resource"][field] for e in stored.get("entry") or []]
        stored_refs = [x[0]["reference"] if isinstance(x, list) else x["reference"] for x in stored_refs]
        target_is_a = query.endswith("Alpha")
        if caller.restricted and not target_is_a:
            never_q = query.replace("Beta", "Nonexistent").replace("MRN-B-SECRET", "MRN-NONEXISTENT")
            r2 = self.s.request("POST", "/", tx(never_q, "cref-never-w%d" % n), token=self.tokens[caller.name])
            self.assertEqual(r.status, r2.status, "%s: differs from a query matching nothing (%r vs %r)" % (cell, res, r2))
            self.assertNotEqual(r.status, 200, "%s: a query matching nothing must fail the transaction" % cell)
            sig = C.outcome_sig(res.body, query.split("=")[1], never_q.split("=")[1])
            self.assertEqual(sig, C.outcome_sig(C.body_json(r2), "", ""), cell + ": outcome text differs")
            self.assertEqual(stored_refs, [], cell + ": nothing may be stored")
            return
        # resolvable in the caller's view: rewritten and stored (an open caller's B reference in
        # `subject` is stored too; a restricted caller's reference to A is what it may write)
        self.assertEqual(r.status, 200, "%s: %r" % (cell, res))
        self.assertEqual(stored_refs, ["Patient/alpha" if target_is_a else "Patient/beta"],
                         cell + ": the conditional reference is rewritten")


# ------------------------------------------------------------------------------------------------
# The nine cases of issue 14, each with the exact request of the issue text ("pw" = pA:
# scp "patient/*.read patient/*.write", patient=alpha; B = beta).
# ------------------------------------------------------------------------------------------------
class Issue14Regressions(MatrixCase):
    @classmethod
    def setUpClass(cls):
        cls.s = C.start_server(audit=True)
        C.write_matrix_data(cls.s)
        cls.pw = C.token("pA")
        cls.admin = C.admin_token()

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def req(self, method, path, body=None, headers=None, token=None):
        r = self.s.request(method, path, body, token=token or self.pw, headers=headers)
        return Result(r.status, C.body_json(r), r)

    def assert_clean(self, what, res, req_text=""):
        found = C.leaks(res.raw, req_text)
        self.assertFalse(found, "%s: names B (%s): ...%s..." % (what, found, C.leak_context(res.raw, req_text)))

    def assert_in_view(self, what, bundle_body, caller=C.BY_NAME["pA"]):
        m, i = C.search_entries(bundle_body)
        for k in m | i:
            self.assertTrue(k in C.DATA and C.in_view(caller, k), "%s: returned %s" % (what, k))

    def b_unchanged(self, key="Observation/beta-lab"):
        r = self.s.request("GET", "/" + key, token=self.admin)
        self.assertEqual(r.status, 200, key + " must still exist")
        self.assertEqual(r.json()["meta"]["versionId"], "1", key + " must be unchanged")

    def test_issue14_case1_batch_search_entries(self):
        urls = ["Observation", "Patient?family=Beta", "Observation?subject=Patient/beta",
                "Observation?_include=Observation:subject", "Patient?_revinclude=Observation:subject"]
        res = self.req("POST", "/", C.bundle("batch", [C.entry("GET", u) for u in urls]))
        self.assertEqual(res.status, 200, res)
        self.assert_clean("batch of searches", res, " ".join(urls))
        for u, e in zip(urls, res.body["entry"]):
            self.assertEqual(C.status_code(e["response"]["status"]), 200, u)
            self.assert_in_view(u, e["resource"])

    def test_issue14_case2_conditional_oracle(self):
        # If-None-Exist matching only B: no match -> created in A's compartment
        body = _obs_body(1, "c2-create")
        res = self.req("POST", "/Observation", body, headers={"If-None-Exist": "code=beta-lab"})
        self.assert_clean("If-None-Exist code=beta-lab", res, "code=beta-lab")
        self.assertEqual(res.status, 201, res)
        # matches outside the view never count: one match in view -> 200 (A's), not 412
        res = self.req("POST", "/Observation", body, headers={"If-None-Exist": "code=alpha-lab,beta-lab"})
        self.assert_clean("If-None-Exist over A and B", res, "")
        self.assertEqual(res.status, 200, res)
        # conditional update / patch / delete on a query matching only B
        res = self.req("PUT", "/Observation?code=beta-lab", _obs_body(2, "c2-update"))
        self.assert_clean("conditional update", res, "code=beta-lab")
        self.assertEqual(res.status, 201, res)
        res = self.req("PATCH", "/Observation?code=beta-lab", _patch([{"op": "add", "path": "/language", "value": "en"}]),
                       headers={"Content-Type": "application/json-patch+json"})
        self.assert_clean("conditional patch", res, "code=beta-lab")
        self.assertEqual(res.status, 404, res)
        res = self.req("DELETE", "/Observation?code=beta-lab")
        self.assert_clean("conditional delete", res, "code=beta-lab")
        self.assertIn(res.status, (200, 204), res)
        self.b_unchanged()
        # the same inside a batch
        entries = [C.entry("POST", "Observation", _obs_body(3, "c2-batch"), if_none_exist="code=beta-lab"),
                   C.entry("PUT", "Observation?code=beta-lab", _obs_body(4, "c2-batch-u")),
                   C.entry("PATCH", "Observation?code=beta-lab", C.patch_binary([{"op": "add", "path": "/language", "value": "en"}])),
                   C.entry("DELETE", "Observation?code=beta-lab")]
        res = self.req("POST", "/", C.bundle("batch", entries))
        self.assert_clean("batch of conditionals", res, "code=beta-lab")
        self.assertEqual([C.status_code(e["response"]["status"]) for e in res.body["entry"]][:3], [201, 201, 404], res)
        self.assertIn(C.status_code(res.body["entry"][3]["response"]["status"]), (200, 204), res)
        self.b_unchanged()
        # POST /Patient with If-None-Exist: B's birth date and another date get one and the same
        # answer (no oracle); a query matching A and B matches A's own record only (no 412 count)
        answers = []
        for q in ("birthdate=1911-11-11", "birthdate=1955-05-05"):
            res = self.req("POST", "/Patient", {"resourceType": "Patient", "birthDate": "2000-01-01"}, headers={"If-None-Exist": q})
            self.assert_clean("POST /Patient If-None-Exist " + q, res, q)
            answers.append((res.status, C.outcome_sig(res.body, q, "Q")))
        self.assertEqual(len(set(answers)), 1, "If-None-Exist on POST /Patient is an oracle: %s" % answers)
        res = self.req("POST", "/Patient", {"resourceType": "Patient", "birthDate": "2000-01-01"},
                       headers={"If-None-Exist": "birthdate=ge1900-01-01"})
        self.assert_clean("POST /Patient If-None-Exist over A and B", res, "")
        self.assertEqual(res.status, 200, res)
        self.assertEqual(res.body["id"], "alpha")

    def cleanup_code(self, *codes):
        """Removes what a failing case stored (so it cannot pollute the other cases)."""
        for c in codes:
            self.s.request("DELETE", "/Observation?code=%s&_count=100" % c, token=self.admin)

    def cleanup_decoys(self):
        r = self.s.request("GET", "/Patient?identifier=" + C.B_MRN, token=self.admin).json()
        for e in r.get("entry") or []:
            if e["resource"]["id"] != "beta":
                self.s.request("DELETE", "/Patient/" + e["resource"]["id"], token=self.admin)

    def test_issue14_case3_transaction_conditional_reference(self):
        self.addCleanup(self.cleanup_code, "c3-beta", "c3-none", "c3-alpha")

        def tx(q, code):
            o = _obs_body(5, code)
            o["focus"] = [C.ref(q)]
            return C.bundle("transaction", [C.entry("POST", "Observation", o, full_url="urn:uuid:c3c3c3c3-0000-0000-0000-000000000001")])
        beta = self.req("POST", "/", tx("Patient?family=Beta", "c3-beta"))
        none = self.req("POST", "/", tx("Patient?family=Nonexistent", "c3-none"))
        self.assert_clean("conditional reference to B", beta, "Patient?family=Beta")
        self.assertNotEqual(beta.status, 200, "a reference resolving only outside the view must fail: %r" % beta)
        self.assertEqual(beta.status, none.status)
        self.assertEqual(C.outcome_sig(beta.body, "Beta", "Nonexistent"), C.outcome_sig(none.body, "", ""))
        stored = self.s.request("GET", "/Observation?code=c3-beta", token=self.admin).json()
        self.assertEqual(stored.get("total"), 0, "nothing may be stored")
        alpha = self.req("POST", "/", tx("Patient?family=Alpha", "c3-alpha"))
        self.assertEqual(alpha.status, 200, alpha)
        stored = self.s.request("GET", "/Observation?code=c3-alpha", token=self.admin).json()
        self.assertEqual(stored["entry"][0]["resource"]["focus"][0]["reference"], "Patient/alpha")

    def test_issue14_case4_deleted_resources_of_b(self):
        key, never = "Condition/beta-cond-del", "Condition/zz-never-c4"
        for route in (BATCH, TX, DIRECT):
            res = perform(self.s, self.pw, route, "GET", key + "/_history/1")
            nres = perform(self.s, self.pw, route, "GET", never + "/_history/1")
            self.assert_clean("vread of B's deleted via " + route, res, key)
            self.assertEqual(res.status, 404, "%s: %r" % (route, res))
            self.assertEqual(C.outcome_sig(res.body, "beta-cond-del", "zz-never-c4"), C.outcome_sig(nres.body, "", ""))
        # PUT of a new resource (subject A) under B's deleted id: no update-as-create
        body = C.condition("beta-cond-del", "alpha", "c4", C.A_MARK)
        res = self.req("PUT", "/" + key, body)
        self.assert_clean("PUT under B's deleted id", res, key)
        self.assertEqual(res.status, 404, res)
        # a Writer reuses the id for A: pw then sees only the new versions
        r = self.s.request("PUT", "/" + key, body, token=self.admin)
        self.assertIn(r.status, (200, 201), r)
        res = self.req("GET", "/" + key + "/_history")
        self.assert_clean("history of a reused id", res, key)
        self.assertEqual(res.status, 200, res)
        versions = [e["resource"]["meta"]["versionId"] for e in res.body.get("entry", []) if e.get("resource")]
        self.assertEqual(versions, ["3"], "only the version in A's compartment: %r" % res)
        for v in ("1", "2"):
            res = self.req("GET", "/%s/_history/%s" % (key, v))
            self.assert_clean("vread v%s of a reused id" % v, res, key)
            self.assertEqual(res.status, 404, res)

    def test_issue14_case5_v2_constraints_through_includes(self):
        cat = C.token("pAcat")
        for q in ("Patient?_revinclude=Observation:subject", "Patient?_revinclude=*"):
            res = self.req("GET", "/" + q, token=cat)
            self.assertEqual(res.status, 200, res)
            self.assert_clean(q, res)
            m, inc = C.search_entries(res.body)
            self.assertEqual(m, {"Patient/alpha"}, q)
            self.assertIn("Observation/alpha-lab", inc, q)
            self.assertNotIn("Observation/alpha-vital", inc, q + ": a vital-signs Observation through an include")
            for k in inc:  # only laboratory Observations of A (other cases may have added some)
                r = self.s.request("GET", "/" + k, token=self.admin).json()
                self.assertEqual((r["resourceType"], r["subject"]["reference"], r["category"][0]["coding"][0]["code"]),
                                 ("Observation", "Patient/alpha", "laboratory"), q + ": included " + k)
        vs = self.req("GET", "/Patient?_has:Observation:subject:category=vital-signs&_total=accurate", token=cat)
        lab = self.req("GET", "/Patient?_has:Observation:subject:category=laboratory&_total=accurate", token=cat)
        self.assertEqual((vs.status, vs.body.get("total")), (200, 0), vs)
        self.assertEqual((lab.status, lab.body.get("total")), (200, 1), lab)

    def test_issue14_case6_writes_into_another_patients_record(self):
        self.addCleanup(self.cleanup_code, "c6-obs")
        self.addCleanup(self.cleanup_decoys)
        o = _obs_body(6, "c6-obs", subject="Patient/beta", performers=["Patient/alpha"])
        res = self.req("POST", "/Observation", o)
        self.assertEqual(res.status, 403, res)
        self.assertEqual(self.s.request("GET", "/Observation?code=c6-obs", token=self.admin).json()["total"], 0)
        decoy = {"resourceType": "Patient", "id": "alpha", "identifier": [{"system": "http://example.org/mrn", "value": C.B_MRN}]}
        res = self.req("POST", "/Patient", decoy)
        self.assertEqual(res.status, 403, res)
        self.assertEqual(self.s.request("GET", "/Patient?identifier=" + C.B_MRN, token=self.admin).json()["total"], 1,
                         "no decoy Patient with B's MRN")

    def test_issue14_case7_malformed_scopes_fail_closed(self):
        for name in ("malQ", "malSR", "malEq", "malUp", "malTab"):
            c = C.BY_NAME[name]
            res = self.req("GET", "/Observation", token=C.token(c))
            self.assertEqual(res.status, 403, "%s: %r" % (name, res))
            self.assertIn(c.names, json.dumps(res.body), name + ": the 403 names the scope")
            self.assert_clean(name, res)
        # scp "openid" + scope "patient/*.rs": the scope claim is read -> restricted to A
        res = self.req("GET", "/Observation", token=C.token("pAscope"))
        self.assertEqual(res.status, 200, res)
        self.assert_clean("scope claim", res)
        # (other tests of this class may have added Observations of A: those are in view too)
        got = C.search_entries(res.body)[0]
        self.assertLessEqual({"Observation/alpha-lab", "Observation/alpha-vital"}, got)
        self.assertFalse([k for k in got if "beta" in k], got)

    def test_issue14_case8_user_scope_with_unparsable_patient_fhiruser(self):
        for name in ("fuSlash", "fuHist", "fuQuery"):
            res = self.req("GET", "/Observation", token=C.token(name))
            self.assertEqual(res.status, 403, "%s: %r" % (name, res))
            self.assert_clean(name, res)

    def test_issue14_case9_batch_entries_audited(self):
        entries = [C.entry("GET", "Observation/alpha-lab"), C.entry("GET", "Observation/beta-lab"),
                   C.entry("GET", "Observation?code=alpha-lab")]
        res = self.req("POST", "/", C.bundle("batch", entries), headers={"X-Request-Id": "issue14-case9"})
        self.assertEqual(res.status, 200, res)

        def mine(evs):
            return [e for e in evs if e.get("request_id") == "issue14-case9"]
        events = mine(C.wait_audit(self.s, lambda evs: len([e for e in mine(evs) if e.get("id") or e.get("type")]) >= 3))
        got = {(e.get("interaction"), e.get("type"), e.get("id"), e.get("status")) for e in events}
        self.assertIn(("read", "Observation", "alpha-lab", 200), got, events)
        self.assertTrue(any(i == "read" and t == "Observation" and rid == "beta-lab" and st != 200 for i, t, rid, st in got), events)
        self.assertTrue(any(i == "search-type" and t == "Observation" and st == 200 for i, t, rid, st in got), events)

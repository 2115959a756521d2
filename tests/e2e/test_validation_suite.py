"""The validation cases of the third-party fhir262 suite (issue 18), as data, against the real binary.

Source of the case list: HealthSamurai's open jest suite, github.com/HealthSamurai/fhir262, folder
tests/validation/ -- the files and the commits they were read at:
    $validation-op.ts                 dcd4a6503bc0f41477f568e41c5c2838f2a9f76c
    primitives-test.ts                2090b0e3311ea863225f803727cc55650d3ac6ef
    primitive-extensions-test.ts      525b0e1c0fe1a40f37f9a5d08f35f737f0c00cfd
    shapes-test.ts                    4ba3a805cc14586bf982e1889d9ad176492102e5
    simple-cases.ts                   2e9b7ea7a9bef18b4ee137297717d298ee432748
(validate-patient/test.ts, 156b5302afbc71a32bfbe6ef5fd0485f351673b9, is the same four checks as
simple-cases.ts -- the file under its earlier name -- and is counted once: 286 cases in all.)
The verdicts follow the suite's matchers (framework/matchers.ts 52091af7d04bfabab0ea99b85c0755fc10da636b)
and requests its interfaces/rest.ts and impl/hapi/index.ts.  Only the facts
are taken (which JSON input is valid or invalid FHIR R4, and where the issue points); this file is
our own code.  Each upstream `it` is one case here, so the count below is comparable with theirs.

How the suite talks to a server, reproduced here:
  * `operation(type, op, body)` = POST /{type}/{op} with Content-Type and Accept
    application/fhir+json; `systemOperation(op, body)` = POST /{op}.  A server "with core only" is
    a plain R4 server without implementation guides: here, the default config (validation strict).
  * valid   = status 2xx and no issue of severity error/fatal in the OperationOutcome;
  * invalid = the body is an OperationOutcome with at least one error/fatal issue (any status);
  * expr E  = some issue (any severity) has E among its `expression`s, exactly.
Primitive cases wrap `{"resourceType":"Parameters","parameter":[{"name":"x","valueT":V}]}` as
the `resource` parameter of the $validate input Parameters and POST it to /Parameters/$validate.

Cases that contradict the FHIR R4 specification are not bent to: EXPECTED_DIFFERENCES lists them
with the reason, and each is asserted to behave the opposite way (the way R4 says).
"""
import json
import sys
import unittest

from harness import Server, make_key, mint_token, pinned_auth

BIRTH_TIME = "http://hl7.org/fhir/StructureDefinition/patient-birthTime"
OWN_PREFIX = "http://hl7.org/fhir/StructureDefinition/humanname-own-prefix"

# --- primitives-test.ts: value key -> (accepted values, rejected values, value whose rejection
# must point at Parameters.parameter[0].value.ofType(T)).  JSON numbers are written as
# JavaScript's JSON.stringify prints them (-62e3 -> -62000, 1.5e-3 -> 0.0015).
PRIMITIVES = [
    ("valueBoolean", [True, False], [0, 1, "true", "True", "False", "TRUE", "", "yes", "no"], "true"),
    ("valueInteger", [0, 12, -300, 2147483647, -2147483648],
     [3.1, "42", 2147483648, -2147483649, True, "3.14", "+42", "  42", ""], 3.1),
    ("valueUnsignedInt", [0, 1, 100, 2147483647], [-1, 9.2, 2147483648, True, ""], -1),
    ("valuePositiveInt", [1, 100, 2147483647], [0, -1, 9.2, 2147483648, True, ""], 0),
    ("valueDecimal", [0, 12, 3.14, 0.1, -0.1, -62000, 0.0015, 2147483648], ["9.2", True], "9.2"),
    ("valueDateTime",
     ["0001", "2018", "1973-06", "1905-08-23", "2000-02-29", "2024-02-29", "2015-02-07T13:28:17-05:00",
      "2015-02-07T13:28:17+05:00", "2015-02-07T13:28:17-14:00", "2017-01-01T00:00:00Z",
      "2017-01-01T00:00:00.000Z", "2017-01-01T00:00:00.000000000Z", "2015-02-07T13:28:17+14:00"],
     ["", "201", "0000", "000a", "2000-0", "2000a01", "2000-0a", "2000-00", "2000-13", "2000-01-1",
      "2000-01-0a", "2000-01-00", "2000-01a01", "2024-02-31", "2024-01-35", "2023-02-29", "1900-02-29",
      "2015-02-07T25", "2015-02-07T15:", "2015-02-07T15:15", "2015-02-07T15:15:15",
      "2017-01-01T23:59:61Z", "2017-01-01T00:60:00Z", "2017-01-01T24:00:00Z", "2017-01-01T14a00:00Z",
      "2017-01-01T14:00a00Z", "2015-02-07T25:28:17Z", "2017-01-01T00:00:00a000Z",
      "2017-01-01T00:00:00.0000000000Z", "2017-01-01T00:00:00.000Y", "2017-01-01t00:00:00z",
      "2015-02-07T13:28:17a05:00", "2015-02-07T13:28:17+24:00", "2015-02-07T13:28:17+14:01",
      "2015-02-07T13:28:17-14:01", "2015-02-07T13:28:17+14a00"],
     "201"),
    ("valueTime", ["00:00:00", "12:03:00", "23:59:59", "13:37:12.132", "12:00:60"],
     ["", "23:02", "24:00:00", "12:60:00", "12:00:61", "12:00:00Z", "12:00:00.0000000000",
      "2015-02-07T13:28:17"],
     "23:02"),
    ("valueDate", ["0001", "2018", "1973-06", "1905-08-23", "2000-01-02", "2024-02-29", "2000-02-29"],
     ["", "0000", "201", "2000-13", "2000-01-32", "2024-02-31", "2023-02-29", "1900-02-29",
      "2017-01-01T00:00:00Z"],
     "2024-02-31"),
    ("valueInstant",
     ["2015-02-07T13:28:17.239+02:00", "2017-01-01T00:00:00Z", "2015-02-07T13:28:17-14:00",
      "2017-01-01T00:00:00.000000000Z", "2017-01-01T00:00:60Z"],
     ["", "2017-01-01t00:00:00z", "2017-01-01T00:00:00", "2015-02-07T13:28:17-14:01",
      "2015-02-07T13:28:17.239", "2015-02-07T13:28+02:00", "201", "2018", "0000", "2018-", "2018-06",
      "1973-06", "1905-08-23", "000a", "2000-0", "2000a01", "2000-0a", "2000-00", "2000-13",
      "2000-01-1", "2000-01-0a", "2000-01-00", "2000-01a01", "2024-02-31", "2024-01-35", "2023-02-29",
      "2015-02-07T25", "2015-02-07T15:", "2015-02-07T15:15", "2015-02-07T15:15:15",
      "2017-01-01T23:59:61Z", "2017-01-01T00:60:00Z", "2017-01-01T24:00:00Z", "2017-01-01T14a00:00Z",
      "2017-01-01T14:00a00Z", "2015-02-07T25:28:17Z", "2017-01-01T00:00:00a000Z",
      "2017-01-01T00:00:00.0000000000Z", "2017-01-01T00:00:00.000Y", "2015-02-07T13:28:17a05:00",
      "2015-02-07T13:28:17+24:00", "2015-02-07T13:28:17+14:01", "2015-02-07T13:28:17+14a00"],
     "2015-02-07T13:28:17.239"),
    ("valueUrl", ["mailto:a@example.com", "http://example.com", "http://example.com:1337/hello?name=joe"],
     [], None),
    ("valueUri", ["ftp://ftp.example.org/file.txt", "mailto:user@example.com", "tel:+1234567890"], [""], ""),
    ("valueId", ["user-name", "a.b.c.d.e.f.g.h.i.j.k"], [""], ""),
    ("valueOid", ["urn:oid:1.2.3.4.5"], [""], ""),
    ("valueUuid", ["urn:uuid:c757873d-ec9a-4326-a141-556f43239520"], [""], ""),
    ("valueString", ["text", "text \n text"], [""], ""),
    ("valueCode", ["text", "text text"], [""], ""),
    ("valueBase64Binary", ["TWFu", "SGVsbG8gV29ybGQ=", "QUJDREVGRw=="], [""], ""),
    ("valueMarkdown", ["**Bold Text**", "\nCode block\n"], [""], ""),
    ("valueCanonical", ["http://example.org/fhir/ValueSet/valueset-example",
                        "http://example.org/fhir/ValueSet/valueset-example|1.2.3#definition"], [""], ""),
]


def _type_of(key):
    t = key[len("value"):]
    return t[0].lower() + t[1:]


def _wrap(resource):
    return {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": resource}]}


def _patient(**members):
    body = {"resourceType": "Patient"}
    body.update(members)
    return body


def build_cases():
    """Returns [(file, name, (method, path, body), kind, arg)]; kind is valid|invalid|expr."""
    cases = []

    def add(file, name, req, kind, arg=None):
        cases.append((file, name, req, kind, arg))

    # $validation-op.ts
    f = "$validation-op.ts"
    valid_p = {"resourceType": "Patient", "id": "example"}
    invalid_p = {"resourceType": "Patient", "name": "John"}
    add(f, "type-level, Parameters-wrapped valid Patient", ("POST", "/Patient/$validate", _wrap(valid_p)), "valid")
    req = ("POST", "/Patient/$validate", _wrap(invalid_p))
    add(f, "type-level, Parameters-wrapped invalid Patient: invalid", req, "invalid")
    add(f, "type-level, Parameters-wrapped invalid Patient: expression", req, "expr", "Patient.name")
    add(f, "system-level, Parameters-wrapped valid Patient", ("POST", "/$validate", _wrap(valid_p)), "valid")
    req = ("POST", "/$validate", _wrap(invalid_p))
    add(f, "system-level, Parameters-wrapped invalid Patient: invalid", req, "invalid")
    add(f, "system-level, Parameters-wrapped invalid Patient: expression", req, "expr", "Patient.name")
    add(f, "type-level, Patient posted directly", ("POST", "/Patient/$validate", valid_p), "valid")
    add(f, "Parameters without a resource parameter", ("POST", "/Patient/$validate",
                                                       {"resourceType": "Parameters", "parameter": []}), "invalid")

    # primitives-test.ts
    f = "primitives-test.ts"
    for key, accepted, rejected, pointed in PRIMITIVES:
        typ = _type_of(key)
        req = lambda v: ("POST", "/Parameters/$validate",
                         _wrap({"resourceType": "Parameters", "parameter": [{"name": "x", key: v}]}))
        for v in accepted:
            add(f, "%s accepts %s" % (key, json.dumps(v)), req(v), "valid")
        for v in rejected:
            add(f, "%s rejects %s" % (key, json.dumps(v)), req(v), "invalid")
        if pointed is not None:
            add(f, "%s rejection of %s points at the value" % (key, json.dumps(pointed)), req(pointed), "expr",
                "Parameters.parameter[0].value.ofType(%s)" % typ)

    # primitive-extensions-test.ts
    f = "primitive-extensions-test.ts"
    pv = lambda **m: ("POST", "/Patient/$validate", _patient(**m))
    add(f, "_birthDate with patient-birthTime", pv(birthDate="1974-12-25", _birthDate={
        "extension": [{"url": BIRTH_TIME, "valueDateTime": "1974-12-25T14:35:45-05:00"}]}), "valid")
    add(f, "_birthDate with a partial-date patient-birthTime", pv(birthDate="1974-12-25", _birthDate={
        "extension": [{"url": BIRTH_TIME, "valueDateTime": "2020"}]}), "valid")
    add(f, "_given paired with given", pv(name=[{"given": ["a"], "_given": [{"id": "test"}]}]), "valid")
    add(f, "_given with a trailing null", pv(name=[{"given": ["a"], "_given": [{"id": "test"}, None]}]), "valid")
    add(f, "_given all null", pv(name=[{"given": ["a"], "_given": [None, None]}]), "valid")
    add(f, "given null filled by an extension", pv(name=[{"given": [None, "test"], "_given": [
        {"extension": [{"url": BIRTH_TIME, "valueDateTime": "2020"}]}, None]}]), "valid")
    add(f, "_unknown", pv(_unknown={"id": "1"}), "invalid")
    req = pv(_name={"id": "1"})
    add(f, "_name on a complex element: invalid", req, "invalid")
    add(f, "_name on a complex element: expression", req, "expr", "Patient.name")
    req = pv(_active="test")
    add(f, "_active a primitive: invalid", req, "invalid")
    add(f, "_active a primitive: expression", req, "expr", "Patient.active")
    req = pv(_active=[{"id": "test"}])
    add(f, "_active an array: invalid", req, "invalid")
    add(f, "_active an array: expression", req, "expr", "Patient.active")
    req = pv(name=[{"given": ["a"], "_given": {"id": "test"}}])
    add(f, "_given an object: invalid", req, "invalid")
    add(f, "_given an object: expression", req, "expr", "Patient.name[0].given")
    add(f, "_given[0].foo", pv(name=[{"given": ["a"], "_given": [{"foo": "test"}]}]), "invalid")
    add(f, "humanname-own-prefix with valueCode", pv(name=[{"given": ["a"], "_given": [
        {"extension": [{"url": OWN_PREFIX, "valueCode": "code"}]}]}]), "invalid")
    req = pv(name=[{"given": [None, "test"], "_given": [{"id": "test"}, None]}])
    add(f, "given null with only an id: invalid", req, "invalid")
    add(f, "given null with only an id: expression", req, "expr", "Patient.name[0].given[0]")

    # shapes-test.ts
    f = "shapes-test.ts"
    for members, where in [
            ({"active": {"id": "1"}}, "Patient.active"),
            ({"name": [{"given": [{"id": "1"}]}]}, "Patient.name[0].given[0]"),
            ({"name": {"family": "Ivan"}}, "Patient.name"),
            ({"gender": ["male"]}, "Patient.gender"),
            ({"name": []}, "Patient.name"),
            ({"name": [{}]}, "Patient.name[0]"),
            ({"name": [None]}, "Patient.name[0]"),
            ({"maritalStatus": {}}, "Patient.maritalStatus"),
            ({"maritalStatus": None}, "Patient.maritalStatus"),
            ({"birthDate": ""}, "Patient.birthDate"),
            ({"birthDate": None}, "Patient.birthDate"),
            ({"_gender": {}}, "Patient.gender"),
            ({"_gender": None}, "Patient.gender")]:
        req = pv(**members)
        add(f, "%s: invalid" % json.dumps(members), req, "invalid")
        add(f, "%s: expression" % json.dumps(members), req, "expr", where)

    # simple-cases.ts (validate-patient/test.ts is the same file under its earlier name)
    for f in ("simple-cases.ts",):
        add(f, "minimal Patient", pv(id="example"), "valid")
        req = pv(name="John")
        add(f, "primitive at Patient.name: invalid", req, "invalid")
        add(f, "primitive at Patient.name: expression", req, "expr", "Patient.name")
        add(f, "gender male", pv(gender="male"), "valid")
        req = pv(gender="mmale")
        add(f, "gender mmale: invalid", req, "invalid")
        add(f, "gender mmale: expression", req, "expr", "Patient.gender")
    return cases


# (file, case name) -> reason.  Each listed case is asserted to get the opposite verdict.
_FRACTION = ("R4 allows any number of fraction digits: the regex of %s in profiles-types.json (4.0.1) "
             "is ...(\\.[0-9]+)?...; the 9-digit limit the suite expects is R5's ((\\.[0-9]{1,9})?)")
EXPECTED_DIFFERENCES = {
    ("primitives-test.ts", 'valueDateTime rejects "2017-01-01T00:00:00.0000000000Z"'): _FRACTION % "dateTime",
    ("primitives-test.ts", 'valueInstant rejects "2017-01-01T00:00:00.0000000000Z"'): _FRACTION % "instant",
    ("primitives-test.ts", 'valueTime rejects "12:00:00.0000000000"'): _FRACTION % "time",
}


def outcome_issues(status, body):
    try:
        doc = json.loads(body.decode("utf-8"))
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("resourceType") != "OperationOutcome":
        return None
    return doc.get("issue") or []


def verdict(kind, arg, status, issues):
    """The suite's matchers: True when the case holds."""
    errors = [i for i in (issues or []) if i.get("severity") in ("error", "fatal")]
    if kind == "valid":
        return 200 <= status < 300 and not errors
    if kind == "invalid":
        return bool(errors)
    return any(arg in (i.get("expression") or []) for i in (issues or []))


class ValidationSuiteTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server().start()

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def test_every_fhir262_validation_case(self):
        cases = build_cases()
        cache = {}
        failures = []
        passed = as_upstream = 0
        for f, name, (method, path, body), kind, arg in cases:
            key = (method, path, json.dumps(body, sort_keys=True))
            if key not in cache:
                r = self.s.request(method, path, json.dumps(body), headers={
                    "Content-Type": "application/fhir+json", "Accept": "application/fhir+json"})
                cache[key] = (r.status, outcome_issues(r.status, r.body), r.body)
            status, issues, raw = cache[key]
            ok = verdict(kind, arg, status, issues)
            if (f, name) in EXPECTED_DIFFERENCES:
                ok = not ok
            elif ok:
                as_upstream += 1
            if ok:
                passed += 1
            else:
                failures.append("%s: %s (%s%s): %d %s" % (f, name, kind, " " + arg if arg else "", status,
                                                          raw[:400].decode("utf-8", "replace")))
        msg = ("fhir262 validation: %d of %d cases as expected (%d pass as upstream expects, %d expected "
               "differences asserted the R4 way)" % (passed, len(cases), as_upstream, len(EXPECTED_DIFFERENCES)))
        print("\n" + msg, file=sys.stderr)
        self.assertEqual(len(cases), 286, "the upstream suite has 286 validation tests")
        names = {(c[0], c[1]) for c in cases}
        self.assertEqual(len(names), len(cases), "case names must be unique")
        self.assertEqual(set(EXPECTED_DIFFERENCES) - names, set(), "an expected difference names no case")
        self.assertEqual(failures, [], msg + "\n" + "\n".join(failures))

    def test_rejected_primitives_point_at_the_value(self):
        # Ours, beyond the suite (which checks the expression for one value per type): every
        # value it rejects gets exactly one error, at Parameters.parameter[0].value.ofType(T),
        # with a code and a human diagnostics.
        differ = {name for (_, name) in EXPECTED_DIFFERENCES}
        bad = []
        n = 0
        for key, _, rejected, _ in PRIMITIVES:
            want = "Parameters.parameter[0].value.ofType(%s)" % _type_of(key)
            for v in rejected:
                if "%s rejects %s" % (key, json.dumps(v)) in differ:
                    continue
                n += 1
                body = _wrap({"resourceType": "Parameters", "parameter": [{"name": "x", key: v}]})
                r = self.s.request("POST", "/Parameters/$validate", body)
                errs = [i for i in outcome_issues(r.status, r.body) or [] if i["severity"] in ("error", "fatal")]
                if r.status != 200 or [e for i in errs for e in i.get("expression", [])] != [want] or \
                        not all(i.get("diagnostics") and i.get("code") in ("value", "structure", "invalid")
                                for i in errs):
                    bad.append((key, v, r.status, errs))
        self.assertGreater(n, 130)
        self.assertEqual(bad, [])

    def test_expected_differences_follow_r4(self):
        # The three values the suite wants refused are valid R4 (any number of fraction digits)...
        for key, v in (("valueDateTime", "2017-01-01T00:00:00.0000000000Z"),
                       ("valueInstant", "2017-01-01T00:00:00.0000000000Z"), ("valueTime", "12:00:00.0000000000")):
            body = _wrap({"resourceType": "Parameters", "parameter": [{"name": "x", key: v}]})
            r = self.s.request("POST", "/Parameters/$validate", body)
            self.assertEqual(r.status, 200)
            self.assertEqual([i for i in r.json()["issue"] if i["severity"] != "information"], [], (key, v))
        # ... and stored as such under validation.on_write strict, digits kept.
        obs = {"resourceType": "Observation", "status": "final", "code": {"text": "t"},
               "effectiveDateTime": "2017-01-01T00:00:00.0000000000Z", "issued": "2017-01-01T00:00:00.0000000000Z",
               "valueTime": "12:00:00.0000000000"}
        r = self.s.request("POST", "/Observation", obs)
        self.assertEqual(r.status, 201, r)
        got = self.s.request("GET", "/Observation/" + r.json()["id"]).json()
        self.assertEqual(got["valueTime"], "12:00:00.0000000000")
        self.assertEqual(got["issued"], "2017-01-01T00:00:00.0000000000Z")


class SystemValidateAuthzTest(unittest.TestCase):
    """POST /$validate is admitted as $validate on no type and then decided on the posted
    resource's type: every caller gets exactly what POST /[type]/$validate gives it."""
    ISS, AUD = "https://issuer.example.org", "https://fhir.example.org"

    @classmethod
    def setUpClass(cls):
        cls.s = Server()
        cls.priv, pub = make_key(cls.s.tmp)
        cls.s.config["auth"] = pinned_auth(cls.ISS, cls.AUD, pub)
        cls.s.start()

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def test_same_decision_as_the_type_level_route(self):
        callers = {
            "contributor": dict(roles="FHIR Data Contributor"),
            "reader": dict(roles="FHIR Data Reader"),
            "writer": dict(roles="FHIR Data Writer"),
            "contributor, Observation scopes": dict(roles="FHIR Data Contributor", scope="user/Observation.cruds"),
            "scopes only, Observation": dict(scope="user/Observation.cruds"),
        }
        bodies = {"Patient": {"resourceType": "Patient", "gender": "mmale"},
                  "Observation": {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}}
        seen = set()
        for who, claims in callers.items():
            tok = mint_token(self.priv, self.ISS, self.AUD, "sub-1", claims.get("roles"), claims.get("scope"))
            for typ, res in bodies.items():
                for body in (res, _wrap(res)):
                    a = self.s.request("POST", "/%s/$validate" % typ, body, token=tok)
                    b = self.s.request("POST", "/$validate", body, token=tok)
                    codes = lambda r: [(i["severity"], i["code"], i.get("expression")) for i in r.json()["issue"]]
                    self.assertEqual((a.status, codes(a)), (b.status, codes(b)), (who, typ, a.body, b.body))
                    seen.add(b.status)
        self.assertEqual(seen, {200, 403})  # both outcomes were exercised
        ops = {o["name"]: o["definition"] for o in self.s.request("GET", "/metadata").json()["rest"][0]["operation"]}
        self.assertEqual(ops.get("validate"), "http://hl7.org/fhir/OperationDefinition/Resource-validate")
        # no token: 401 as everywhere; GET is not a system-level $validate
        self.assertEqual(self.s.request("POST", "/$validate", bodies["Patient"]).status, 401)
        tok = mint_token(self.priv, self.ISS, self.AUD, "sub-1", "FHIR Data Contributor", None)
        self.assertEqual(self.s.request("GET", "/$validate", token=tok).status, 405)
        # a body without a known resource type: 400 with an OperationOutcome
        for body in ({"resourceType": "Nope"}, _wrap({"resourceType": "Nope"}), {"resourceType": 1}, "[1"):
            r = self.s.request("POST", "/$validate", body, token=tok,
                               headers={"Content-Type": "application/fhir+json"})
            self.assertEqual(r.status, 400, (body, r))
            self.assertEqual(r.json()["resourceType"], "OperationOutcome")


if __name__ == "__main__":
    unittest.main()

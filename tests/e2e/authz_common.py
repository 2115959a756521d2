"""Shared fixture of the issue-14 authorization tests (test_authz_matrix.py, test_authz_random.py):
one RSA key per test process pinned in every server, one token per caller minted once and cached
(minting runs the binary), the callers of the policy (notes: authz_spec.md), the matrix data set
(patients alpha and beta; every one of beta's ids, codes and texts contains "beta" so a leak is
visible in any text), leak scanning and Bundle/response helpers. Not a test module: run.py loads
test_*.py only."""
import atexit
import base64
import json
import os
import re
import shutil
import tempfile
import time
import urllib.parse

from harness import Server, mint_token, make_key, pinned_auth

ISS = "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0"
AUD = "https://fhir.example.org"

_KEY = {}


def key_paths():
    """(private PEM, public PEM) of the process-wide test key, generated on first use."""
    if not _KEY:
        d = tempfile.mkdtemp(prefix="edgefhir-authz-key-")
        atexit.register(shutil.rmtree, d, True)
        priv, pub = make_key(d)
        _KEY.update(priv=priv, pub=pub)
    return _KEY["priv"], _KEY["pub"]


def start_server(audit=False):
    """A started server with auth on and the test key pinned."""
    _, pub = key_paths()
    s = Server()
    s.config["auth"] = pinned_auth(ISS, AUD, pub)
    s.config["audit"] = {"flush_interval_ms": 100}
    try:
        s.start(timeout=30)
    except Exception:
        s.cleanup()
        raise
    return s


# ---------------------------------------------------------------------------------------- callers
class Caller:
    """One token shape. kind: 'restricted' (sees `view` only), 'open' (sees everything) or
    'refused' (every data request 403; `names` = text the 403 must contain). perms: what the
    policy lets it do (read write delete export validate). types: resource types it may touch
    (None = all)."""

    def __init__(self, name, kind, perms="", roles=None, scp=None, scope=None, claims=(), view=None,
                 types=None, names=None):
        self.name, self.kind, self.perms = name, kind, set(perms.split())
        self.roles, self.scp, self.scope, self.claims = roles, scp, scope, list(claims)
        self.view, self.types, self.names = view, types, names

    def __repr__(self):
        return self.name

    @property
    def restricted(self):
        return self.kind == "restricted"

    def may_type(self, rtype):
        return self.types is None or rtype in self.types


PA = "alpha"  # the token patient of every restricted caller
R, RW = "read validate", "read validate write delete"
CALLERS = [
    # name          kind          perms          roles / scp / scope / other claims
    Caller("pA", "restricted", RW, scp="patient/*.read patient/*.write", claims=["patient=" + PA], view="A"),
    Caller("pA2", "restricted", RW, scp="patient/*.cruds", claims=["patient=" + PA], view="A"),
    Caller("pAcat", "restricted", R, scp="patient/Patient.rs patient/Observation.rs?category=laboratory",
           claims=["patient=" + PA], view="Acat", types={"Patient", "Observation"}),
    Caller("pAscope", "restricted", R, scp="openid", scope="patient/*.rs", claims=["patient=" + PA], view="A"),
    Caller("uPat", "restricted", RW, scp="user/*.cruds", claims=["fhirUser=Patient/" + PA], view="A"),
    Caller("uPrac", "open", R, scp="user/*.rs", claims=["fhirUser=Practitioner/prac-shared"]),
    Caller("sys", "open", R + " export", scp="system/*.read"),
    Caller("Reader", "open", "read", roles="FHIR Data Reader"),
    Caller("Writer", "open", "read write delete", roles="FHIR Data Writer"),
    Caller("Contributor", "open", RW + " export", roles="FHIR Data Contributor"),
    Caller("Exporter", "open", "read export", roles="FHIR Data Exporter"),
    Caller("malQ", "refused", roles="FHIR Data Reader", scp="patient/*.rs?", claims=["patient=" + PA],
           names="patient/*.rs?"),
    Caller("malSR", "refused", roles="FHIR Data Reader", scp="patient/Observation.sr", claims=["patient=" + PA],
           names="patient/Observation.sr"),
    Caller("malEq", "refused", roles="FHIR Data Reader", scp="patient/*.rs?category=", claims=["patient=" + PA],
           names="patient/*.rs?category="),
    Caller("malUp", "refused", roles="FHIR Data Reader", scp="patient/*.READ", claims=["patient=" + PA],
           names="patient/*.READ"),
    Caller("malTab", "refused", roles="FHIR Data Reader", scp="patient/*.rs\tpatient/Observation.rs",
           claims=["patient=" + PA], names="patient/*.rs"),
    Caller("fuSlash", "refused", scp="user/*.rs", claims=["fhirUser=Patient/%s/" % PA]),
    Caller("fuHist", "refused", scp="user/*.rs", claims=["fhirUser=Patient/%s/_history" % PA]),
    Caller("fuQuery", "refused", scp="user/*.rs", claims=["fhirUser=Patient/%s?x=1" % PA]),
    Caller("none", "refused", roles=""),
]
BY_NAME = {c.name: c for c in CALLERS}
_TOKENS = {}


def token(name):
    """The cached token of caller `name` (or of a Caller object)."""
    c = BY_NAME[name] if isinstance(name, str) else name
    if c.name not in _TOKENS:
        priv, _ = key_paths()
        extra = ["--claim", "oid=oid-" + c.name, "--claim", "azp=authz-tests"]
        if c.scp is not None:
            extra += ["--claim", "scp=" + c.scp]
        for cl in c.claims:
            extra += ["--claim", cl]
        _TOKENS[c.name] = mint_token(priv, ISS, AUD, "sub-" + c.name, c.roles, c.scope, extra)
    return _TOKENS[c.name]


def admin_token():
    return token("Contributor")


# ------------------------------------------------------------------------------------------- data
def ref(r):
    return {"reference": r}


def coding(system, code):
    return {"coding": [{"system": system, "code": code}]}


CAT = "http://terminology.hl7.org/CodeSystem/observation-category"
CODES = "http://example.org/codes"


def patient(pid, family, birth, mrn, text):
    return {"resourceType": "Patient", "id": pid, "name": [{"family": family, "given": [text]}],
            "birthDate": birth, "identifier": [{"system": "http://example.org/mrn", "value": mrn}],
            "managingOrganization": ref("Organization/org-shared"),
            "generalPractitioner": [ref("Practitioner/prac-shared")],
            "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">%s</div>" % text}}


def observation(oid, pid, cat, code, text, performers=("Practitioner/prac-shared",), enc=None):
    o = {"resourceType": "Observation", "id": oid, "status": "final",
         "category": [coding(CAT, cat)], "code": coding(CODES, code),
         "subject": ref("Patient/" + pid), "note": [{"text": text}],
         "valueString": text}
    if performers:
        o["performer"] = [ref(p) for p in performers]
    if enc:
        o["encounter"] = ref("Encounter/" + enc)
    return o


def condition(cid, pid, code, text, enc=None):
    c = {"resourceType": "Condition", "id": cid, "code": coding(CODES, code), "subject": ref("Patient/" + pid),
         "note": [{"text": text}], "asserter": ref("Practitioner/prac-shared")}
    if enc:
        c["encounter"] = ref("Encounter/" + enc)
    return c


def encounter(eid, pid, text):
    return {"resourceType": "Encounter", "id": eid, "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": ref("Patient/" + pid), "serviceProvider": ref("Organization/org-shared"),
            "reasonCode": [{"text": text}]}


# The matrix data set: key "Type/id" -> (owner patient or None, category or None, deleted?)
A_MARK, B_MARK = "ALPHA-MARKER", "BETA-MARKER"
B_MRN, B_BIRTH = "MRN-B-SECRET", "1911-11-11"


def matrix_resources():
    """(resources to PUT, keys to DELETE afterwards)."""
    res = [
        {"resourceType": "Organization", "id": "org-shared", "name": "Shared Clinic"},
        {"resourceType": "Practitioner", "id": "prac-shared", "name": [{"family": "Shared"}]},
        patient("alpha", "Alpha", "1980-01-01", "MRN-A-1", A_MARK),
        patient("beta", "Beta", B_BIRTH, B_MRN, B_MARK),
    ]
    for p, mark in (("alpha", A_MARK), ("beta", B_MARK)):
        res += [encounter(p + "-enc", p, mark),
                observation(p + "-lab", p, "laboratory", p + "-lab", mark, enc=p + "-enc"),
                observation(p + "-vital", p, "vital-signs", p + "-vital", mark, enc=p + "-enc"),
                condition(p + "-cond", p, p + "-cond", mark, enc=p + "-enc"),
                condition(p + "-cond-del", p, p + "-cond-del", mark)]
        # meta codes for $meta (system/type level sees only the caller's view): a tag on the
        # lab Observation, a profile on the Condition, a security label on the deleted one
        res[-4]["meta"] = {"tag": [{"system": TAGS, "code": p + "-tag"}]}
        res[-2]["meta"] = {"profile": [PROFILES + p + "-profile"]}
        res[-1]["meta"] = {"security": [{"system": TAGS, "code": p + "-deleted-label"}]}
    return res, ["Condition/alpha-cond-del", "Condition/beta-cond-del"]


TAGS = "http://example.org/tags"
PROFILES = "http://example.org/fhir/StructureDefinition/"
# key -> (kind, system or None, code) of the meta codes matrix_resources() gives it
META_CODES = {}
for _p in ("alpha", "beta"):
    META_CODES["Observation/%s-lab" % _p] = ("tag", TAGS, _p + "-tag")
    META_CODES["Condition/%s-cond" % _p] = ("profile", None, PROFILES + _p + "-profile")
    META_CODES["Condition/%s-cond-del" % _p] = ("security", TAGS, _p + "-deleted-label")


DATA = {
    "Organization/org-shared": (None, None, False),
    "Practitioner/prac-shared": (None, None, False),
    "Patient/alpha": ("alpha", None, False),
    "Patient/beta": ("beta", None, False),
}
for _p in ("alpha", "beta"):
    DATA.update({"Encounter/%s-enc" % _p: (_p, None, False),
                 "Observation/%s-lab" % _p: (_p, "laboratory", False),
                 "Observation/%s-vital" % _p: (_p, "vital-signs", False),
                 "Condition/%s-cond" % _p: (_p, None, False),
                 "Condition/%s-cond-del" % _p: (_p, None, True)})


def in_view(caller, key, include_deleted=False):
    """Whether `caller` may see resource `key` of DATA (current version; deleted ones only when
    include_deleted)."""
    owner, cat, deleted = DATA[key]
    if deleted and not include_deleted:
        return False
    if caller.kind == "open":
        return True
    if caller.kind == "refused":
        return False
    rtype = key.split("/")[0]
    if not caller.may_type(rtype):
        return False
    if owner != PA:
        return False
    if caller.view == "Acat" and rtype == "Observation":
        return cat == "laboratory"
    return True


def write_matrix_data(s):
    res, deletes = matrix_resources()
    tx = {"resourceType": "Bundle", "type": "transaction",
          "entry": [{"fullUrl": "%s/%s" % (r["resourceType"], r["id"]), "resource": r,
                     "request": {"method": "PUT", "url": "%s/%s" % (r["resourceType"], r["id"])}} for r in res]}
    r = s.request("POST", "/", tx, token=admin_token())
    assert r.status == 200, r
    for k in deletes:
        r = s.request("DELETE", "/" + k, token=admin_token())
        assert r.status in (200, 204), r


# ------------------------------------------------------------------------------------ leak checks
B_NEEDLES = re.compile(r"beta|MRN-B-SECRET|1911-11-11", re.I)


def response_text(r):
    """Everything the client sees of a response: the headers and the (un-gzipped) body."""
    return "\n".join("%s: %s" % kv for kv in r.headers.items()) + "\n" + r.body.decode("utf-8", "replace")


def strip_echo(text, request_text, needles):
    """Removes echoes of the request from `text` when the request itself names a needle (a
    search's self link repeats the query; an error names the requested id): every whole-word
    occurrence of a request token (split at ? & = , / : | and blanks) that contains a needle is
    blanked, in raw and URL-encoded forms. Whole words only: requesting Patient/beta does not
    excuse Condition/beta-cond in the answer."""
    if not needles.search(request_text or ""):
        return text
    parts = set()
    for p in re.split(r"[?&=,\s\"'/:|]", request_text) + re.split(r"[?&=,\s\"']", request_text):
        if needles.search(p):
            for q in (p, urllib.parse.quote(p, safe=""), urllib.parse.quote(p, safe="/"), urllib.parse.unquote(p)):
                parts.add(q)
    for p in sorted(parts, key=len, reverse=True):
        if p:
            text = re.sub(r"(?<![A-Za-z0-9.\-])%s(?![A-Za-z0-9.\-])" % re.escape(p), "<echo>", text)
    return text


def leaks(r, request_text="", needles=B_NEEDLES):
    """The needle matches in what the client sees, echoes of its own request removed."""
    text = strip_echo(response_text(r), request_text, needles)
    return sorted(set(m.group(0) for m in needles.finditer(text)))


def leak_context(r, request_text="", needles=B_NEEDLES):
    text = strip_echo(response_text(r), request_text, needles)
    m = needles.search(text)
    return text[max(0, m.start() - 150):m.end() + 150] if m else ""


# --------------------------------------------------------------------------------------- bundles
def entry(method, url, resource=None, if_none_exist=None, if_match=None, full_url=None):
    e = {"request": {"method": method, "url": url}}
    if resource is not None:
        e["resource"] = resource
    if if_none_exist:
        e["request"]["ifNoneExist"] = if_none_exist
    if if_match:
        e["request"]["ifMatch"] = if_match
    if full_url:
        e["fullUrl"] = full_url
    return e


def patch_binary(ops):
    return {"resourceType": "Binary", "contentType": "application/json-patch+json",
            "data": base64.b64encode(json.dumps(ops).encode()).decode()}


def bundle(kind, entries):
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def status_code(s):
    """'201 Created' -> 201."""
    try:
        return int(str(s).split()[0])
    except (ValueError, IndexError):
        return -1


def outcome_sig(body, ident, never):
    """(issue code, diagnostics with `ident` replaced by `never`) of an OperationOutcome dict,
    for the indistinguishability comparison."""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return None
    iss = (body.get("issue") or [{}])[0]
    return (iss.get("code"), (iss.get("diagnostics") or "").replace(ident, never))


def body_json(r):
    try:
        return r.json()
    except Exception:
        return None


def search_entries(b):
    """(matches, includes) of a searchset Bundle as sets of 'Type/id'; outcome entries dropped."""
    matches, includes = set(), set()
    for e in (b or {}).get("entry", []) or []:
        res = e.get("resource") or {}
        mode = (e.get("search") or {}).get("mode", "match")
        if mode == "outcome" or res.get("resourceType") == "OperationOutcome":
            continue
        k = "%s/%s" % (res.get("resourceType"), res.get("id"))
        (includes if mode == "include" else matches).add(k)
    return matches, includes


def wait_audit(s, pred, timeout=5.0):
    """Audit events (list of dicts) once `pred(events)` holds or the timeout passes."""
    deadline = time.time() + timeout
    events = []
    while True:
        p = s.cli("audit", "--json", "--limit", "100000")
        out = p.stdout.decode()
        if out.strip().startswith("["):
            events = json.loads(out)
        else:
            events = [json.loads(l) for l in out.splitlines() if l.strip().startswith("{")]
        if pred(events) or time.time() > deadline:
            return events
        time.sleep(0.2)

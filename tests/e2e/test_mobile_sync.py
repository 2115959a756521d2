"""Mobile sync clients (issue 22): the request shapes of the Android FHIR SDK's FHIR Engine,
issued exactly, against the real binary with auth on, round-tripped.

What the SDK sends (read in google/android-fhir, engine/src/main/java/com/google/android/fhir/
sync/...; the SDK itself runs on Android only, so this test is a client that speaks the same):
- download (download/ResourceParamsBasedDownloadWorkManager.kt): per resource type
  `GET Type?<params>` where the app's params get `_sort=_lastUpdated` added and, once a
  timestamp is saved for the type, `_lastUpdated=gt<ts>`; the query is built by
  `ParamMap.concatParams()` (key=URLEncoder.encode(value)), so `+05:30` arrives as `%2B05%3A30`.
  It follows the searchset's `next` link as given (absolute URL, retrofit @Url), and saves per
  type the max `meta.lastUpdated` of the entries it received, formatted by
  `Date.toTimeZoneString()`: `yyyy-MM-dd'T'HH:mm:ss.SSSXXX` in the device's time zone
  (milliseconds, a zone offset).  Apps add `_count`, `_include`/`_revinclude` to the params.
  Deletions on the server are not seen by this download (search lists no deleted resource).
- upload as a transaction (upload/request/TransactionBundleGenerator.kt,
  BundleEntryComponentGenerator.kt, BundleEntryComponentGeneratorImplementations.kt):
  `POST [base]` with `Content-Type: application/fhir+json` (remote/FhirConverterFactory.kt), a
  Bundle of type transaction whose entries have `fullUrl` = `request.url` = `Type/id`; a local
  insert is `PUT Type/id` with the resource (create-by-PUT, the client's id), a local update is
  `PATCH Type/id` whose resource is a Binary with `contentType` application/json-patch+json and
  `data` = base64 of the JSON Patch, a local delete is `DELETE Type/id` without a resource;
  with `useETagForUpload` an update or delete carries `request.ifMatch` = `W/"<versionId>"`.
- upload per resource (upload/request/UrlRequestGenerator.kt, remote/RetrofitHttpService.kt):
  `PUT Type/id` with the resource (application/fhir+json), `PATCH Type/id` with the JSON Patch
  text as body and `Content-Type: application/json-patch+json`, `DELETE Type/id`.
- every request carries `Authorization: Bearer <token>` (the app's HttpAuthenticator); with
  `NetworkConfiguration.uploadWithGzip` a request body is gzip-compressed with
  `Content-Encoding: gzip` and a Content-Length (remote/GzipUploadInterceptor.kt).

The token is what a community health worker's app holds: SMART `user/` scopes and a
Practitioner fhirUser (no role).  A patient-scoped app (`patient/*.rs`, a patient claim) is
checked to download exactly its own compartment.
"""
import base64
import datetime
import gzip
import json
import threading
import time
import unittest
import urllib.parse

from harness import Server, mint_token, make_key, pinned_auth

ISS = "https://idp.example.org/realms/clinic"
AUD = "https://edge.example.org/fhir"
TZ = datetime.timezone(datetime.timedelta(hours=5, minutes=30))  # the device's zone (not UTC)


def sdk_timestamp(last_updated):
    """Date.toTimeZoneString(): milliseconds and the device's offset (XXX)."""
    t = datetime.datetime.fromisoformat(last_updated.replace("Z", "+00:00")).astimezone(TZ)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03d" % (t.microsecond // 1000) + t.strftime("%z")[:3] + ":" + \
        t.strftime("%z")[3:]


def concat_params(params):
    """ParamMap.concatParams(): key=URLEncoder.encode(value) joined by '&'."""
    return "&".join("%s=%s" % (k, urllib.parse.quote_plus(v)) for k, v in params.items())


class MobileClient:
    """The FHIR Engine's sync, reduced to its wire behaviour: a local store of resources and
    per-type timestamps."""

    def __init__(self, server, token, params):
        self.s = server
        self.token = token
        self.params = params          # {type: {param: value}} as the app configures them
        self.local = {}               # (type, id) -> resource
        self.timestamps = {}          # type -> saved toTimeZoneString()
        self.requests = []            # every URL it fetched

    def get(self, url):
        base = "http://127.0.0.1:%d" % self.s.port
        path = url[len(base):] if url.startswith(base) else "/" + url
        self.requests.append(path)
        r = self.s.request("GET", path, token=self.token, headers={"Accept": "application/fhir+json"})
        assert r.status == 200, (path, r)
        return r.json()

    def download(self, between_pages=None):
        """One sync's download (between_pages(n) runs after the n-th page); returns the (type, id, versionId) of every entry received in
        search mode 'match', in order, and those received as 'include'."""
        matches, includes = [], []
        for typ, p in self.params.items():
            params = dict(p)
            params.setdefault("_sort", "_lastUpdated")
            if "_lastUpdated" not in params and typ in self.timestamps:
                params["_lastUpdated"] = "gt" + self.timestamps[typ]
            url = typ + "?" + concat_params(params)
            pages = 0
            while url:
                pages += 1
                assert pages <= 500, "paging does not end (%s)" % url
                if between_pages and pages > 1:
                    between_pages(pages - 1)
                b = self.get(url)
                assert b["resourceType"] == "Bundle" and b["type"] == "searchset", b
                url = next((l["url"] for l in b.get("link", []) if l["relation"] == "next"), None)
                got = [e["resource"] for e in b.get("entry", [])]
                for e in b.get("entry", []):
                    res = e["resource"]
                    key = (res["resourceType"], res["id"], res["meta"]["versionId"])
                    (matches if e.get("search", {}).get("mode", "match") == "match" else includes).append(key)
                    self.local[(res["resourceType"], res["id"])] = res
                by_type = {}
                for res in got:
                    by_type.setdefault(res["resourceType"], []).append(res["meta"]["lastUpdated"])
                for t, stamps in by_type.items():
                    newest = max(stamps, key=lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00")))
                    self.timestamps[t] = sdk_timestamp(newest)
        return matches, includes


def json_patch_binary(ops):
    return {"resourceType": "Binary", "contentType": "application/json-patch+json",
            "data": base64.b64encode(json.dumps(ops).encode()).decode()}


class MobileSyncE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server()
        cls.priv, pub = make_key(cls.s.tmp)
        cls.s.config["auth"] = pinned_auth(ISS, AUD, pub)
        cls.s.start()
        cls.admin = mint_token(cls.priv, ISS, AUD, "admin", "FHIR Data Contributor")
        cls.chw = mint_token(cls.priv, ISS, AUD, "chw-7", scope="openid fhirUser user/Patient.cruds "
                             "user/Observation.cruds user/Encounter.cruds",
                             extra=["--claim", "fhirUser=Practitioner/chw-7"])

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def write(self, method, path, body=None, token=None, headers=None, want=(200, 201)):
        r = self.s.request(method, path, body, token=token or self.admin, headers=headers)
        self.assertIn(r.status, want, (method, path, r))
        return r.json() if r.body else None

    def server_state(self, types, tag):
        """(type, id) -> versionId of every live resource of `types` carrying `tag`, listed by the
        admin (independent of the client)."""
        out = {}
        for t in types:
            url = "/%s?_tag=%s&_count=100" % (t, tag)
            while url:
                r = self.s.request("GET", url, token=self.admin)
                self.assertEqual(r.status, 200, r)
                b = r.json()
                for e in b.get("entry", []):
                    out[(t, e["resource"]["id"])] = e["resource"]["meta"]["versionId"]
                nxt = next((l["url"] for l in b.get("link", []) if l["relation"] == "next"), None)
                url = nxt[nxt.index("/", 8):] if nxt else None
        return out

    @staticmethod
    def patient(pid, tag, family="Okafor"):
        return {"resourceType": "Patient", "id": pid, "meta": {"tag": [{"system": "urn:test", "code": tag}]},
                "name": [{"family": family, "given": ["Ada"]}], "gender": "female"}

    @staticmethod
    def observation(oid, pid, tag, value=37.0):
        return {"resourceType": "Observation", "id": oid, "meta": {"tag": [{"system": "urn:test", "code": tag}]},
                "status": "final", "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
                "subject": {"reference": "Patient/" + pid}, "valueQuantity": {"value": value, "unit": "Cel"}}

    def local_versions(self, client, tag):
        return {k: v["meta"]["versionId"] for k, v in client.local.items()
                if any(t.get("code") == tag for t in v.get("meta", {}).get("tag", []))}

    def test_round_trip_transaction_upload(self):
        tag = "rt"
        for i in range(23):
            self.write("POST", "/Patient", {k: v for k, v in self.patient("x", tag).items() if k != "id"})
        pids = sorted(k[1] for k in self.server_state(["Patient"], tag))
        for i, pid in enumerate(pids[:10]):
            self.write("POST", "/Observation", {k: v for k, v in self.observation("x", pid, tag, 36 + i / 10).items()
                                                 if k != "id"})
        c = MobileClient(self.s, self.chw, {"Patient": {"_tag": "urn:test|" + tag, "_count": "5"},
                                            "Observation": {"_tag": "urn:test|" + tag, "_count": "4"}})
        matches, _ = c.download()
        self.assertEqual(len(matches), len(set(matches)), "no resource version twice")
        self.assertEqual(self.local_versions(c, tag), self.server_state(["Patient", "Observation"], tag))
        self.assertTrue(all("_sort=_lastUpdated" in u for u in c.requests if "?" in u and "_cursor" not in u))
        # paging followed `next` links: 23 patients at 5 a page = 5 pages, 10 observations at 4 = 3
        self.assertEqual(sum(1 for u in c.requests if u.startswith("/Patient")), 5, c.requests)

        # local changes: two inserts (create-by-PUT with client ids), two updates as JSON Patch in
        # Binary with ifMatch, one delete with ifMatch
        p0, p1, p2 = pids[0], pids[1], pids[2]
        v1 = c.local[("Patient", p1)]["meta"]["versionId"]
        v2 = c.local[("Patient", p2)]["meta"]["versionId"]
        new_pid, new_oid = "mob-p-1", "mob-o-1"
        entries = [
            {"fullUrl": "Patient/" + new_pid, "resource": self.patient(new_pid, tag, "Mensah"),
             "request": {"method": "PUT", "url": "Patient/" + new_pid}},
            {"fullUrl": "Observation/" + new_oid, "resource": self.observation(new_oid, new_pid, tag),
             "request": {"method": "PUT", "url": "Observation/" + new_oid}},
            {"fullUrl": "Patient/" + p1,
             "resource": json_patch_binary([{"op": "replace", "path": "/gender", "value": "male"},
                                            {"op": "add", "path": "/birthDate", "value": "1990-02-03"}]),
             "request": {"method": "PATCH", "url": "Patient/" + p1, "ifMatch": 'W/"%s"' % v1}},
            {"fullUrl": "Patient/" + p2,
             "resource": json_patch_binary([{"op": "replace", "path": "/name/0/family", "value": "Banda"}]),
             "request": {"method": "PATCH", "url": "Patient/" + p2, "ifMatch": 'W/"%s"' % v2}},
            {"fullUrl": "Patient/" + p0,
             "request": {"method": "DELETE", "url": "Patient/" + p0,
                         "ifMatch": 'W/"%s"' % c.local[("Patient", p0)]["meta"]["versionId"]}},
        ]
        # another client changed a resource the phone has too, after the phone's download
        self.write("PUT", "/Patient/" + pids[3], self.patient(pids[3], tag, "Changed-Elsewhere"))
        r = self.s.request("POST", "/", {"resourceType": "Bundle", "type": "transaction", "entry": entries},
                           token=self.chw, headers={"Content-Type": "application/fhir+json; charset=UTF-8"})
        self.assertEqual(r.status, 200, r)
        resp = r.json()
        self.assertEqual(resp["type"], "transaction-response")
        statuses = [e["response"]["status"] for e in resp["entry"]]
        self.assertEqual([s.split()[0] for s in statuses], ["201", "201", "200", "200", "204"], statuses)
        # what the SDK's ResourceConsolidator reads back: location, etag, lastModified
        for e, want_v in zip(resp["entry"][:4], ["1", "1", str(int(v1) + 1), str(int(v2) + 1)]):
            self.assertEqual(e["response"]["etag"], 'W/"%s"' % want_v, e)
            self.assertIn("lastModified", e["response"])
            self.assertIn("/_history/" + want_v, e["response"]["location"])
        got = self.write("GET", "/Patient/" + p1)
        self.assertEqual((got["gender"], got["birthDate"]), ("male", "1990-02-03"))
        self.assertEqual(self.s.request("GET", "/Patient/" + p0, token=self.admin).status, 410)

        # a stale ifMatch (the phone's version is behind) fails the whole transaction: 412
        stale = {"resourceType": "Bundle", "type": "transaction", "entry": [
            {"fullUrl": "Patient/" + p2, "resource": json_patch_binary([{"op": "replace", "path": "/gender",
                                                                          "value": "other"}]),
             "request": {"method": "PATCH", "url": "Patient/" + p2, "ifMatch": 'W/"%s"' % v2}},
            {"fullUrl": "Patient/mob-p-2", "resource": self.patient("mob-p-2", tag),
             "request": {"method": "PUT", "url": "Patient/mob-p-2"}}]}
        r = self.s.request("POST", "/", stale, token=self.chw)
        self.assertEqual(r.status, 412, r)
        self.assertEqual(self.s.request("GET", "/Patient/mob-p-2", token=self.admin).status, 404)

        # the next download is incremental and brings exactly what changed: the phone's own
        # uploads and the other client's update, each once, nothing else
        before = dict(c.timestamps)
        c.requests.clear()
        matches, _ = c.download()
        self.assertTrue(all("_lastUpdated=gt" in u for u in c.requests if "_cursor" not in u), c.requests)
        self.assertTrue(any("%2B05%3A30" in u for u in c.requests), c.requests)  # the offset, URL-encoded
        want = {("Patient", new_pid, "1"), ("Observation", new_oid, "1"), ("Patient", p1, str(int(v1) + 1)),
                ("Patient", p2, str(int(v2) + 1)),
                ("Patient", pids[3], self.server_state(["Patient"], tag)[("Patient", pids[3])])}
        self.assertEqual(sorted(matches), sorted(want))
        self.assertNotEqual(before, c.timestamps)
        # and a third download right away brings nothing
        matches, _ = c.download()
        self.assertEqual(matches, [])
        state = self.server_state(["Patient", "Observation"], tag)
        local = self.local_versions(c, tag)
        del local[("Patient", p0)]  # the phone deleted it itself (the SDK removes it locally)
        self.assertEqual(local, state)

    def test_per_resource_upload(self):
        tag = "single"
        c = MobileClient(self.s, self.chw, {"Patient": {"_tag": "urn:test|" + tag, "_count": "10"}})
        # insert: PUT with the client's id
        r = self.s.request("PUT", "/Patient/mob-s-1", self.patient("mob-s-1", tag), token=self.chw)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.header("etag"), 'W/"1"')
        matches, _ = c.download()
        self.assertEqual(matches, [("Patient", "mob-s-1", "1")])
        # update: PATCH with the JSON Patch text, application/json-patch+json, If-Match
        patch = json.dumps([{"op": "replace", "path": "/gender", "value": "unknown"}])
        r = self.s.request("PATCH", "/Patient/mob-s-1", patch, token=self.chw,
                           headers={"Content-Type": "application/json-patch+json", "If-Match": 'W/"1"'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("etag"), 'W/"2"')
        # the same patch with the now stale version: 412, nothing written
        r = self.s.request("PATCH", "/Patient/mob-s-1", patch, token=self.chw,
                           headers={"Content-Type": "application/json-patch+json", "If-Match": 'W/"1"'})
        self.assertEqual(r.status, 412, r)
        self.assertEqual(r.json()["resourceType"], "OperationOutcome")
        # without If-Match (UrlRequestGenerator sends only Content-Type) it applies to the current
        r = self.s.request("PATCH", "/Patient/mob-s-1", json.dumps([{"op": "add", "path": "/birthDate",
                                                                      "value": "2001-01-01"}]),
                           token=self.chw, headers={"Content-Type": "application/json-patch+json"})
        self.assertEqual(r.status, 200, r)
        matches, _ = c.download()
        self.assertEqual(matches, [("Patient", "mob-s-1", "3")])
        self.assertEqual(c.local[("Patient", "mob-s-1")]["birthDate"], "2001-01-01")
        # uploadWithGzip: the same transaction shape, gzip-compressed
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
            {"fullUrl": "Patient/mob-s-1",
             "resource": json_patch_binary([{"op": "replace", "path": "/gender", "value": "female"}]),
             "request": {"method": "PATCH", "url": "Patient/mob-s-1", "ifMatch": 'W/"3"'}}]}
        r = self.s.request("POST", "/", gzip.compress(json.dumps(bundle).encode()), token=self.chw,
                           headers={"Content-Type": "application/fhir+json; charset=UTF-8", "Content-Encoding": "gzip"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["entry"][0]["response"]["etag"], 'W/"4"')
        matches, _ = c.download()
        self.assertEqual(matches, [("Patient", "mob-s-1", "4")])
        r = self.s.request("DELETE", "/Patient/mob-s-1", token=self.chw)
        self.assertIn(r.status, (200, 204), r)
        self.assertEqual(c.download()[0], [])

    def test_include_revinclude_paging(self):
        tag = "inc"
        for i in range(7):
            pid = "inc-p-%d" % i
            self.write("PUT", "/Patient/" + pid, self.patient(pid, tag))
            for j in range(2):
                self.write("PUT", "/Observation/inc-o-%d-%d" % (i, j), self.observation("inc-o-%d-%d" % (i, j), pid, tag))
        c = MobileClient(self.s, self.chw, {"Patient": {"_tag": "urn:test|" + tag, "_count": "3",
                                                        "_revinclude": "Observation:subject"}})
        matches, includes = c.download()
        self.assertEqual(sorted(m[1] for m in matches), ["inc-p-%d" % i for i in range(7)])
        self.assertEqual(sorted(i[1] for i in includes), sorted("inc-o-%d-%d" % (i, j) for i in range(7)
                                                                for j in range(2)))
        self.assertTrue(all("_revinclude=Observation" in u for u in c.requests), c.requests)
        # an Observation changes: a Patient search does not list it (the SDK syncs Observation
        # with its own query); the Patient it points to changes: it comes with its Observations
        self.write("PUT", "/Patient/inc-p-4", self.patient("inc-p-4", tag, "Phiri"))
        matches, includes = c.download()
        self.assertEqual([m[1] for m in matches], ["inc-p-4"])
        self.assertEqual(sorted(i[1] for i in includes), ["inc-o-4-0", "inc-o-4-1"])

    def test_paging_is_bounded_by_the_first_page(self):
        """A download sorted by _lastUpdated lists what existed when its first page was read:
        a resource updated or created while it pages comes with the next download (its new
        version), once; the resource updated before its page was reached is not listed in its
        old version either (search lists current versions), so nothing arrives twice and
        paging ends however fast writers are."""
        tag = "bound"
        for i in range(10):
            self.write("PUT", "/Patient/bound-%d" % i, self.patient("bound-%d" % i, tag))
        c = MobileClient(self.s, self.chw, {"Patient": {"_tag": "urn:test|" + tag, "_count": "3"}})
        first = c.download()[0]
        self.assertEqual(len(first), 10)
        self.write("PUT", "/Patient/bound-0", self.patient("bound-0", tag, "Second"))  # gets a new lastUpdated
        c2 = MobileClient(self.s, self.chw, c.params)

        def meanwhile(n):
            if n == 1:  # after the first page: one listed already, one not yet, one new
                first_page = [k[1] for k in c2.local]
                self.write("PUT", "/Patient/" + first_page[0], self.patient(first_page[0], tag, "Third"))
                self.write("PUT", "/Patient/bound-9", self.patient("bound-9", tag, "Third"))
                self.write("PUT", "/Patient/bound-new", self.patient("bound-new", tag))
                meanwhile.changed = {first_page[0], "bound-9", "bound-new"}
        matches, _ = c2.download(between_pages=meanwhile)
        ids = [m[1] for m in matches]
        self.assertEqual(len(ids), len(set(ids)))
        self.assertNotIn("bound-new", ids)
        self.assertNotIn("bound-9", ids)  # updated before its page: not listed now, next time
        self.assertEqual(len(ids), 9, ids)
        again, _ = c2.download()
        self.assertEqual(sorted(m[1] for m in again), sorted(meanwhile.changed))
        self.assertEqual(self.local_versions(c2, tag), self.server_state(["Patient"], tag))
        # a malformed paging token is refused
        r = self.s.request("GET", "/Patient?_sort=_lastUpdated&_cursor=bm90LWEtY3Vyc29y", token=self.chw)
        self.assertEqual(r.status, 400, r)

    def test_concurrent_writes_no_gaps_no_duplicates(self):
        """Resources written while the phone pages, and between its syncs: after the writers
        stop, one more incremental download leaves the phone with exactly the server's state;
        no resource version ever arrives twice in one download."""
        tag = "conc"
        for i in range(30):
            self.write("PUT", "/Patient/conc-%d" % i, self.patient("conc-%d" % i, tag))
        stop = threading.Event()
        errors = []

        def writer(n):
            k = 0
            while not stop.is_set():
                k += 1
                pid = "conc-%d" % ((k * 7 + n * 13) % 30) if k % 2 else "conc-w%d-%d" % (n, k)
                r = self.s.request("PUT", "/Patient/" + pid, self.patient(pid, tag, "F%d" % k), token=self.admin)
                if r.status not in (200, 201):
                    errors.append(r)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
        for t in threads:
            t.start()
        c = MobileClient(self.s, self.chw, {"Patient": {"_tag": "urn:test|" + tag, "_count": "4"}})
        try:
            deadline = time.time() + 4
            rounds = 0
            while time.time() < deadline:
                matches, _ = c.download()
                self.assertEqual(len(matches), len(set(matches)), "a version twice in one download")
                rounds += 1
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(errors, [])
        matches, _ = c.download()
        self.assertEqual(len(matches), len(set(matches)))
        state = self.server_state(["Patient"], tag)
        self.assertGreater(len(state), 30)
        local = self.local_versions(c, tag)
        missing = sorted(k for k in state if k not in local)
        stale = sorted((k, local[k], v) for k, v in state.items() if k in local and local[k] != v)
        self.assertEqual((missing, stale), ([], []), "gaps: resources or versions the phone never received")
        self.assertEqual(local, state)
        self.assertGreater(rounds, 1)

    def test_patient_scoped_app(self):
        tag = "pat"
        for pid in ("pat-a", "pat-b"):
            self.write("PUT", "/Patient/" + pid, self.patient(pid, tag))
            for j in range(3):
                self.write("PUT", "/Observation/%s-o%d" % (pid, j), self.observation("%s-o%d" % (pid, j), pid, tag))
        tok = mint_token(self.priv, ISS, AUD, "pat-a-user", scope="openid patient/*.rs patient/Observation.cu",
                         extra=["--claim", "patient=pat-a"])
        c = MobileClient(self.s, tok, {"Patient": {"_count": "2"}, "Observation": {"_count": "2"}})
        matches, _ = c.download()
        self.assertEqual(sorted(m[1] for m in matches), ["pat-a", "pat-a-o0", "pat-a-o1", "pat-a-o2"])
        # the patient app uploads a new Observation (create-by-PUT is refused for a patient-
        # limited caller, README "Roles and SMART scopes"; PATCH of its own works)
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
            {"fullUrl": "Observation/pat-a-o0",
             "resource": json_patch_binary([{"op": "replace", "path": "/valueQuantity/value", "value": 38.5}]),
             "request": {"method": "PATCH", "url": "Observation/pat-a-o0", "ifMatch": 'W/"1"'}}]}
        r = self.s.request("POST", "/", bundle, token=tok)
        self.assertEqual(r.status, 200, r)
        matches, _ = c.download()
        self.assertEqual(matches, [("Observation", "pat-a-o0", "2")])
        # a PATCH of another patient's Observation behaves as if it did not exist
        bundle["entry"][0]["request"]["url"] = "Observation/pat-b-o0"
        bundle["entry"][0]["fullUrl"] = "Observation/pat-b-o0"
        r = self.s.request("POST", "/", bundle, token=tok)
        self.assertEqual(r.status, 404, r)


if __name__ == "__main__":
    unittest.main()

"""FHIR XML (issue 19) against the real binary: content negotiation (Accept with quality values,
_format, the answer in the request body's format when nothing was asked), XML request bodies on
create / update / conditional create / transaction / $validate, errors as XML when XML was asked,
the official examples in tests/data/fhir-examples/ round-tripped JSON -> server -> XML -> server
-> JSON losslessly, the examples that exist in both forms converted to each other exactly
(compared canonically: JSON trees with numbers as their text, XML by ElementTree ignoring
whitespace and comments, the narrative div as parsed XHTML), and hostile XML (billion laughs,
external entity to a local file, deep nesting, a huge attribute, invalid UTF-8, a foreign
encoding): 400 with line and column, server alive, nothing read from disk."""
import json
import os
import re
import unittest
import xml.etree.ElementTree as ET

from harness import DATA, Server

# XML_EXAMPLES_DIR: run the same tests over another folder of official examples (tools/xml_examples.py
# points it at the whole ../shared/fhir-test-cases/r4/examples; make test uses the sample here).
EXAMPLES = os.environ.get("XML_EXAMPLES_DIR") or os.path.join(DATA, "fhir-examples")
FHIR = "{http://hl7.org/fhir}"
XHTML = "{http://www.w3.org/1999/xhtml}"
XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
XML_HEADERS = {"Content-Type": "application/fhir+xml", "Accept": "application/fhir+xml"}


def exact_json(body):
    """Parses JSON keeping every number's text (1.50 stays "1.50")."""
    return json.loads(body, parse_float=lambda s: ("number", s), parse_int=lambda s: ("number", s))


def canon_div(text):
    """The narrative div as a canonical tree (whitespace-only text dropped, text stripped)."""
    return canon_xml(ET.fromstring(text))


def canon_xml(el):
    """An ElementTree element as nested tuples: tag, sorted attributes, children; text that is
    only whitespace is dropped and other text is stripped (comments are not kept by ET)."""
    kids = []
    if el.text and el.text.strip():
        kids.append(("#text", el.text.strip()))
    for c in el:
        kids.append(canon_xml(c))
        if c.tail and c.tail.strip():
            kids.append(("#text", c.tail.strip()))
    attrs = tuple(sorted((k, v) for k, v in el.attrib.items() if not k.startswith(XSI)))  # xsi:schemaLocation
    return (el.tag, attrs, tuple(kids))


def canon_json(v):
    """JSON tree with the narrative div replaced by its canonical XML tree."""
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if k == "div" and isinstance(x, str):
                out[k] = canon_div(x)
            else:
                out[k] = canon_json(x)
        return out
    if isinstance(v, list):
        return [canon_json(x) for x in v]
    return v


def strip_server_meta_json(r):
    """Drops what the server sets (meta.versionId / lastUpdated) from a resource's JSON tree."""
    meta = r.get("meta")
    if isinstance(meta, dict):
        meta.pop("versionId", None)
        meta.pop("lastUpdated", None)
        if not meta:
            del r["meta"]
    return r


def strip_server_meta_xml(root):
    for meta in root.findall(FHIR + "meta"):
        for tag in ("versionId", "lastUpdated"):
            for e in meta.findall(FHIR + tag):
                meta.remove(e)
        if len(meta) == 0:
            root.remove(meta)
    return root


def canon_fhir_xml(data):
    return canon_xml(strip_server_meta_xml(ET.fromstring(data)))


# The XML and JSON files of these examples in fhir-test-cases say different things: the XML of
# observation-decimal writes four decimals with other text than the JSON (1.0e0 / 1.0,
# 0.0000000000000000000001 / 1E-22, e-245 / E-245, e245 / E+245: the exact text is the test),
# the XML of observation-example has an extension the JSON lacks.
SOURCE_DIFFERENCES = {
    "observation-decimal": [(rb'<value value="1\.0e0"/>', b'<value value="1.0"/>'),
                            (rb'"0\.0000000000000000000001"', b'"1E-22"'),
                            (rb'"1\.000000000000000000e-245"', b'"1.000000000000000000E-245"'),
                            (rb'"-1\.000000000000000000e245"', b'"-1.000000000000000000E+245"')],
    "observation-example": [(rb'(?s)<extension url="http://example\.com/fhir/StructureDefinition/patient-age">.*?</extension>', b"")],
}


def examples(ext):
    return sorted(n for n in os.listdir(EXAMPLES) if n.endswith(ext))


def read(name):
    with open(os.path.join(EXAMPLES, name), "rb") as f:
        return f.read()


class XmlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server(config={"validation": {"on_write": "off"}})
        cls.s.start()

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    # -- helpers: a resource goes in with its own id; types that cannot be stored (Parameters)
    # travel as the resource of a collection Bundle.
    def storable(self, resource_type):
        r = self.s.request("GET", "/%s?_count=0&_summary=count" % resource_type)
        return r.status == 200

    def put(self, rtype, rid, body, ctype, accept="application/fhir+json"):
        return self.s.request("PUT", "/%s/%s" % (rtype, rid), body, headers={"Content-Type": ctype, "Accept": accept})

    def wrap(self, resource, rid):
        return {"resourceType": "Bundle", "id": rid, "type": "collection", "entry": [{"resource": resource}]}

    # -- negotiation
    def test_negotiation(self):
        pid = self.s.request("POST", "/Patient", {"resourceType": "Patient", "birthDate": "1970-01-02"}).json()["id"]
        path = "/Patient/" + pid
        for accept, fmt in (("application/fhir+xml", "xml"), ("application/xml", "xml"), ("text/xml", "xml"),
                            ("application/fhir+json", "json"), ("", "json"), ("*/*", "json"),
                            ("application/fhir+json;q=0.5, application/fhir+xml", "xml"),
                            ("application/fhir+xml;q=0.4, application/fhir+json;q=0.9", "json"),
                            ("application/fhir+xml, */*", "xml"),
                            ("application/fhir+xml; fhirVersion=4.0", "xml"),
                            ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "xml"),
                            ("application/fhir+xml;q=0, application/json", "json")):
            with self.subTest(accept=accept):
                r = self.s.request("GET", path, headers={"Accept": accept} if accept else {})
                self.assertEqual(r.status, 200, r)
                ctype = r.header("content-type")
                self.assertTrue(ctype.startswith("application/fhir+" + fmt), ctype)
                if fmt == "xml":
                    root = ET.fromstring(r.body)
                    self.assertEqual(root.tag, FHIR + "Patient")
                    self.assertEqual(root.find(FHIR + "birthDate").get("value"), "1970-01-02")
                else:
                    self.assertEqual(r.json()["birthDate"], "1970-01-02")
        for f in ("xml", "application/fhir+xml", "application/fhir xml", "text/xml", "application/xml"):
            with self.subTest(_format=f):
                r = self.s.request("GET", path + "?_format=" + f.replace(" ", "%20"))
                self.assertEqual(r.status, 200, r)
                self.assertTrue(r.header("content-type").startswith("application/fhir+xml"))
        # _format wins over Accept
        r = self.s.request("GET", path + "?_format=json", headers={"Accept": "application/fhir+xml"})
        self.assertTrue(r.header("content-type").startswith("application/fhir+json"))
        for accept in ("text/html", "application/fhir+xml; fhirVersion=3.0", "application/fhir+xml;q=0"):
            with self.subTest(refused=accept):
                self.assertEqual(self.s.request("GET", path, headers={"Accept": accept}).status, 406)
        # _pretty indents XML
        r = self.s.request("GET", path + "?_format=xml&_pretty=true")
        self.assertIn(b"\n  <birthDate value=\"1970-01-02\"/>", r.body)
        compact = self.s.request("GET", path + "?_format=xml")
        self.assertNotIn(b"\n", compact.body)
        self.assertEqual(canon_fhir_xml(r.body), canon_fhir_xml(compact.body))
        # gzip applies to XML as to JSON
        meta = self.s.request("GET", "/metadata", headers={"Accept": "application/fhir+xml", "Accept-Encoding": "gzip"})
        self.assertEqual(meta.header("content-encoding"), "gzip")
        import gzip
        root = ET.fromstring(gzip.decompress(meta.body))
        self.assertEqual(root.tag, FHIR + "CapabilityStatement")
        formats = [e.get("value") for e in root.findall(FHIR + "format")]
        self.assertIn("application/fhir+xml", formats)
        self.assertIn("xml", formats)

    def test_errors_in_the_format_asked_for(self):
        r = self.s.request("GET", "/Patient/nope", headers={"Accept": "application/fhir+xml"})
        self.assertEqual(r.status, 404)
        self.assertTrue(r.header("content-type").startswith("application/fhir+xml"))
        root = ET.fromstring(r.body)
        self.assertEqual(root.tag, FHIR + "OperationOutcome")
        self.assertEqual(root.find(FHIR + "issue/" + FHIR + "code").get("value"), "not-found")
        # a malformed XML body: 400 as XML (the body's format) with line and column
        r = self.s.request("POST", "/Patient", b'<Patient xmlns="http://hl7.org/fhir">\n  <gender value="male">\n</Patient>',
                           headers={"Content-Type": "application/fhir+xml"})
        self.assertEqual(r.status, 400, r)
        self.assertTrue(r.header("content-type").startswith("application/fhir+xml"))
        diag = ET.fromstring(r.body).find(FHIR + "issue/" + FHIR + "diagnostics").get("value")
        self.assertIn("line 3", diag)
        # ... and as JSON when JSON was asked
        r = self.s.request("POST", "/Patient", b'<Patient xmlns="http://hl7.org/fhir"><foo value="1"/></Patient>',
                           headers={"Content-Type": "application/fhir+xml", "Accept": "application/fhir+json"})
        self.assertEqual(r.status, 400, r)
        self.assertIn("unknown element 'foo' in Patient", r.json()["issue"][0]["diagnostics"])
        self.assertIn("line 1, column 38", r.json()["issue"][0]["diagnostics"])

    def test_read_cache_never_serves_a_stale_rendering(self):
        """XML reads are cached by the stored JSON text: a repeated read is a hit and identical,
        an update is read in its new content at once, an earlier version by vread in its own."""
        def metric(name):
            text = self.s.request("GET", "/metrics").body.decode()
            return float(re.search(r"^%s (\S+)$" % name, text, re.M).group(1))
        pid = self.s.request("POST", "/Patient", {"resourceType": "Patient", "gender": "male"}).json()["id"]
        xml = {"Accept": "application/fhir+xml"}
        first = self.s.request("GET", "/Patient/" + pid, headers=xml)
        hits = metric("edgefhir_xml_cache_hits_total")
        again = self.s.request("GET", "/Patient/" + pid, headers=xml)
        self.assertEqual(again.body, first.body)
        self.assertEqual(metric("edgefhir_xml_cache_hits_total"), hits + 1)
        self.assertGreater(metric("edgefhir_xml_cache_bytes"), len(first.body))
        self.assertEqual(self.s.request("PUT", "/Patient/" + pid, {"resourceType": "Patient", "id": pid,
                                                                   "gender": "female"}).status, 200)
        now = self.s.request("GET", "/Patient/" + pid, headers=xml)
        self.assertEqual(ET.fromstring(now.body).find(FHIR + "gender").get("value"), "female")
        old = self.s.request("GET", "/Patient/%s/_history/1" % pid, headers=xml)
        self.assertEqual(old.body, first.body)
        pretty = self.s.request("GET", "/Patient/%s?_pretty=true" % pid, headers=xml)
        self.assertIn(b"\n", pretty.body)
        self.assertEqual(canon_fhir_xml(pretty.body), canon_fhir_xml(now.body))

    def test_early_errors_follow_the_format(self):
        """406 and 413 are decided before (or instead of) negotiation; they answer in the format
        the request named when it named one, JSON otherwise."""
        def is_xml_outcome(r, code):
            self.assertTrue(r.header("content-type").startswith("application/fhir+xml"), r)
            root = ET.fromstring(r.body)
            self.assertEqual(root.tag, FHIR + "OperationOutcome")
            self.assertEqual(root.find(FHIR + "issue/" + FHIR + "code").get("value"), code)
        for accept, path in (("application/fhir+xml; fhirVersion=3.0", "/Patient"),
                             ("application/fhir+xml", "/Patient?_format=turtle"),
                             ("text/html", "/Patient?_format=application/fhir%2Bxml%2Bturtle")):
            with self.subTest(accept=accept, path=path):
                r = self.s.request("GET", path, headers={"Accept": accept})
                self.assertEqual(r.status, 406, r)
                is_xml_outcome(r, "not-supported")
        r = self.s.request("GET", "/Patient?_format=text/xml%3BfhirVersion%3D5.0")
        self.assertEqual(r.status, 200, r)  # a _format's parameters are ignored: served as XML
        self.assertTrue(r.header("content-type").startswith("application/fhir+xml"), r)
        for accept in ("text/html", "application/fhir+json; fhirVersion=3.0"):
            with self.subTest(json=accept):
                r = self.s.request("GET", "/Patient", headers={"Accept": accept})
                self.assertEqual(r.status, 406, r)
                self.assertEqual(r.json()["resourceType"], "OperationOutcome")
        import gzip
        with Server(config={"limits": {"max_body_bytes": 4096}}) as small:
            small.start()
            big = json.dumps({"resourceType": "Patient", "name": [{"family": "x" * 8000}]})
            for headers in ({"Content-Type": "application/fhir+json"},  # Content-Length over the limit
                            {"Content-Type": "application/fhir+json", "Content-Encoding": "gzip"}):  # inflates past it
                body = gzip.compress(big.encode()) if "Content-Encoding" in headers else big
                with self.subTest(headers=headers):
                    r = small.request("POST", "/Patient", body, headers=dict(headers, Accept="application/fhir+xml"))
                    self.assertEqual(r.status, 413, r)
                    is_xml_outcome(r, "too-costly")
                    r = small.request("POST", "/Patient?_format=xml", body, headers=headers)
                    self.assertEqual(r.status, 413, r)
                    is_xml_outcome(r, "too-costly")
                    r = small.request("POST", "/Patient", body, headers=headers)
                    self.assertEqual(r.status, 413, r)
                    self.assertEqual(r.json()["resourceType"], "OperationOutcome")

    def test_bad_documents_name_the_problem(self):
        cases = [
            (b'<Patient><gender value="male"/></Patient>', "FHIR namespace"),
            (b'<Foo xmlns="http://hl7.org/fhir"/>', "not a FHIR R4 resource type"),
            (b'<Patient xmlns="http://hl7.org/fhir"><name><given value="a"/><family value="b"/><family value="c"/></name></Patient>',
             "'family' appears more than once in Patient.name"),
            (b'<Patient xmlns="http://hl7.org/fhir"><active value="yes"/></Patient>', "not a boolean"),
            (b'<Patient xmlns="http://hl7.org/fhir"><multipleBirthInteger value="1.5"/></Patient>', "not a valid integer"),
            (b'<Observation xmlns="http://hl7.org/fhir"><status value="final"/><code><text value="x"/></code>'
             b'<valueQuantity><value value="01.5"/></valueQuantity></Observation>', "not a valid decimal"),
            (b'<Patient xmlns="http://hl7.org/fhir"><gender>male</gender></Patient>', "text content"),
            (b'<Patient xmlns="http://hl7.org/fhir"><name><extension><url value="x"/></extension></name></Patient>',
             "'url' is an attribute"),
            (b'<Patient xmlns="http://hl7.org/fhir"><deceasedBoolean value="true"/><deceasedDateTime value="2020"/></Patient>',
             "deceased[x]"),
            (b'<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><div>x</div></text></Patient>',
             "XHTML namespace"),
            (b'<Patient xmlns="http://hl7.org/fhir" foo="1"/>', "unknown attribute 'foo'"),
            (b'<Patient xmlns="http://hl7.org/fhir"/><Patient xmlns="http://hl7.org/fhir"/>', None),
            (b'<Patient xmlns="http://hl7.org/fhir"><gender value="a &nbsp; b"/></Patient>', "undefined entity &nbsp;"),
            (b'<Patient xmlns="http://hl7.org/fhir"><gender value="&#0;"/></Patient>', "character reference"),
        ]
        for body, phrase in cases:
            with self.subTest(body=body[:60]):
                r = self.s.request("POST", "/Patient", body, headers={"Content-Type": "application/fhir+xml",
                                                                       "Accept": "application/fhir+json"})
                self.assertEqual(r.status, 400, r)
                self.assertEqual(r.json()["resourceType"], "OperationOutcome")
                if phrase:
                    self.assertIn(phrase, r.json()["issue"][0]["diagnostics"])
        self.assertEqual(self.s.request("GET", "/Patient?_summary=count&_count=0").json().get("total"),
                         self.s.request("GET", "/Patient?_summary=count&_count=0").json().get("total"))

    # -- XML bodies on every interaction that takes one
    def test_xml_bodies_on_writes(self):
        body = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Patient xmlns="http://hl7.org/fhir">'
                b'<identifier><system value="urn:x"/><value value="xml-1"/></identifier>'
                b'<birthDate id="bd" value="1970-01-02"><extension url="http://hl7.org/fhir/StructureDefinition/patient-birthTime">'
                b'<valueDateTime value="1970-01-02T10:00:00Z"/></extension></birthDate></Patient>')
        r = self.s.request("POST", "/Patient", body, headers={"Content-Type": "application/fhir+xml"})
        self.assertEqual(r.status, 201, r)
        self.assertTrue(r.header("content-type").startswith("application/fhir+xml"))  # the body's format
        pid = ET.fromstring(r.body).find(FHIR + "id").get("value")
        j = self.s.request("GET", "/Patient/" + pid).json()
        self.assertEqual(j["birthDate"], "1970-01-02")
        self.assertEqual(j["_birthDate"]["id"], "bd")
        self.assertEqual(j["_birthDate"]["extension"][0]["valueDateTime"], "1970-01-02T10:00:00Z")
        # conditional create finds it
        r = self.s.request("POST", "/Patient", body, headers={"Content-Type": "application/xml", "If-None-Exist": "identifier=urn:x|xml-1"})
        self.assertEqual(r.status, 200, r)
        # update
        upd = body.replace(b'<Patient xmlns="http://hl7.org/fhir">',
                           b'<Patient xmlns="http://hl7.org/fhir"><id value="' + pid.encode() + b'"/><active value="true"/>')
        r = self.s.request("PUT", "/Patient/" + pid, upd, headers={"Content-Type": "text/xml", "Accept": "application/fhir+json"})
        self.assertEqual(r.status, 200, r)
        self.assertIs(r.json()["active"], True)
        # conditional update
        r = self.s.request("PUT", "/Patient?identifier=urn:x|xml-1", upd.replace(b'value="true"', b'value="false"'),
                           headers={"Content-Type": "application/fhir+xml", "Accept": "application/fhir+json"})
        self.assertEqual(r.status, 200, r)
        self.assertIs(r.json()["active"], False)
        # transaction in XML, answered in XML
        tx = (b'<Bundle xmlns="http://hl7.org/fhir"><type value="transaction"/>'
              b'<entry><fullUrl value="urn:uuid:0b7e2b1c-0000-4000-8000-000000000001"/><resource><Patient>'
              b'<name><family value="Tx"/></name></Patient></resource><request><method value="POST"/><url value="Patient"/></request></entry>'
              b'<entry><resource><Observation><status value="final"/><code><text value="w"/></code>'
              b'<subject><reference value="urn:uuid:0b7e2b1c-0000-4000-8000-000000000001"/></subject>'
              b'<valueQuantity><value value="72.50"/><unit value="kg"/></valueQuantity></Observation></resource>'
              b'<request><method value="POST"/><url value="Observation"/></request></entry></Bundle>')
        r = self.s.request("POST", "/", tx, headers=XML_HEADERS)
        self.assertEqual(r.status, 200, r)
        root = ET.fromstring(r.body)
        self.assertEqual(root.find(FHIR + "type").get("value"), "transaction-response")
        locs = [e.get("value") for e in root.iter(FHIR + "location")]
        self.assertEqual(len(locs), 2)
        obs = self.s.request("GET", "/" + locs[1].split("/_history")[0], headers={"Accept": "application/fhir+xml"})
        oroot = ET.fromstring(obs.body)
        self.assertEqual(oroot.find(FHIR + "valueQuantity/" + FHIR + "value").get("value"), "72.50")
        self.assertTrue(oroot.find(FHIR + "subject/" + FHIR + "reference").get("value").startswith("Patient/"))
        # search results (a Bundle with resources inside entries) in XML
        r = self.s.request("GET", "/Patient?identifier=urn:x|xml-1&_format=xml")
        root = ET.fromstring(r.body)
        self.assertEqual(root.find(FHIR + "total").get("value"), "1")
        self.assertIsNotNone(root.find(FHIR + "entry/" + FHIR + "resource/" + FHIR + "Patient"))
        # $validate with an XML body
        r = self.s.request("POST", "/Patient/$validate", b'<Patient xmlns="http://hl7.org/fhir"><gender value="nope"/></Patient>',
                           headers={"Content-Type": "application/fhir+xml", "Accept": "application/fhir+json"})
        self.assertEqual(r.status, 200, r)
        self.assertIn("gender", json.dumps(r.json()))
        self.assertEqual(r.json()["issue"][0]["severity"], "error")

    # -- the official examples
    def round_trip_json(self, name):
        src = json.loads(read(name))
        rtype, rid = src["resourceType"], src.get("id") or "x" + name.split(".")[0][:50]
        src["id"] = rid
        if not self.storable(rtype):
            src, rtype = self.wrap(src, "wrap-" + rid[:50]), "Bundle"
            rid = src["id"]
        r = self.put(rtype, rid, json.dumps(src), "application/fhir+json")
        self.assertIn(r.status, (200, 201), r)
        first = self.s.request("GET", "/%s/%s" % (rtype, rid))
        as_xml = self.s.request("GET", "/%s/%s" % (rtype, rid), headers={"Accept": "application/fhir+xml"})
        self.assertEqual(as_xml.status, 200)
        r = self.put(rtype, rid, as_xml.body, "application/fhir+xml")
        self.assertIn(r.status, (200, 201), r)
        back = self.s.request("GET", "/%s/%s" % (rtype, rid))
        a, b = exact_json(first.body), exact_json(back.body)
        if "text" not in src and "contained" not in src:
            # an update identical to the current version makes no new version: the XML round
            # trip changed no byte.  (A narrative div comes back as equivalent XHTML: entities
            # such as &quot; are written as the characters they stand for.)
            self.assertEqual(a["meta"]["versionId"], b["meta"]["versionId"], name)
        self.assertEqual(canon_json(strip_server_meta_json(a)), canon_json(strip_server_meta_json(b)), name)

    def test_json_examples_round_trip_through_xml(self):
        names = examples(".json")
        self.assertGreaterEqual(len(names), 40)
        for name in names:
            with self.subTest(example=name):
                self.round_trip_json(name)

    def test_xml_examples_round_trip(self):
        names = examples(".xml")
        self.assertGreaterEqual(len(names), 10)
        for name in names:
            with self.subTest(example=name):
                data = read(name)
                root = ET.fromstring(data)
                rtype = root.tag[len(FHIR):]
                rid = root.find(FHIR + "id").get("value")
                if self.storable(rtype):
                    r = self.put(rtype, rid, data, "application/fhir+xml", accept="application/fhir+xml")
                    self.assertIn(r.status, (200, 201), r)
                    got = self.s.request("GET", "/%s/%s" % (rtype, rid), headers={"Accept": "application/fhir+xml"})
                    self.assertEqual(canon_fhir_xml(got.body), canon_fhir_xml(data), name)
                    continue
                # Parameters: the resource of a collection Bundle
                inner = data[data.index(b"<" + rtype.encode()):] if data.startswith(b"<?") else data
                wrapped = (b'<Bundle xmlns="http://hl7.org/fhir"><id value="wrap"/><type value="collection"/>'
                           b'<entry><resource>' + inner + b'</resource></entry></Bundle>')
                r = self.put("Bundle", "wrap", wrapped, "application/fhir+xml", accept="application/fhir+xml")
                self.assertIn(r.status, (200, 201), r)
                got = ET.fromstring(self.s.request("GET", "/Bundle/wrap?_format=xml").body)
                got_inner = got.find(FHIR + "entry/" + FHIR + "resource/" + FHIR + rtype)
                self.assertEqual(canon_xml(got_inner), canon_xml(ET.fromstring(data)), name)

    def test_examples_in_both_forms_convert_to_each_other(self):
        pairs = [n[:-4] for n in examples(".xml") if os.path.exists(os.path.join(EXAMPLES, n[:-4] + ".json"))]
        self.assertGreaterEqual(len(pairs), 5)
        for base in pairs:
            with self.subTest(example=base):
                xml_data, json_data = read(base + ".xml"), read(base + ".json")
                # Where HL7's two files of an example differ in content (tests/data/README.md),
                # the difference is removed from the XML first (and must be there).
                for old, new in SOURCE_DIFFERENCES.get(base, ()):
                    self.assertRegex(xml_data, old, base)
                    xml_data = re.sub(old, new, xml_data, count=1, flags=re.S)
                src = exact_json(json_data)
                rtype, rid = src["resourceType"][1] if isinstance(src["resourceType"], tuple) else src["resourceType"], src["id"]
                # XML in, JSON out == the JSON form
                r = self.put(rtype, rid, xml_data, "application/fhir+xml")
                self.assertIn(r.status, (200, 201), r)
                got = strip_server_meta_json(exact_json(self.s.request("GET", "/%s/%s" % (rtype, rid)).body))
                self.assertEqual(canon_json(got), canon_json(strip_server_meta_json(src)), base)
                # JSON in, XML out == the XML form
                r = self.put(rtype, rid, json_data, "application/fhir+json")
                self.assertIn(r.status, (200, 201), r)
                got = self.s.request("GET", "/%s/%s" % (rtype, rid), headers={"Accept": "application/fhir+xml"})
                self.assertEqual(canon_fhir_xml(got.body), canon_fhir_xml(xml_data), base)


class HostileXmlTest(unittest.TestCase):
    """Each case: 400 naming the problem, the server alive, nothing stored, nothing read from disk."""

    @classmethod
    def setUpClass(cls):
        cls.s = Server()
        cls.s.start()
        cls.secret = os.path.join(cls.s.tmp, "secret.txt")
        with open(cls.secret, "w") as f:
            f.write("TOP-SECRET-CONTENT")

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def refused(self, body, phrase, status=400):
        r = self.s.request("POST", "/Patient", body, headers={"Content-Type": "application/fhir+xml",
                                                               "Accept": "application/fhir+json"}, timeout=60)
        self.assertEqual(r.status, status, r)
        diag = r.json()["issue"][0]["diagnostics"]
        self.assertIn(phrase, diag)
        self.assertNotIn("TOP-SECRET", r.body.decode("utf-8", "replace"))
        self.assertTrue(self.s.alive())
        self.assertEqual(self.s.request("GET", "/metadata").status, 200)
        self.assertEqual(self.s.request("GET", "/Patient?_summary=count").json()["total"], 0)
        return diag

    def test_billion_laughs(self):
        lol = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
               + b"".join(b' <!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                          for i in range(1, 10))
               + b']>\n<Patient xmlns="http://hl7.org/fhir"><gender value="&lol9;"/></Patient>')
        diag = self.refused(lol, "DOCTYPE")
        self.assertIn("line 2, column 1", diag)

    def test_external_entity_to_a_local_file(self):
        for target in (self.secret, "/etc/passwd"):
            with self.subTest(target=target):
                xxe = ('<?xml version="1.0"?><!DOCTYPE p [<!ENTITY xxe SYSTEM "file://%s">]>'
                       '<Patient xmlns="http://hl7.org/fhir"><gender value="&xxe;"/></Patient>' % target).encode()
                self.refused(xxe, "DOCTYPE")
                # without the DOCTYPE the reference is just undefined
                self.refused(b'<Patient xmlns="http://hl7.org/fhir"><gender value="&xxe;"/></Patient>', "undefined entity")
        with open("/proc/%d/status" % self.s.proc.pid) as f:
            self.assertIn("State", f.read())

    def test_deep_nesting(self):
        depth = 100000
        body = (b'<Patient xmlns="http://hl7.org/fhir">' + b"<extension url=\"u\">" * depth
                + b"</extension>" * depth + b"</Patient>")
        self.refused(body, "nesting deeper than 64")
        # deep nesting inside the narrative, too
        body = (b'<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml">'
                + b"<b>" * depth + b"x" + b"</b>" * depth + b"</div></text></Patient>")
        self.refused(body, "nesting deeper than 64")
        # unclosed deep nesting: malformed, with a position
        self.refused(b'<Patient xmlns="http://hl7.org/fhir">' + b"<name>" * depth, "malformed XML")

    def test_huge_attribute(self):
        body = b'<Patient xmlns="http://hl7.org/fhir" ' + b"a" * (4 << 20) + b'="1"/>'
        self.refused(body, "unknown attribute")
        body = b'<Patient xmlns="http://hl7.org/fhir"><id value="' + b"x" * (8 << 20) + b'"/></Patient>'
        r = self.s.request("PUT", "/Patient/x", body, headers={"Content-Type": "application/fhir+xml"}, timeout=60)
        self.assertEqual(r.status, 400, r)
        self.assertTrue(self.s.alive())

    def peak_kb(self, reset=False):
        if reset:
            with open("/proc/%d/clear_refs" % self.s.proc.pid, "w") as f:
                f.write("5")  # resets VmHWM to the current RSS
        with open("/proc/%d/status" % self.s.proc.pid) as f:
            return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))

    def test_many_nodes(self):
        # more '<' and '=' than 2 x limits.max_json_values (1,000,000) in 8 MiB: refused by
        # counting, before pugixml builds a tree (which would cost ~50 bytes a node)
        body = b'<Patient xmlns="http://hl7.org/fhir">' + b"<a/>" * 2100000 + b"</Patient>"
        start = self.peak_kb(reset=True)
        self.refused(body, "more than 2000000 elements and attributes")
        # the body itself is held twice at most (cpp-httplib's buffer and ours)
        self.assertLess(self.peak_kb() - start, 40 * 1024)
        # just under the count: a tree is built, then the unknown element 'a' is refused
        body = b'<Patient xmlns="http://hl7.org/fhir">' + b"<a/>" * 1900000 + b"</Patient>"
        self.refused(body, "unknown element 'a' in Patient")

    def test_invalid_utf8_and_encodings(self):
        self.refused(b'<Patient xmlns="http://hl7.org/fhir"><gender value="\xff\xfe"/></Patient>', "not valid UTF-8")
        self.refused('<?xml version="1.0" encoding="ISO-8859-1"?><Patient xmlns="http://hl7.org/fhir"/>'.encode(),
                     "encoding 'iso-8859-1' is not supported")
        self.refused(b'<Patient xmlns="http://hl7.org/fhir"><gender value="a\x01b"/></Patient>', "control character")
        self.refused('<Patient xmlns="http://hl7.org/fhir"/>'.encode("utf-16"), "not valid UTF-8")


if __name__ == "__main__":
    unittest.main()

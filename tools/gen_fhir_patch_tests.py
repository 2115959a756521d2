#!/usr/bin/env python3
"""tools/gen_fhir_patch_tests.py — convert HL7's official FHIRPath Patch test cases
(fhir-test-cases r4/patch/fhir-patch-tests.xml, XML) into JSON for the e2e test
tests/e2e/test_fhirpath_patch.py, so `make test` reads nothing outside the repository.

Usage: python3 tools/gen_fhir_patch_tests.py [--src tests/data/fhir-patch/fhir-patch-tests.xml]
                                             [--out tests/data/fhir-patch/fhir-patch-tests.json] [--check]

Output: a JSON array, one object per <case>, in file order:
  {"name": ..., "mode": ..., "input": <resource>, "params": <Parameters>,
   "output": <resource>}            or, for an error case, "error": "<msg of the case>"
The XML -> JSON conversion follows the FHIR JSON rules (https://hl7.org/fhir/R4/json.html)
with the R4 type model of data/types.tsv (tools/gen_types.py): an element is an array exactly
when its definition repeats (max != 1); a primitive's `value` attribute becomes a JSON
boolean / number / string by its type, its id and extensions go to `_name` (aligned with
null in arrays); choice elements keep their type suffix (valueDate); `resource` and
`contained` hold a nested resource; an xhtml `div` becomes the XHTML text (namespace on the
root div, element names without prefix).  Comments are dropped.  --check compares with the
committed file instead of writing it (exit 1 when they differ).
Python standard library only (xml.etree.ElementTree).
"""
import argparse
import json
import os
import sys
import xml.etree.ElementTree as ET

FHIR_NS = "{http://hl7.org/fhir}"
XHTML_NS = "{http://www.w3.org/1999/xhtml}"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def load_types(path):
    prims = {}   # primitive name -> json kind (boolean | number | string)
    types = {}   # type name -> {"kind": ..., "elements": [(name, max, [types], choice)]}
    cur = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            c = line.rstrip("\n").split("\t")
            if c[0] == "P":
                prims[c[1]] = c[2]
            elif c[0] == "T":
                cur = {"kind": c[2], "elements": []}
                types[c[1]] = cur
            elif c[0] == "E" and cur is not None:
                # "Reference(Patient|Group)": targets are "|"-separated, types ","-separated
                tnames = [t.split("(")[0] for t in c[4].split(",") if t]
                cur["elements"].append((c[1], c[3], tnames, "C" in c[5]))
    return prims, types


class Converter:
    def __init__(self, prims, types):
        self.prims = prims
        self.types = types

    def local(self, tag):
        return tag.split("}", 1)[1] if tag.startswith("{") else tag

    def element_def(self, tname, name):
        """(json name, child type, repeats) of child element `name` of type `tname`."""
        t = self.types.get(tname)
        if t is None:
            raise ValueError("unknown type " + tname)
        for (ename, emax, etypes, choice) in t["elements"]:
            if not choice and ename == name:
                return name, etypes[0], emax != "1"
            if choice and name.startswith(ename) and len(name) > len(ename):
                suffix = name[len(ename):]
                for et in etypes:
                    if et[0].upper() + et[1:] == suffix:
                        return name, et, emax != "1"
        raise ValueError("'%s' is not an element of %s" % (name, tname))

    def xhtml(self, el, root=True):
        name = self.local(el.tag)
        attrs = ""
        if root:
            attrs += ' xmlns="http://www.w3.org/1999/xhtml"'
        for k, v in el.attrib.items():
            attrs += ' %s="%s"' % (self.local(k), v.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;"))
        out = "<" + name + attrs + ">"
        out += esc(el.text or "")
        for ch in el:
            out += self.xhtml(ch, False)
            out += esc(ch.tail or "")
        return out + "</" + name + ">"

    def primitive(self, tname, text):
        kind = self.prims.get(tname, "string")
        if kind == "boolean":
            return text == "true"
        if kind == "number":
            v = json.loads(text)
            return v
        return text

    def resource(self, el):
        rt = self.local(el.tag)
        out = {"resourceType": rt}
        self.children(el, rt, out)
        return out

    def children(self, el, tname, out):
        prim_ext = {}
        for ch in el:
            if not isinstance(ch.tag, str):  # comments
                continue
            name = self.local(ch.tag)
            jname, ctype, repeats = self.element_def(tname, name)
            ext = None
            if ctype == "xhtml":
                value = self.xhtml(ch)
            elif ctype in ("Resource",) or self.types.get(ctype, {}).get("kind") == "resource":
                inner = [x for x in ch if isinstance(x.tag, str)]
                value = self.resource(inner[0])
            elif self.types.get(ctype, {}).get("kind") == "primitive":
                value = self.primitive(ctype, ch.get("value")) if ch.get("value") is not None else None
                e = {}
                if ch.get("id") is not None:
                    e["id"] = ch.get("id")
                self.children(ch, "Element", e)
                ext = e or None
            else:
                value = {}
                for k in ("id", "url"):
                    if ch.get(k) is not None:
                        value[k] = ch.get(k)
                self.children(ch, ctype, value)
            if repeats:
                out.setdefault(jname, []).append(value)
                prim_ext.setdefault(jname, []).append(ext)
            else:
                if value is not None:
                    out[jname] = value
                if ext is not None:
                    out["_" + jname] = ext
        for jname, exts in prim_ext.items():
            if any(x is not None for x in exts):
                out["_" + jname] = exts
            if all(v is None for v in out[jname]):
                del out[jname]


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def convert(src, types_path):
    prims, types = load_types(types_path)
    conv = Converter(prims, types)
    tree = ET.parse(src)
    cases = []
    for case in tree.getroot().iter("case"):
        c = {"name": case.get("name"), "mode": case.get("mode")}

        def one(tag):
            holder = case.find(tag)
            inner = [x for x in holder if isinstance(x.tag, str)]
            return conv.resource(inner[0])

        c["input"] = one("input")
        c["params"] = one("diff")
        err = case.find("error")
        if err is not None:
            c["error"] = err.get("msg")
        else:
            c["output"] = one("output")
        cases.append(c)
    return cases


def main():
    ap = argparse.ArgumentParser()
    # the unmodified copy of ../shared/fhir-test-cases/r4/patch/fhir-patch-tests.xml
    ap.add_argument("--src", default=os.path.join(ROOT, "tests", "data", "fhir-patch", "fhir-patch-tests.xml"))
    ap.add_argument("--types", default=os.path.join(ROOT, "data", "types.tsv"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "fhir-patch", "fhir-patch-tests.json"))
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    cases = convert(a.src, a.types)
    text = json.dumps(cases, indent=1, ensure_ascii=False) + "\n"
    if a.check:
        with open(a.out, encoding="utf-8") as f:
            same = f.read() == text
        print("%s: %s" % (a.out, "up to date" if same else "DIFFERS from the conversion of " + a.src))
        return 0 if same else 1
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w", encoding="utf-8") as f:
        f.write(text)
    print("%d cases -> %s" % (len(cases), a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

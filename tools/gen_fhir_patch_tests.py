#!/usr/bin/env python3
"""tools/gen_fhir_patch_tests.py — convert HL7's official FHIRPath Patch test cases
(fhir-test-cases r4/patch/fhir-patch-tests.xml, XML) into JSON for the e2e test
tests/e2e/test_fhirpath_patch.py, so `make test` reads nothing outside the repository.

Usage: python3 tools/gen_fhir_patch_tests.py [--src tests/data/fhir-patch/fhir-patch-tests.xml]
                                             [--out tests/data/fhir-patch/fhir-patch-tests.json] [--check]

Output: a JSON array, one object per <case>, in file order:
  {"name": ..., "mode": ..., "input": <resource>, "params": <Parameters>,
   "output": <resource>}            or, for an error case, "error": "<msg of the case>"
The XML -> JSON conversion is tools/fhir_xml_json.py (FHIR JSON rules with the R4 type model of
data/types.tsv; numbers keep their exact text), shared with tools/gen_fhirpath_tests.py.
--check compares with the committed file instead of writing it (exit 1 when they differ).
Python standard library only (xml.etree.ElementTree).
"""
import argparse
import os
import sys
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from fhir_xml_json import Converter, dumps  # noqa: E402  (the shared XML -> JSON converter)


def convert(src, types_path):
    conv = Converter.from_table(types_path)
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
    text = dumps(cases) + "\n"
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

#!/usr/bin/env python3
"""tools/gen_fhirpath_tests.py — HL7's FHIRPath test suite (fhir-test-cases r4/fhirpath/tests-fhir-r4.xml)
as JSON for tests/unit/fhir/fhirpath_suite_test.cpp, so `make test` reads nothing outside the repository.

Usage: python3 tools/gen_fhirpath_tests.py [--cases ../shared/fhir-test-cases/r4] [--out tests/data/fhirpath]

Writes <out>/tests-fhir-r4.json: an array, one object per <test>, in file order:
  {"name", "group", "expression", "inputfile" (the .json name), "predicate" (bool),
   "mode" ("" | "strict"), "invalid" ("" | "syntax" | "semantic" | "execution"),
   "outputs": [{"type": "boolean", "value": "true"}, ...]}
and every input resource as <out>/<name>.json.  An XML input is taken in the JSON form of
<cases>/examples/<name>.json when that file exists and has the same content as our conversion of
the XML (tools/fhir_xml_json.py); otherwise our conversion is written (the generator says which).
JSON inputs are copied.  Numbers keep their exact text.
"""
import argparse
import decimal
import os
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fhir_xml_json as fx  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def norm(v):
    """Content comparison: numbers by value, narrative text ignored (serialisations differ)."""
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items() if k != "text"}
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, decimal.Decimal):
        return ("n", float(v))
    return v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default=os.path.join(ROOT, "..", "shared", "fhir-test-cases", "r4"))
    ap.add_argument("--types", default=os.path.join(ROOT, "data", "types.tsv"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "fhirpath"))
    a = ap.parse_args()
    conv = fx.Converter.from_table(a.types)
    tree = ET.parse(os.path.join(a.cases, "fhirpath", "tests-fhir-r4.xml"))
    tests, inputs = [], set()
    for group in tree.getroot().iter("group"):
        for t in group.iter("test"):
            ex = t.find("expression")
            inp = t.get("inputfile") or ""
            if inp:
                inputs.add(inp)
            tests.append({
                "name": t.get("name") or "",
                "group": group.get("name"),
                "expression": ex.text or "",
                "inputfile": os.path.splitext(inp)[0] + ".json" if inp else "",
                "predicate": t.get("predicate") == "true",
                "mode": ex.get("mode") or t.get("mode") or "",
                "invalid": ex.get("invalid") or "",
                "outputs": [{"type": o.get("type") or "", "value": o.text or ""} for o in t.findall("output")],
            })
    os.makedirs(a.out, exist_ok=True)
    for inp in sorted(inputs):
        base = os.path.splitext(inp)[0]
        src = os.path.join(a.cases, inp)
        if inp.endswith(".json"):
            with open(src, encoding="utf-8") as f:
                res = fx.loads(f.read())
            how = "copied"
        else:
            res = fx.convert_file(src, a.types)
            how = "converted from XML"
            ex = os.path.join(a.cases, "examples", base + ".json")
            if os.path.exists(ex):
                with open(ex, encoding="utf-8") as f:
                    official = fx.loads(f.read())
                if norm(official) == norm(res):
                    res, how = official, "official JSON (examples/%s.json, same content as the XML)" % base
                else:
                    how += " (examples/%s.json differs in content)" % base
        with open(os.path.join(a.out, base + ".json"), "w", encoding="utf-8") as f:
            f.write(fx.dumps(res) + "\n")
        print("%s: %s" % (inp, how))
    with open(os.path.join(a.out, "tests-fhir-r4.json"), "w", encoding="utf-8") as f:
        f.write(fx.dumps(tests) + "\n")
    print("%d tests -> %s" % (len(tests), a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

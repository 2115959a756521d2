#!/usr/bin/env python3
"""tools/gen_types.py — derive data/types.tsv (the R4 type model) from the official FHIR R4
StructureDefinitions and value sets.

Usage: python3 tools/gen_types.py [--src ../shared/fhir-r4] [--out data] [--check]

Reads profiles-types.json and profiles-resources.json (FHIR 4.0.1, CC0) and writes data/types.tsv, a line-oriented, tab-separated table that
src/fhir/type_model.cpp parses lazily on first use.  Records, in this order:

  P  name  json  regex                      a primitive type: json = boolean|number|string,
                                             regex = the spec's value regex ("" when none)
  K  n  key  severity  expression  human     invariant number n (constraint[]); keys are not
                                             unique across the spec (two texts of ele-1, dom-3)
  T  name  kind  abstract  invariants        a type: kind = primitive|complex|resource|backbone;
                                             abstract = 0|1; invariants of the type itself;
                                             backbone types are named by their element path
                                             (e.g. Patient.contact) and hold its children
  E  name  min  max  types  flags  binding  invariants
                                             one child element of the last T, in definition
                                             order.  name without "[x]"; max "*" or a number;
                                             types = ","-separated type names, a Reference or
                                             canonical with targets as Reference(Patient|Group);
                                             a backbone element's type is its own path, a
                                             contentReference's the referenced path; flags =
                                             C (choice [x]) S (isSummary) M (isModifier);
                                             binding = strength|ValueSet canonical or "";
                                             invariants = ","-separated K numbers

The codes of the bound value sets are not here: the validator asks the terminology engine
(src/fhir/terminology.h, data/terminology.tsv from tools/gen_terminology.py) for them.
--check compares with data/types.tsv instead of writing it (exit 1 when it is out of date).

StructureDefinitions whose fhirVersion is not 4.0.1 (SubscriptionStatus, 4.3.0) and canonical URLs outside http://hl7.org/fhir/ and http://terminology.hl7.org/ (added by the
redistributing npm package, see ../shared/fhir-r4/README.md) are dropped.
"""
import argparse
import json
import os
import sys

HL7 = ("http://hl7.org/fhir/", "http://terminology.hl7.org/")
FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
REGEX_EXT = "http://hl7.org/fhir/StructureDefinition/regex"
SD_PREFIX = "http://hl7.org/fhir/StructureDefinition/"


def clean(s):
    return " ".join(str(s).replace("\t", " ").replace("\r", " ").replace("\n", " ").split())


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def sds_of(bundle):
    for e in bundle["entry"]:
        r = e["resource"]
        if r["resourceType"] == "StructureDefinition" and r.get("kind") != "logical":
            yield r


def ext(obj, url):
    for x in obj.get("extension", []) or []:
        if x.get("url") == url:
            for k, v in x.items():
                if k.startswith("value"):
                    return v
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "fhir-r4"))
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "data"))
    ap.add_argument("--check", action="store_true", help="exit 1 if data/types.tsv is out of date")
    args = ap.parse_args()
    types_b = load(os.path.join(args.src, "profiles-types.json"))
    res_b = load(os.path.join(args.src, "profiles-resources.json"))

    sds = []
    for sd in list(sds_of(types_b)) + list(sds_of(res_b)):
        if sd.get("derivation") == "constraint":
            continue  # profiles (SimpleQuantity, MoneyQuantity, ...): the base type is used
        if sd.get("fhirVersion", "4.0.1") != "4.0.1":
            continue  # the npm package adds R4B's SubscriptionStatus (fhirVersion 4.3.0): not R4
        sds.append(sd)

    out = []
    inv_index = {}
    inv_lines = []

    def inv(c):
        k = (c["key"], c.get("severity", "error"), clean(c.get("expression", "")), clean(c.get("human", "")))
        if k not in inv_index:
            inv_index[k] = len(inv_index)
            inv_lines.append("K\t%d\t%s\t%s\t%s\t%s" % ((inv_index[k],) + k))
        return inv_index[k]

    prims = []
    type_lines = []
    n_elements = 0
    for sd in sds:
        name = sd["type"] if sd["kind"] != "resource" else sd["id"]
        kind = {"primitive-type": "primitive", "complex-type": "complex", "resource": "resource"}[sd["kind"]]
        elements = sd["snapshot"]["element"]
        if kind == "primitive":
            regex, fhir_json = "", "string"
            for el in elements:
                if el["path"] == name + ".value":
                    t = el["type"][0]
                    regex = ext(t, REGEX_EXT) or ""
                    code = t["code"]
                    if code.endswith("Boolean"):
                        fhir_json = "boolean"
                    elif code.endswith("Integer") or code.endswith("Decimal"):
                        fhir_json = "number"
            if name in ("integer", "positiveInt", "unsignedInt", "decimal"):
                fhir_json = "number"
            prims.append("P\t%s\t%s\t%s" % (name, fhir_json, clean(regex)))
        # group children by parent path, in definition order
        children = {}
        order = []
        root = elements[0]["path"]
        for el in elements:
            p = el["path"]
            if p == root:
                continue
            parent = p.rsplit(".", 1)[0]
            if parent not in children:
                children[parent] = []
                order.append(parent)
            children[parent].append(el)
        for parent in [root] + [o for o in order if o != root]:
            if parent == root:
                pel, tname, tkind = elements[0], name, kind
            else:
                if kind == "primitive":
                    continue
                pel = next(e for e in elements if e["path"] == parent)
                tname, tkind = parent.replace(root, name, 1), "backbone"
            rinv = sorted({inv(c) for c in pel.get("constraint", []) if c.get("expression")})
            head = "T\t%s\t%s\t%d\t%s" % (tname, tkind, 1 if (parent == root and sd.get("abstract")) else 0,
                                         ",".join(map(str, rinv)))
            type_lines.append(head)
            for el in children.get(parent, []):
                n_elements += 1
                ename = el["path"].rsplit(".", 1)[1]
                flags = ""
                if ename.endswith("[x]"):
                    ename = ename[:-3]
                    flags += "C"
                if el.get("isSummary"):
                    flags += "S"
                if el.get("isModifier"):
                    flags += "M"
                tnames = []
                if "contentReference" in el:
                    tnames.append(el["contentReference"].lstrip("#"))
                elif el["path"] in children:
                    tnames.append(el["path"].replace(root, name, 1))
                else:
                    for t in el.get("type", []):
                        code = t["code"]
                        if code.startswith("http://hl7.org/fhirpath/System."):
                            code = ext(t, FHIR_TYPE_EXT) or "string"
                            if ename == "id" and kind == "resource" and parent == root:
                                code = "id"  # Resource.id is an id (the fhir-type extension says string)
                        targets = [
                            tp[len(SD_PREFIX):]
                            for tp in t.get("targetProfile", []) or []
                            if tp.startswith(SD_PREFIX)
                        ]
                        if targets and code in ("Reference", "canonical"):
                            code += "(" + "|".join(targets) + ")"
                        tnames.append(code)
                b = el.get("binding")
                binding = ""
                if b and b.get("valueSet", "").startswith(HL7):
                    vs = b["valueSet"].split("|")[0]
                    binding = b["strength"] + "|" + vs
                invs = sorted({inv(c) for c in el.get("constraint", []) if c.get("expression")})
                type_lines.append(
                    "E\t%s\t%s\t%s\t%s\t%s\t%s\t%s"
                    % (ename, el.get("min", 0), el.get("max", "*"), ",".join(tnames), flags, binding,
                       ",".join(map(str, invs))))

    header = ["# GENERATED by tools/gen_types.py from the FHIR R4 4.0.1 definitions - do not edit."]
    text = "\n".join(header + prims + inv_lines + type_lines) + "\n"
    path = os.path.join(args.out, "types.tsv")
    if args.check:
        try:
            with open(path, encoding="utf-8", newline="") as f:
                same = f.read() == text
        except OSError:
            same = False
        print("%s: %s" % (path, "up to date" if same else "OUT OF DATE"))
        return 0 if same else 1
    os.makedirs(args.out, exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(path + ".tmp", path)
    n_types = sum(1 for l in type_lines if l.startswith("T\t"))
    print("types.tsv: %d bytes, %d primitives, %d types (incl. backbone), %d elements, %d invariants"
          % (len(text.encode()), len(prims), n_types, n_elements, len(inv_lines)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

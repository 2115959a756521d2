#!/usr/bin/env python3
"""tools/validate_examples.py — the whole validation corpus from ../shared (not part of
`make test`, which reads only the sample in tests/data/fhir-r4-examples/):

  1. `edgefhir validate` on every JSON file of ../shared/fhir-test-cases/r4/examples (the
     official R4 examples) and on every Synthea bundle of ../shared/testdata/synthea;
  2. a server under validation.on_write strict: every valid official example stored with PUT
     (Parameters, never stored, through Parameters/$validate) and read back equal apart from meta.

Every file must be valid except the ones listed in KNOWN_INVALID, each with the reason (a real
violation of the R4 definitions, checked by hand) and the expression that must be reported.
Prints a summary; exit status 1 on any unexpected result.  EDGEFHIR_BIN selects the binary."""
import glob
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, os.environ.get("EDGEFHIR_BIN", "build/edgefhir"))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
EXAMPLES = os.path.join(SHARED, "fhir-test-cases", "r4", "examples")
SYNTHEA = os.path.join(SHARED, "testdata", "synthea")
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

# file -> (an expression that must be reported, why the example is not valid R4)
KNOWN_INVALID = {
    "bundle-questionnaire.json": ("Questionnaire.item[0].item[0].linkId",
                                  "50 nested items have no linkId (Questionnaire.item.linkId is 1..1)"),
    "devicemetric-example.json": ("DeviceMetric.parent.reference",
                                  "parent references a DeviceDefinition; R4 allows Reference(Device) only"),
    "deviceusestatement-example.json": ("DeviceUseStatement.reasonReference[0].reference",
                                        "reasonReference to a Procedure; R4 allows Condition, Observation, "
                                        "DiagnosticReport, DocumentReference, Media"),
    "codesystem-example.json": ("CodeSystem",
                                "the code chol-mass is defined twice (csd-1: all the codes SHALL be unique), "
                                "found by the FHIRPath invariants"),
    "medicationrequest0301.json": ("MedicationRequest.dispenseRequest.performer.reference",
                                   "dispenseRequest.performer references a Practitioner; R4 allows Organization only"),
}


def validate_files(paths):
    p = subprocess.run([BIN, "validate"] + paths, capture_output=True, text=True)
    errors = {}
    cur = None
    for line in p.stdout.splitlines():
        if not line.startswith("  ") and line.endswith("error(s)"):
            cur = os.path.basename(line.split(": ")[0])
            errors[cur] = []
        elif line.startswith("  error") and cur:
            errors[cur].append(line.split()[2].rstrip(":"))
    return errors, p.stdout.strip().splitlines()[-1]


def main():
    bad = []
    files = sorted(glob.glob(os.path.join(EXAMPLES, "*.json")))
    errors, summary = validate_files(files)
    print("official examples: " + summary)
    for name, (expr, why) in KNOWN_INVALID.items():
        if expr not in errors.get(name, []):
            bad.append("%s: expected an error at %s (%s)" % (name, expr, why))
        else:
            print("  known invalid, reported as expected: %s (%s)" % (name, why))
    for name, exprs in errors.items():
        if name not in KNOWN_INVALID:
            bad.append("%s: unexpected errors at %s" % (name, ", ".join(exprs[:5])))
    errors, summary = validate_files([SYNTHEA])
    print("synthea: " + summary)
    for name, exprs in errors.items():
        bad.append("synthea %s: unexpected errors at %s" % (name, ", ".join(exprs[:5])))
    from harness import Server
    stored = 0
    with Server() as s:
        for f in files:
            name = os.path.basename(f)
            if name in KNOWN_INVALID:
                continue
            with open(f, encoding="utf-8") as fh:
                res = json.load(fh)
            if res["resourceType"] == "Parameters":
                r = s.request("POST", "/Parameters/$validate", res)
                errs = [i for i in r.json()["issue"] if i["severity"] == "error"]
                if errs:
                    bad.append("%s: $validate reported %s" % (name, errs[:2]))
                continue
            path = "/%s/%s" % (res["resourceType"], res["id"])
            r = s.request("PUT", path, res)
            if r.status not in (200, 201):
                bad.append("%s: PUT under strict answered %d %s" % (name, r.status, r.body[:300]))
                continue
            back = s.request("GET", path).json()
            back.pop("meta", None)
            res.pop("meta", None)
            if back != res:
                bad.append("%s: read back differs" % name)
            stored += 1
    print("stored under validation.on_write strict and read back unchanged (apart from meta): %d of %d examples "
          "(%d known invalid refused)" % (stored, len(files), len(KNOWN_INVALID)))
    for b in bad:
        print("UNEXPECTED: " + b)
    print("result: %s" % ("OK" if not bad else "%d unexpected" % len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""tools/xml_examples.py — the XML round trips of tests/e2e/test_xml.py over every official R4
example in ../shared/fhir-test-cases/r4/examples (not part of `make test`, which runs them on
the sample in tests/data/fhir-examples/): each JSON example JSON -> server -> XML -> server ->
JSON without loss, each XML example XML -> server -> XML unchanged, and the examples present in
both forms converted to each other.  EDGEFHIR_BIN selects the binary; exit status 1 on failure.
Usage: python3 tools/xml_examples.py"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(os.path.dirname(ROOT), "shared", "fhir-test-cases", "r4", "examples")


def main():
    if not os.path.isdir(EXAMPLES):
        print("xml_examples: %s not found (the ../shared folder beside the checkout)" % EXAMPLES, file=sys.stderr)
        return 2
    names = os.listdir(EXAMPLES)
    print("xml_examples: %d JSON and %d XML examples in %s" %
          (sum(n.endswith(".json") for n in names), sum(n.endswith(".xml") for n in names), EXAMPLES))
    env = dict(os.environ, XML_EXAMPLES_DIR=EXAMPLES)
    r = subprocess.run([sys.executable, "-m", "unittest", "-v", "test_xml.XmlTest"], cwd=os.path.join(ROOT, "tests", "e2e"),
                       env=env)
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())

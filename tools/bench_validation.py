#!/usr/bin/env python3
"""Benchmark section `validation` (run by `make bench` through tools/bench.py, or alone:
`python3 tools/bench_validation.py`).  Two figures for issue 18:

  rate     resources validated per second by the R4 validator on every Synthea bundle
           (`edgefhir validate --quiet --repeat N`, parse excluded, one thread pinned to one
           core with taskset when available).  Target >= 20,000/s.
  on_write the cost of validation.on_write on HTTP transaction load: every Synthea bundle POSTed
           as a transaction (tools/bench_import.py's run_http) to a server with on_write "off"
           and one with "strict", alternated BENCH_VALIDATION_ROUNDS times (default 3); the
           median of the per-round CPU ratios and the best wall times are reported.  Target:
           strict <= 15% slower than off.
EDGEFHIR_BIN selects the binary (default build/edgefhir)."""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_import  # noqa: E402

BIN = bench_import.BIN
DATA = bench_import.DATA
ROUNDS = int(os.environ.get("BENCH_VALIDATION_ROUNDS", "3"))


def main():
    print("== validation: the R4 validator on Synthea, and validation.on_write on HTTP transactions ==")
    if not os.path.exists(BIN):
        sys.exit("no binary at %s (make first)" % BIN)
    cmd = [BIN, "validate", "--quiet", "--repeat", "5", DATA]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0"] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    line = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else p.stderr
    print("validator: " + line)
    try:
        rate = float(line.split(": ")[1].split(" resources/s")[0])
        print("  rate %.0f resources/s on one core (target >= 20,000/s: %s)" % (rate, "met" if rate >= 20000 else "NOT met"))
    except (IndexError, ValueError):
        print("  could not read the rate")
    bundles = bench_import.load_bundles()
    expected = sum(len(doc.get("entry", [])) for _, _, doc in bundles)
    walls = {"off": [], "strict": []}
    ratios_cpu, ratios_wall = [], []
    for i in range(ROUNDS):
        tmp = tempfile.mkdtemp(prefix="edgefhir-bench-val-")
        try:
            got = {}
            for mode in (("off", "strict") if i % 2 == 0 else ("strict", "off")):
                dt, cpu = bench_import.run_http(bundles, tmp, "http-" + mode, expected,
                                                {"validation": {"on_write": mode}})
                got[mode] = (dt, cpu)
                walls[mode].append(dt)
            ratios_cpu.append(got["strict"][1] / got["off"][1])
            ratios_wall.append(got["strict"][0] / got["off"][0])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    for mode in ("off", "strict"):
        print("  http %-6s best %.2f s  %.0f resources/s" % (mode, min(walls[mode]), expected / min(walls[mode])))
    c, w = statistics.median(ratios_cpu), statistics.median(ratios_wall)
    print("  strict / off, median of %d alternated rounds: server CPU x%.3f, wall x%.3f (target <= 1.15: %s)" % (
        ROUNDS, c, w, "met" if c <= 1.15 else "NOT met"))


if __name__ == "__main__":
    main()

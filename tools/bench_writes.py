#!/usr/bin/env python3
"""Benchmark section `writes` (run by `make bench`, or alone: `python3 tools/bench_writes.py`):
concurrent small creates with group commit (store/db.h) on vs off (`writer.group_commit`),
both servers side by side (auth off, temporary databases), for `durability` process and
power.  Per durability:
  1. 16 clients (wrk -t2 -c16, tools/bench/post_observation.lua: POST /Observation, every body
     different, Prefer: return=minimal): creates/s and p99; off/on runs alternate ROUNDS times,
     medians reported.  Targets: on/off >= 3x (process), >= 4x (power); p99 lower with on.
  2. one client, one create at a time: keep-alive connections to both servers, requests sent
     alternately to off and on (BENCH_WRITES_SINGLE_N each, default 1000) so that both see the
     same machine load; p50 / p90 / mean latency.  Target: on not worse than off (within noise).
  3. the group sizes and COMMIT durations the server saw (/metrics), so a ratio can be read
     together with how much grouping there was, and the server's CPU per create (/proc) at
     16 clients: on a loaded machine the clients are CPU-bound before the writer is, and
     this shows what grouping saves whatever the load.
  4. optionally (--baseline-bin PATH, e.g. a build of f14055a, the commit issue 20 measured,
     before group commit existed): a third server from that binary, with the same durability
     and no `writer` settings, in the same alternated 16-client rounds; its ratio is printed
     separately and labelled, next to (never instead of) the same-build on/off ratio.
Env: BENCH_WRITES_SECONDS (5), BENCH_WRITES_ROUNDS (3), BENCH_WRITES_CONNECTIONS (16)."""
import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

ROOT = bench.ROOT
SECONDS = os.environ.get("BENCH_WRITES_SECONDS", "5")
ROUNDS = int(os.environ.get("BENCH_WRITES_ROUNDS", "3"))
CONNS = os.environ.get("BENCH_WRITES_CONNECTIONS", "16")
SINGLE_N = int(os.environ.get("BENCH_WRITES_SINGLE_N", "1000"))
SCRIPT = os.path.join(ROOT, "tools", "bench", "post_observation.lua")
TARGETS = {"process": 3.0, "power": 4.0}


class BinEdge(bench.Edge):
    """bench.Edge started from another binary (--baseline-bin)."""

    def __init__(self, binary, config):
        super().__init__(config)
        self.binary = binary

    def start(self):
        t0 = time.perf_counter()
        self.proc = subprocess.Popen([self.binary, "serve", "--config", self.cfg_path], cwd=ROOT,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        bench.wait_http(self.port)
        self.start_s = time.perf_counter() - t0
        return self


def wrk(port, threads, conns):
    cmd = ["wrk", "-t%d" % threads, "-c%s" % conns, "-d%ss" % SECONDS, "--latency", "-s", SCRIPT,
           "http://127.0.0.1:%d" % port]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=int(SECONDS) + 60).stdout

    def ms(s):
        m = re.match(r"([\d.]+)(us|ms|s)", s)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

    def pct(p):
        return ms(re.search(r"\s%s%%\s+(\S+)" % p, out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    mean = re.search(r"Latency\s+(\S+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": pct(50), "p99": pct(99),
            "mean": ms(mean.group(1)), "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "errors": errors.group(1) if errors else ""}


def single_client(servers):
    """Latencies (ms) of one create at a time, alternating between the servers."""
    conns = {m: http.client.HTTPConnection("127.0.0.1", s.port, timeout=30) for m, s in servers.items()}
    lat = {m: [] for m in servers}
    hdr = {"Content-Type": "application/fhir+json", "Prefer": "return=minimal"}
    for i in range(SINGLE_N):
        body = json.dumps({"resourceType": "Observation", "status": "final",
                           "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                           "subject": {"reference": "Patient/single-%d" % (i % 50)},
                           "valueQuantity": {"value": 60 + i % 40, "unit": "/min"}})
        for m in (("off", "on") if i % 2 == 0 else ("on", "off")):
            t0 = time.perf_counter()
            conns[m].request("POST", "/Observation", body=body, headers=hdr)
            r = conns[m].getresponse()
            r.read()
            if r.status != 201:
                raise RuntimeError("single create answered %d" % r.status)
            lat[m].append((time.perf_counter() - t0) * 1000)
    for c in conns.values():
        c.close()
    out = {}
    for m, v in lat.items():
        v.sort()
        out[m] = {"p50": v[len(v) // 2], "p90": v[int(len(v) * 0.9)], "mean": statistics.mean(v),
                  "rps": 1000 / statistics.mean(v), "non2xx": 0}
    return out


def write_metrics(port):
    """(groups, requests in them, mean COMMIT ms, largest group bucket seen) from /metrics."""
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10).read().decode()

    def val(name):
        m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
        return float(m.group(1)) if m else 0.0
    groups = val("edgefhir_database_write_group_size_count")
    reqs = val("edgefhir_database_write_group_size_sum")
    commits = val("edgefhir_database_commit_seconds_count")
    commit_s = val("edgefhir_database_commit_seconds_sum")
    buckets = re.findall(r'^edgefhir_database_write_group_size_bucket\{le="([^"]+)"\} (\S+)$', text, re.M)
    top, prev = "1", 0.0
    for le, n in buckets:
        if float(n) > prev:
            top = le
        prev = float(n)
    return groups, reqs, (commit_s / commits * 1000 if commits else 0), top


def side_by_side(durability, baseline_bin=None):
    servers = {}
    for mode in ("off", "on"):
        servers[mode] = bench.Edge({"durability": durability, "writer": {"group_commit": mode == "on"}}).start()
    if baseline_bin:
        servers["base"] = BinEdge(baseline_bin, {"durability": durability}).start()
    try:
        res = {m: [] for m in servers}
        single = {"off": [], "on": []}
        for _ in range(ROUNDS):
            for mode in servers:
                cpu0 = servers[mode].cpu_s()
                r = wrk(servers[mode].port, 2, CONNS)
                r["cpu_us"] = (servers[mode].cpu_s() - cpu0) / max(1, r["rps"] * float(SECONDS)) * 1e6
                res[mode].append(r)
        one = single_client({m: servers[m] for m in ("off", "on")})
        for mode in ("off", "on"):
            single[mode].append(one[mode])
        stats = {mode: write_metrics(servers[mode].port) for mode in ("off", "on")}
    finally:
        for s in servers.values():
            s.stop()
    return res, single, stats


def med(runs, key):
    return statistics.median(r[key] for r in runs)


def main(argv=None):
    ap = argparse.ArgumentParser(description="bench section writes")
    ap.add_argument("--baseline-bin", help="also measure this binary (e.g. a build of f14055a) as a second baseline")
    args = ap.parse_args(argv)
    base = os.path.abspath(args.baseline_bin) if args.baseline_bin else None
    print("== writes: concurrent small creates, group commit on vs off ==")
    print("load average before: %s" % open("/proc/loadavg").read().strip())
    print("POST /Observation (tools/bench/post_observation.lua, Prefer: return=minimal), auth off, "
          "both servers side by side, off/on alternated %d times, %ss each, medians:" % (ROUNDS, SECONDS))
    summary = {}
    for durability in ("process", "power"):
        res, single, stats = side_by_side(durability, base)
        print("durability %s:" % durability)
        for mode in ("off", "on"):
            r = res[mode]
            g, n, commit_ms, top = stats[mode]
            bad = sum(x["non2xx"] for x in r) + sum(x["non2xx"] for x in single[mode])
            errs = "; ".join(x["errors"] for x in r if x["errors"])
            print("  group commit %-3s: %s clients %8.0f creates/s (runs: %s)  p50 %.2f ms  p99 %.2f ms  "
                  "server CPU %.0f us/create | "
                  "1 client p50 %.3f ms p90 %.3f ms mean %.3f ms | %.0f transactions for %.0f writes (mean group %.2f, "
                  "largest <= %s), mean COMMIT %.3f ms | non-2xx %d%s" %
                  (mode, CONNS, med(r, "rps"), ", ".join("%.0f" % x["rps"] for x in r), med(r, "p50"), med(r, "p99"),
                   med(r, "cpu_us"),
                   med(single[mode], "p50"), med(single[mode], "p90"), med(single[mode], "mean"), g, n,
                   n / g if g else 0, top, commit_ms, bad, ("  socket errors: " + errs) if errs else ""))
        ratio = med(res["on"], "rps") / med(res["off"], "rps")
        p99 = (med(res["on"], "p99"), med(res["off"], "p99"))
        lat = (med(single["on"], "p50"), med(single["off"], "p50"))
        t = TARGETS[durability]
        print("  throughput on/off: %.2fx (target >= %.0fx: %s); p99 on %.2f ms vs off %.2f ms (target lower: %s); "
              "1-client p50 on/off %.2f (target <= ~1.1: %s)" %
              (ratio, t, "met" if ratio >= t else "NOT met", p99[0], p99[1], "met" if p99[0] < p99[1] else "NOT met",
               lat[0] / lat[1], "met" if lat[0] <= lat[1] * 1.1 else "NOT met"))
        if base:
            b = res["base"]
            bratio = med(res["on"], "rps") / med(b, "rps")
            print("  baseline binary %s (same durability, its defaults): %s clients %.0f creates/s (runs: %s)  "
                  "p99 %.2f ms  server CPU %.0f us/create; this build's group commit on / baseline binary: %.2fx "
                  "(a second baseline; the same-build ratio above is the primary figure)" %
                  (base, CONNS, med(b, "rps"), ", ".join("%.0f" % x["rps"] for x in b), med(b, "p99"), med(b, "cpu_us"),
                   bratio))
            summary.setdefault("baseline_bin", {})[durability] = bratio
        print("  load average after: %s" % open("/proc/loadavg").read().strip())
        summary[durability] = {"ratio": ratio, "p99_on": p99[0], "p99_off": p99[1], "single_ratio": lat[0] / lat[1]}
    return summary


if __name__ == "__main__":
    main()

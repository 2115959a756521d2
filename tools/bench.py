#!/usr/bin/env python3
"""`make bench`: measures edgefhir against baselines measured in the same run (this machine is
shared and noisy, so only ratios are meaningful).  Sections:
  core   GET /Patient/{id} with keep-alive (wrk) vs a trivial cpp-httplib server (the ceiling);
         binary size, idle RSS, time from start to the first 200 on /metadata.
Other sections are added by tools/bench_*.py scripts and run from here when present.
Usage: python3 tools/bench.py [section...]   (default: all)"""
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import http.client

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, os.environ.get("EDGEFHIR_BIN", "build/edgefhir"))
BUILD = os.path.join(ROOT, "build", "bench")
DURATION = os.environ.get("BENCH_SECONDS", "5")
CONNS = os.environ.get("BENCH_CONNECTIONS", "16")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port, path="/metadata", timeout=10):
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            c.close()
            if r.status == 200:
                return time.perf_counter() - t0
        except OSError:
            time.sleep(0.001)
    raise RuntimeError("no answer on port %d" % port)


def wrk(url, headers=()):
    cmd = ["wrk", "-t2", "-c" + CONNS, "-d" + DURATION + "s", "--latency"]
    for h in headers:
        cmd += ["-H", h]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=int(DURATION) + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p):
        m = re.search(r"\s%s%%\s+([\d.]+)(us|ms|s)" % p, out)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    n = re.search(r"(\d+) requests in", out)
    return {"rps": rps, "p50_ms": pct(50), "p99_ms": pct(99), "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "requests": int(n.group(1)) if n else 0}


def build_ceiling():
    os.makedirs(BUILD, exist_ok=True)
    exe = os.path.join(BUILD, "ceiling_server")
    src = os.path.join(ROOT, "tools", "bench", "ceiling_server.cpp")
    if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
        subprocess.run(["g++", "-O2", "-std=c++17", "-DCPPHTTPLIB_OPENSSL_SUPPORT", "-DCPPHTTPLIB_ZLIB_SUPPORT",
                        "-DCPPHTTPLIB_BROTLI_SUPPORT", src, "-o", exe, "-lcpp-httplib", "-pthread"], check=True)
    return exe


class Edge:
    def __init__(self, config=None):
        self.tmp = tempfile.mkdtemp(prefix="edgefhir-bench-")
        self.port = free_port()
        cfg = {"listen": "127.0.0.1:%d" % self.port, "database": os.path.join(self.tmp, "db.sqlite"),
               "auth": {"required": False}, "log_level": "warn"}
        cfg.update(config or {})
        self.cfg_path = os.path.join(self.tmp, "config.json")
        with open(self.cfg_path, "w") as f:
            json.dump(cfg, f)

    def start(self):
        t0 = time.perf_counter()
        self.proc = subprocess.Popen([BIN, "serve", "--config", self.cfg_path], cwd=ROOT,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(self.port)
        self.start_s = time.perf_counter() - t0
        return self

    def cpu_s(self):
        """CPU time (user + system) the server process has used so far, in seconds."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

    def request(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = {"Content-Type": "application/fhir+json"}
        h.update(headers or {})
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.tmp, ignore_errors=True)


def section_core():
    print("== core: read throughput, size, memory, start-up ==")
    exe = build_ceiling()
    # start-up: median of 5 fresh starts (new database each time)
    starts, rss = [], []
    for _ in range(5):
        e = Edge().start()
        starts.append(e.start_s * 1000)
        time.sleep(0.3)
        rss.append(e.rss_kb())
        e.stop()
    e = Edge().start()
    patient = json.dumps({"resourceType": "Patient", "name": [{"family": "Bench", "given": ["Mark"]}],
                          "birthDate": "1980-01-01", "gender": "female"})
    st, body = e.request("POST", "/Patient", patient)
    pid = json.loads(body)["id"]
    st, stored = e.request("GET", "/Patient/" + pid)
    edge = wrk("http://127.0.0.1:%d/Patient/%s" % (e.port, pid))
    loaded_rss = e.rss_kb()
    e.stop()
    cport = free_port()
    ceil = subprocess.Popen([exe, str(cport), stored.decode()], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(cport, "/x")
    ceiling = wrk("http://127.0.0.1:%d/Patient/%s" % (cport, pid))
    ceil.terminate()
    ceil.wait()
    size = os.path.getsize(BIN)
    stripped = os.path.join(BUILD, "edgefhir.stripped")
    subprocess.run(["strip", "-o", stripped, BIN], check=True)
    ssize = os.path.getsize(stripped)
    print("GET /Patient/{id}, keep-alive, wrk -t2 -c%s -d%ss:" % (CONNS, DURATION))
    print("  edgefhir : %9.0f req/s  p50 %.3f ms  p99 %.3f ms  non-2xx %d" % (edge["rps"], edge["p50_ms"], edge["p99_ms"], edge["non2xx"]))
    print("  ceiling  : %9.0f req/s  p50 %.3f ms  p99 %.3f ms  (trivial cpp-httplib server, same body)" % (ceiling["rps"], ceiling["p50_ms"], ceiling["p99_ms"]))
    print("  ratio    : %.2f   (target >= 0.6)" % (edge["rps"] / ceiling["rps"]))
    print("binary size: %.1f MB (%.1f MB stripped)" % (size / 1e6, ssize / 1e6))
    print("idle RSS: %.1f MB median of 5 (target < 15 MB); after the read benchmark: %.1f MB" % (statistics.median(rss) / 1024, loaded_rss / 1024))
    print("start to first 200 on /metadata: %.1f ms median of 5 (target < 100 ms)" % statistics.median(starts))
    return {"read_ratio": edge["rps"] / ceiling["rps"]}


SECTIONS = {"core": section_core}


def main():
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: run `make deps`")
    wanted = sys.argv[1:] or None
    for name, fn in SECTIONS.items():
        if wanted is None or name in wanted:
            fn()
    # Further sections live in their own scripts: tools/bench_<name>.py
    for f in sorted(os.listdir(os.path.join(ROOT, "tools"))):
        m = re.match(r"bench_(\w+)\.py$", f)
        if m and (wanted is None or m.group(1) in wanted):
            print()
            subprocess.run([sys.executable, os.path.join(ROOT, "tools", f)], cwd=ROOT, check=False)


if __name__ == "__main__":
    main()

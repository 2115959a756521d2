#!/usr/bin/env python3
"""Benchmark section `pull` (run by `make bench` through tools/bench.py, or alone:
`python3 tools/bench_pull.py`).  Two edgefhir processes over loopback:

  upstream  auth ON (a pinned EC key; every request carries a bearer token that is verified),
            loaded with N generated Patients by `edgefhir import` (NDJSON) before it starts
  edge      auth off, "sync" with token_url (a tiny local token endpoint in this script that
            answers the client-credentials grant with a token minted by `edgefhir token mint`)
            and sync.pull = [{"search": "Patient?organization=Organization/bench"}],
            pull_page_size 1000

and measures the wall-clock time from the edge's start until `edgefhir sync status` reports the
first full download done with all N resources received: resources/s (target >= 2,000/s).  For
scale, the same run measures the baseline `edgefhir import` of the same NDJSON into an empty
database (the local write floor, no network) and prints the ratio pull / import.
BENCH_PULL_N sets N (default 100000); EDGEFHIR_BIN the binary."""
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, os.environ.get("EDGEFHIR_BIN", "build/edgefhir"))
N = int(os.environ.get("BENCH_PULL_N", "100000"))
TARGET = 2000
AUD = "https://bench.upstream"
ISS = "https://bench.issuer"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args, check=True):
    p = subprocess.run([BIN] + list(args), cwd=ROOT, capture_output=True, timeout=3600)
    if check and p.returncode != 0:
        sys.exit("edgefhir %s failed: %s %s" % (" ".join(args), p.stdout.decode()[-500:], p.stderr.decode()[-500:]))
    return p


def wait_http(port, timeout=20):
    import http.client
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/metadata")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit("server on port %d did not start" % port)


def main():
    tmp = tempfile.mkdtemp(prefix="bench-pull-")
    procs = []
    try:
        priv, pub = os.path.join(tmp, "k.pem"), os.path.join(tmp, "k.pub.pem")
        cli("token", "keygen", "--out", priv, "--pub", pub)
        token = cli("token", "mint", "--key", priv, "--iss", ISS, "--aud", AUD, "--sub", "edge",
                    "--roles", "sync", "--ttl", "7200").stdout.decode().strip()

        class TokenHandler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                body = json.dumps({"access_token": token, "token_type": "Bearer", "expires_in": 7200}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        tsrv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TokenHandler)
        threading.Thread(target=tsrv.serve_forever, daemon=True).start()
        token_url = "http://127.0.0.1:%d/token" % tsrv.server_address[1]

        data = os.path.join(tmp, "patients.ndjson")
        with open(data, "w") as f:
            for i in range(N):
                f.write(json.dumps({"resourceType": "Patient", "id": "p%d" % i, "active": True,
                                    "identifier": [{"system": "urn:bench", "value": str(i)}],
                                    "name": [{"family": "Family%d" % (i % 997), "given": ["Given%d" % i]}],
                                    "gender": "female" if i % 2 else "male", "birthDate": "1970-01-%02d" % (1 + i % 28),
                                    "managingOrganization": {"reference": "Organization/bench"}}) + "\n")

        # Baseline, same run: the local import of the same resources (no network, no token).
        t0 = time.time()
        cli("import", "--no-progress", "--database", os.path.join(tmp, "baseline.sqlite"), data)
        import_s = time.time() - t0

        up_port, edge_port = free_port(), free_port()
        up_db = os.path.join(tmp, "upstream.sqlite")
        cli("import", "--no-progress", "--database", up_db, data)
        up_cfg = {"listen": "127.0.0.1:%d" % up_port, "database": up_db,
                  "auth": {"required": True, "audiences": [AUD], "roles_claim": "roles",
                           "role_permissions": {"sync": ["*"]},
                           "issuers": [{"issuer": ISS, "discovery": False, "algorithms": ["ES256"],
                                        "pinned_keys": [pub]}]}}
        secret = os.path.join(tmp, "secret")
        with open(secret, "w") as f:
            f.write("bench\n")
        edge_cfg = {"listen": "127.0.0.1:%d" % edge_port, "database": os.path.join(tmp, "edge.sqlite"),
                    "auth": {"required": False},
                    "sync": {"upstream": "http://127.0.0.1:%d" % up_port, "token_url": token_url,
                             "client_id": "edge", "client_secret_file": secret, "interval_seconds": 60,
                             "pull_page_size": 1000, "pull_max_pages_per_run": 100000,
                             "pull": [{"search": "Patient?organization=Organization/bench", "interval_seconds": 3600}]}}
        for name, cfg in (("upstream", up_cfg), ("edge", edge_cfg)):
            with open(os.path.join(tmp, name + ".json"), "w") as f:
                json.dump(cfg, f)
        log_up = open(os.path.join(tmp, "upstream.log"), "ab")
        procs.append(subprocess.Popen([BIN, "serve", "--config", os.path.join(tmp, "upstream.json")], cwd=ROOT,
                                      stdout=log_up, stderr=log_up))
        wait_http(up_port)
        log_edge = open(os.path.join(tmp, "edge.log"), "ab")
        t0 = time.time()
        procs.append(subprocess.Popen([BIN, "serve", "--config", os.path.join(tmp, "edge.json")], cwd=ROOT,
                                      stdout=log_edge, stderr=log_edge))
        wait_http(edge_port)
        status = None
        while time.time() - t0 < 1800:
            p = cli("sync", "status", "--json", "--config", os.path.join(tmp, "edge.json"), check=False)
            if p.returncode == 0:
                status = json.loads(p.stdout.decode())["pull"][0]
                if status["full_download_done"] and status["received_total"] >= N:
                    break
                if status["last_error"]:
                    sys.exit("pull failed: %s" % status["last_error"])
            time.sleep(0.2)
        pull_s = time.time() - t0
        if not status or status["received_total"] < N:
            sys.exit("pull did not complete in time: %s" % status)
        rate = N / pull_s
        print("== pull: %d Patients from an upstream with auth on, over loopback (page 1000) ==" % N)
        print("  baseline import  %8.1f s  %8.0f resources/s" % (import_s, N / import_s))
        print("  pull             %8.1f s  %8.0f resources/s  (%.2f x import; target >= %d/s: %s)" % (
            pull_s, rate, (N / pull_s) / (N / import_s), TARGET, "met" if rate >= TARGET else "NOT met"))
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

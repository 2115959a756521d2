#!/usr/bin/env python3
"""Benchmark section `auth` (run by `make bench`):
  1. signature verifications/s through edgefhir's verify code (mbedTLS, no token cache) for
     RS256, PS256 (RSA-2048) and ES256 (P-256), next to `openssl speed` on this machine in the
     same run (ratio = edgefhir / OpenSSL);
  2. authenticated GET /Patient/{id} with one repeated token (verified-token cache) as a
     ratio to the same request with auth off.  Target >= 0.9."""
import json
import os
import statistics
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

ROOT = bench.ROOT


def build_verify_bench():
    exe = os.path.join(bench.BUILD, "verify_bench")
    os.makedirs(bench.BUILD, exist_ok=True)
    subprocess.run(["make", "-s", "build/libedgefhir.a"], cwd=ROOT, check=True)
    subprocess.run(["g++", "-O2", "-std=c++17", "-Isrc", "tools/bench/verify_bench.cpp", "build/libedgefhir.a",
                    "-o", exe, "-lmbedtls", "-lmbedx509", "-lmbedcrypto", "-lsqlite3", "-lz", "-pthread"],
                   cwd=ROOT, check=True)
    return exe


def openssl_speed():
    out = subprocess.run(["openssl", "speed", "-seconds", "2", "rsa2048", "ecdsap256"], capture_output=True,
                         text=True).stdout
    rsa = re.search(r"rsa\s+2048 bits\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)\s+([\d.]+)", out)
    ec = re.search(r"256 bits ecdsa \(nistp256\)\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)\s+([\d.]+)", out)
    return {"rsa2048_verify": float(rsa.group(2)) if rsa else None,
            "p256_verify": float(ec.group(2)) if ec else None}


def main():
    print("== auth: signature verification and authenticated reads ==")
    exe = build_verify_bench()
    ours = dict(line.split() for line in subprocess.run([exe, "2"], capture_output=True, text=True).stdout.split("\n") if line.strip())
    ssl = openssl_speed()
    print("verifications/s, one core, no cache (edgefhir verify path on mbedTLS vs `openssl speed` in the same run):")
    for alg, ref in [("RS256", "rsa2048_verify"), ("PS256", "rsa2048_verify"), ("ES256", "p256_verify")]:
        v = float(ours.get(alg, 0))
        r = ssl[ref]
        print("  %s: %9.0f /s   openssl %s: %9.0f /s   ratio %.2f" % (alg, v, ref, r or 0, v / r if r else 0))

    # Authenticated read with a repeated token vs auth off.
    d = bench.Edge().tmp
    priv, pub = os.path.join(d, "k.pem"), os.path.join(d, "k.pub.pem")
    subprocess.run([bench.BIN, "token", "keygen", "--type", "ec", "--out", priv, "--pub", pub], check=True,
                   capture_output=True)
    iss, aud = "https://bench.issuer/", "https://fhir.bench"
    token = subprocess.run([bench.BIN, "token", "mint", "--key", priv, "--iss", iss, "--aud", aud,
                            "--roles", "FHIR Data Writer", "--ttl", "3600"], capture_output=True, text=True).stdout.strip()
    patient = json.dumps({"resourceType": "Patient", "id": "bench-1", "name": [{"family": "Bench"}]})
    # Both servers run side by side; the wrk runs alternate off/on ROUNDS times so that the
    # machine's drift hits both modes alike; the ratio reported is the median of the rounds.
    rounds = int(os.environ.get("BENCH_AUTH_ROUNDS", "3"))
    edges = {}
    for mode in ["off", "on"]:
        cfg = {"audit": {"flush_interval_ms": 1000}}
        if mode == "on":
            cfg["auth"] = {"required": True, "audiences": [aud],
                           "issuers": [{"issuer": iss, "discovery": False, "algorithms": ["ES256"], "pinned_keys": [pub]}]}
        e = bench.Edge(cfg).start()
        hdr = {"Authorization": "Bearer " + token} if mode == "on" else {}
        st, _ = e.request("PUT", "/Patient/bench-1", patient, hdr)
        assert st in (200, 201), st
        edges[mode] = e
    runs = {"off": [], "on": []}
    for _ in range(rounds):
        for mode in ["off", "on"]:
            c0 = edges[mode].cpu_s()
            r = bench.wrk("http://127.0.0.1:%d/Patient/bench-1" % edges[mode].port,
                          ["Authorization: Bearer " + token] if mode == "on" else [])
            r["cpu_us"] = (edges[mode].cpu_s() - c0) * 1e6 / max(r["requests"], 1)
            runs[mode].append(r)
    for e in edges.values():
        e.stop()
    ratios = [on["rps"] / off["rps"] for off, on in zip(runs["off"], runs["on"])]
    print("GET /Patient/{id}, keep-alive, one repeated ES256 token (wrk -t2 -c%s -d%ss, %d alternating rounds):"
          % (bench.CONNS, bench.DURATION, rounds))
    for mode, label in [("off", "auth off"), ("on", "auth on ")]:
        rs = runs[mode]
        print("  %s: %s req/s  p50 %s ms%s" % (label, " / ".join("%.0f" % r["rps"] for r in rs),
                                              " / ".join("%.3f" % r["p50_ms"] for r in rs),
                                              "  non-2xx %d" % sum(r["non2xx"] for r in rs) if mode == "on" else ""))
    print("  ratio   : %.2f median of %s   (target >= 0.9)" % (statistics.median(ratios), ", ".join("%.2f" % r for r in ratios)))
    # Server CPU per request (from /proc, unaffected by how wrk and the server share the cores).
    cpu = {m: statistics.median(r["cpu_us"] for r in runs[m]) for m in runs}
    print("  server CPU per request: auth off %.1f us, auth on %.1f us (medians); off/on %.2f"
          % (cpu["off"], cpu["on"], cpu["off"] / cpu["on"]))

if __name__ == "__main__":
    main()

"""Request limits and hostile clients against the real binary: oversized bodies, URLs and
headers, deep JSON, and many idle / slowloris connections that must not starve a well-behaved
client.  After every hostile case the server must still be alive and serving.

Environment knobs (for exploring settings; defaults are the server's own defaults):
  LIMITS_IDLE=300 LIMITS_SLOW=20   number of idle and slowloris connections
  LIMITS_CONFIG='{"threads": 512, "keep_alive_seconds": 2}'   merged into "limits"
"""
import json
import os
import socket
import threading
import time
import unittest

from harness import raw_request, Server, proc_kb

PATIENT = {"resourceType": "Patient", "name": [{"family": "Limit"}], "active": True}


def body_of(resp):
    return resp.partition(b"\r\n\r\n")[2]


class LimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        limits = {"max_body_bytes": 1024 * 1024, "max_json_depth": 64}
        limits.update(json.loads(os.environ.get("LIMITS_CONFIG", "{}")))
        cls.s = Server(config={"limits": limits, "log_level": "warn"}).start()
        r = cls.s.request("PUT", "/Patient/limit-1", dict(PATIENT, id="limit-1"))
        assert r.status in (200, 201), r

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def assertServing(self):
        self.assertTrue(self.s.alive(), "server died:\n" + self.s.read_log()[-3000:])
        r = self.s.request("GET", "/Patient/limit-1", timeout=5)
        self.assertEqual(r.status, 200)

    def assertOutcome(self, status, resp, code):
        self.assertEqual(status, code, resp[:300])
        body = json.loads(body_of(resp))
        self.assertEqual(body["resourceType"], "OperationOutcome")
        return body

    def test_body_over_limit_is_413_operation_outcome(self):
        big = json.dumps(dict(PATIENT, id="limit-1", text={"status": "generated", "div": "x" * (1024 * 1024 + 10)}))
        # declared length over the limit: refused from the header, before the body is read
        st, resp = raw_request(self.s.port, ("PUT /Patient/limit-1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json"
                                             "\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(big)).encode() +
                               big.encode())
        body = self.assertOutcome(st, resp, 413)
        self.assertIn("larger", json.dumps(body))
        # the same through a normal client
        r = self.s.request("POST", "/Patient", big, headers={"Content-Type": "application/fhir+json"})
        self.assertEqual(r.status, 413, r)
        self.assertEqual(r.json()["resourceType"], "OperationOutcome")
        # chunked bodies are limited too
        chunk = b"x" * 65536
        n = (1024 * 1024) // len(chunk) + 4
        data = (b"POST /Patient HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json\r\n"
                b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
                (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * n + b"0\r\n\r\n")
        st, resp = raw_request(self.s.port, data)
        self.assertIn(st, (413, 400, None), resp[:300])
        self.assertNotIn(st, (200, 201))
        # just under the limit is accepted
        ok = json.dumps(dict(PATIENT, text={"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">" +
                                            "y" * (1024 * 1024 - 400) + "</div>"}))
        self.assertLess(len(ok), 1024 * 1024)
        r = self.s.request("POST", "/Patient", ok, headers={"Content-Type": "application/fhir+json"})
        self.assertEqual(r.status, 201, r)
        self.assertServing()

    def test_long_url_is_414_or_400(self):
        for n in (9000, 70000, 1024 * 1024):
            with self.subTest(n=n):
                st, resp = raw_request(self.s.port, b"GET /Patient/" + b"a" * n + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                self.assertIn(st, (414, 400, None), resp[:200])
                if st is not None:
                    self.assertGreaterEqual(st, 400)
        # a long query string (many parameters) too
        q = "&".join("p%d=%d" % (i, i) for i in range(3000))
        st, resp = raw_request(self.s.port, ("GET /Patient/limit-1?%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % q).encode())
        self.assertIn(st, (414, 400, None), resp[:200])
        self.assertServing()

    def test_configured_url_and_parameter_limits(self):
        """limits.max_url_bytes and limits.max_query_params are enforced as configured."""
        s = Server(config={"limits": {"max_url_bytes": 300, "max_query_params": 5}, "log_level": "warn"}).start()
        try:
            r = s.request("GET", "/Patient?name=" + "a" * 250)
            self.assertEqual(r.status, 200, r)
            r = s.request("GET", "/Patient?name=" + "a" * 320)
            self.assertEqual(r.status, 414, r)
            self.assertIn("limit is 300", r.json()["issue"][0]["diagnostics"])
            r = s.request("GET", "/Patient?" + "&".join("name=%d" % i for i in range(5)))
            self.assertEqual(r.status, 200, r)
            r = s.request("GET", "/Patient?" + "&".join("name=%d" % i for i in range(6)))
            self.assertEqual(r.status, 400, r)
            self.assertIn("query parameters", r.json()["issue"][0]["diagnostics"])
        finally:
            s.cleanup()

    def test_huge_and_many_headers(self):
        cases = {
            "one 100 KiB header": b"X-Big: " + b"h" * 100000 + b"\r\n",
            "one 1 MiB header": b"X-Big: " + b"h" * (1024 * 1024) + b"\r\n",
            "10000 headers": b"".join(b"X-H%d: v\r\n" % i for i in range(10000)),
            "header without colon": b"NoColonHere\r\n",
            "NUL in header": b"X-A: a\x00b\r\n",
        }
        for name, hdrs in cases.items():
            with self.subTest(name):
                st, resp = raw_request(self.s.port, b"GET /Patient/limit-1 HTTP/1.1\r\nHost: x\r\n" + hdrs +
                                       b"Connection: close\r\n\r\n")
                # refused with a 4xx or the connection closed; never a crash, never a 5xx
                if st is not None:
                    self.assertTrue(400 <= st < 500 or st == 200, (name, resp[:200]))
                self.assertServing()

    def rss_kb(self):
        return proc_kb(self.s.proc.pid, "VmRSS")

    def test_total_header_size_is_bounded(self):
        """Each header line is capped (8 KiB) but cpp-httplib 0.11 has no limit on the number of
        header lines: without the socket-read budget (http/sockbudget.h) one connection sending
        24 MiB of headers made the server hold them all.  The server must refuse (400 or close)
        after limits.max_header_bytes (64 KiB)."""
        before = self.rss_kb()
        c = socket.create_connection(("127.0.0.1", self.s.port), timeout=10)
        refused = False
        try:
            c.sendall(b"GET /metadata HTTP/1.1\r\nHost: x\r\n")
            chunk = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 90) for i in range(10000))
            for _ in range(24):
                c.sendall(chunk)
        except OSError:
            refused = True
        grown_mb = (self.rss_kb() - before) / 1024
        c.close()
        self.assertServing()
        self.assertTrue(refused or grown_mb < 8, "server RSS grew by %.0f MiB for one client's headers" % grown_mb)

    def test_malformed_request_lines(self):
        for data in [b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                     b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello on the plain port
                     b"POST /Patient HTTP/1.1\r\nContent-Type: application/fhir+json\r\nContent-Length: -5\r\n\r\n{}",
                     b"POST /Patient HTTP/1.1\r\nContent-Type: application/fhir+json\r\nContent-Length: 5x\r\n\r\n{}",
                     b"POST /Patient HTTP/1.1\r\nContent-Type: application/fhir+json\r\n"
                     b"Content-Length: 99999999999999999999\r\n\r\n{}",
                     b"POST /Patient HTTP/1.1\r\nContent-Type: application/fhir+json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]:
            with self.subTest(data=data[:60]):
                st, resp = raw_request(self.s.port, data, timeout=5, half_close=True)
                if st is not None:  # a 4xx, or the connection closed without an answer
                    self.assertTrue(400 <= st < 500, resp[:200])
        self.assertServing()

    def test_ambiguous_framing_is_refused(self):
        """RFC 9112 6.3: an invalid Content-Length, or several that differ, make the message
        framing unreliable (request smuggling behind a proxy); the server must answer 400 and
        close.  cpp-httplib 0.11 would serve such requests (it ignores an invalid Content-Length
        on a GET and uses the first of several); dispatch refuses them."""
        cases = [b"GET /Patient/limit-1 HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                 b"POST /Patient HTTP/1.1\r\nContent-Type: application/fhir+json\r\nContent-Length: 2\r\n"
                 b"Content-Length: 40\r\n\r\n{}"]
        bad = []
        for data in cases:
            st, resp = raw_request(self.s.port, data, timeout=5)
            if st is not None and st != 400:
                bad.append((data[:60], st))
        self.assertEqual(bad, [])

    def test_deep_json_is_400(self):
        for depth in (65, 1000, 100000):
            with self.subTest(depth=depth):
                deep = '{"resourceType":"Patient","id":"limit-1","extension":%s1%s}' % ("[" * depth, "]" * depth)
                r = self.s.request("PUT", "/Patient/limit-1", deep, headers={"Content-Type": "application/fhir+json"})
                self.assertEqual(r.status, 400, r)
                self.assertIn("nesting", r.body.decode())
                obj = '{"resourceType":"Patient","id":"limit-1","x":%s1%s}' % ('{"a":' * depth, "}" * depth)
                r = self.s.request("PUT", "/Patient/limit-1", obj, headers={"Content-Type": "application/fhir+json"})
                self.assertEqual(r.status, 400, r)
        # JSON Patch bodies are depth-limited as well
        patch = '[{"op":"add","path":"/x","value":%s1%s}]' % ("[" * 5000, "]" * 5000)
        r = self.s.request("PATCH", "/Patient/limit-1", patch, headers={"Content-Type": "application/json-patch+json"})
        self.assertEqual(r.status, 400, r)
        self.assertServing()

    def test_idle_and_slowloris_connections_do_not_starve_clients(self):
        """An attacker keeps LIMITS_IDLE connections open that never send anything (reopening
        each one the server closes) plus LIMITS_SLOW slowloris connections that send one header
        line per second; a well-behaved client must still get /metadata and a read quickly."""
        n_idle = int(os.environ.get("LIMITS_IDLE", "300"))
        n_slow = int(os.environ.get("LIMITS_SLOW", "20"))
        keep_alive = self.s.config["limits"].get("keep_alive_seconds", 5)
        port = self.s.port
        stop = threading.Event()
        lock = threading.Lock()
        idle, slow = [], []
        reopened = [0]

        def connect():
            return socket.create_connection(("127.0.0.1", port), timeout=5)

        def keep_idle():  # reopen idle connections the server has closed
            import select
            while not stop.wait(0.05):
                with lock:
                    r, _, _ = select.select(idle, [], [], 0)
                    for c in r:
                        try:
                            data = c.recv(1)
                        except OSError:
                            data = b""
                        if not data:
                            c.close()
                            idle[idle.index(c)] = connect()
                            reopened[0] += 1

        def drip():
            i = 0
            while not stop.wait(1.0):
                for k, c in enumerate(slow):
                    try:
                        c.sendall(b"X-%d: y\r\n" % i)
                    except OSError:
                        c.close()
                        slow[k] = connect()
                        slow[k].sendall(b"GET /metadata HTTP/1.1\r\nHost: x\r\n")
                i += 1
        try:
            for _ in range(n_idle):
                idle.append(connect())
            for _ in range(n_slow):
                c = connect()
                c.sendall(b"GET /metadata HTTP/1.1\r\nHost: x\r\n")
                slow.append(c)
            threads = [threading.Thread(target=keep_idle, daemon=True), threading.Thread(target=drip, daemon=True)]
            for t in threads:
                t.start()
            time.sleep(min(keep_alive, 5) + 1.0)  # past one keep-alive expiry: the reopened ones are queued again
            timings = []
            for _ in range(3):
                t0 = time.monotonic()
                m = self.s.request("GET", "/metadata", timeout=30)
                r = self.s.request("GET", "/Patient/limit-1", timeout=30)
                timings.append(time.monotonic() - t0)
                self.assertEqual(m.status, 200)
                self.assertEqual(r.status, 200)
                time.sleep(0.3)
            print("\n    idle=%d slowloris=%d limits=%s: metadata+read took %s s (%d idle reopened)" %
                  (n_idle, n_slow, json.dumps(self.s.config["limits"]), ", ".join("%.3f" % x for x in timings),
                   reopened[0]))
            self.assertLess(max(timings), 2.0, "a well-behaved client waited %.1f s behind %d idle and %d slow "
                            "connections" % (max(timings), n_idle, n_slow))
        finally:
            stop.set()
            time.sleep(0.1)
            for c in idle + slow:
                try:
                    c.close()
                except OSError:
                    pass
        self.assertServing()


if __name__ == "__main__":
    unittest.main()

"""Crash safety against the real binary.

CrashTest: concurrent writers (PUT, POST and, when the server supports them, transaction
Bundles) run while the server is killed with SIGKILL at random moments, at least 20 times,
and restarted on the same database each time.  Afterwards every write that was answered
with a 2xx must be present with exactly the acknowledged content at the acknowledged
version, and every transaction must be visible completely or not at all.  The server runs
with group commit (the default, store/db.h); before each kill its /metrics are read, and the
test requires that some transactions really held several writes (group size > 1), so the
grouped path is the one being killed.

ShutdownTest: SIGTERM while requests are in flight: they complete with their normal answer,
the process exits 0 within a bound, and the data is intact after a restart.
"""
import http.client
import json
import random
import re
import signal
import socket
import threading
import time
import unittest

from harness import Server

KILLS = 22
WRITERS = 6


def patient(tag, n):
    return {"resourceType": "Patient", "active": n % 2 == 0,
            "name": [{"family": "Crash", "given": [tag, "n%d" % n]}],
            "identifier": [{"system": "urn:edgefhir:crash", "value": "%s-%d" % (tag, n)}],
            "extension": [{"url": "http://example.org/n", "valueDecimal": "%d.50" % n}]}


def send(port, method, path, body=None, timeout=5):
    """One request on a fresh connection. Returns (status, json or None); raises OSError
    (incl. http.client errors mapped to OSError) when there is no complete answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None
        headers = {}
        if body is not None:
            data = json.dumps(body).replace('"valueDecimal": "', '"valueDecimal": ').replace('.50"', '.50').encode()
            headers["Content-Type"] = "application/fhir+json"
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        raw = r.read()
        return r.status, (json.loads(raw) if raw else None)
    except (http.client.HTTPException, ValueError) as e:
        raise OSError(str(e))
    finally:
        conn.close()


def group_counts(port):
    """(transactions, transactions holding more than one write) from /metrics, or None."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/metrics")
        r = conn.getresponse()
        text = r.read().decode()
        conn.close()
    except (OSError, http.client.HTTPException):
        return None
    count = re.search(r"^edgefhir_database_write_group_size_count (\S+)$", text, re.M)
    alone = re.search(r'^edgefhir_database_write_group_size_bucket\{le="1"\} (\S+)$', text, re.M)
    if not count or not alone:
        return None
    return int(float(count.group(1))), int(float(count.group(1))) - int(float(alone.group(1)))


def strip_meta(res):
    r = dict(res)
    r.pop("meta", None)
    return r


def transaction_supported(port):
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": dict(patient("probe", 0), id="tx-probe"), "request": {"method": "PUT", "url": "Patient/tx-probe"}}]}
    try:
        st, body = send(port, "POST", "/", bundle)
    except OSError:
        return False
    return st == 200 and body and body.get("type") == "transaction-response"


class Writer(threading.Thread):
    """Writes resources it alone owns (ids w<k>-...), recording what the server acknowledged."""

    def __init__(self, k, port, use_tx):
        super().__init__(daemon=True)
        self.k, self.port, self.use_tx = k, port, use_tx
        self.stop = threading.Event()
        self.n = 0
        self.acked = {}     # id -> (version, body without meta) of the last acknowledged write
        self.created = []   # (id, version, body) from acknowledged POSTs
        self.tx = []        # (ids, acked?) of every transaction sent
        self.rng = random.Random(k)
        self.errors = 0

    def run(self):
        while not self.stop.is_set():
            self.n += 1
            n = self.n
            op = self.rng.random()
            try:
                if self.use_tx and op < 0.2:
                    ids = ["w%d-tx%d-%s" % (self.k, n, x) for x in "abc"]
                    self.tx.append([ids, False])
                    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
                        {"resource": dict(patient("tx", n), id=i), "request": {"method": "PUT", "url": "Patient/" + i}}
                        for i in ids]}
                    st, body = send(self.port, "POST", "/", bundle)
                    if st == 200:
                        self.tx[-1][1] = True
                elif op < 0.5:
                    st, body = send(self.port, "POST", "/Patient", patient("post%d" % self.k, n))
                    if st == 201:
                        self.created.append((body["id"], body["meta"]["versionId"], strip_meta(body)))
                else:
                    rid = "w%d-%d" % (self.k, self.rng.randrange(8))
                    st, body = send(self.port, "PUT", "/Patient/" + rid, dict(patient("put%d" % self.k, n), id=rid))
                    if st in (200, 201):
                        self.acked[rid] = (body["meta"]["versionId"], strip_meta(body))
            except OSError:
                self.errors += 1
                time.sleep(0.01)  # server down: retry soon


class CrashTest(unittest.TestCase):
    def test_sigkill_during_concurrent_writes_loses_no_acknowledged_write(self):
        s = Server(config={"log_level": "warn"}).start()
        t_start = time.monotonic()
        try:
            use_tx = transaction_supported(s.port)
            self.assertTrue(use_tx, "POST / with a transaction Bundle is not answered 200 by this server")
            writers = [Writer(k, s.port, use_tx) for k in range(WRITERS)]
            for w in writers:
                w.start()
            rng = random.Random(7)
            groups, grouped, scraped = 0, 0, 0
            for i in range(KILLS):
                time.sleep(rng.uniform(0.05, 0.4))
                g = group_counts(s.port)
                if g:
                    scraped += 1
                    groups += g[0]
                    grouped += g[1]
                s.stop(signal.SIGKILL)
                self.assertEqual(s.proc.returncode, -signal.SIGKILL)
                s.start()
            time.sleep(0.3)
            for w in writers:
                w.stop.set()
            for w in writers:
                w.join(10)
            # one more kill with nothing in flight, to check the final state after recovery
            s.stop(signal.SIGKILL)
            s.start()
            self.verify(s, writers)
            total = sum(len(w.acked) + len(w.created) for w in writers)
            print("\n    %d SIGKILLs in %.1f s; %d requests sent (%d without an answer), %d acknowledged resources "
                  "checked, %d transactions (%d acknowledged); group commit: %d of %d SQLite transactions "
                  "held several writes (/metrics read before %d kills)" %
                  (KILLS + 1, time.monotonic() - t_start, sum(w.n for w in writers), sum(w.errors for w in writers), total,
                   sum(len(w.tx) for w in writers), sum(1 for w in writers for t in w.tx if t[1]), grouped, groups,
                   scraped))
            self.assertGreater(scraped, KILLS // 2, "/metrics could not be read before most kills")
            self.assertGreater(grouped, 0, "no transaction held more than one write: the group-commit path was "
                                           "not exercised by the kills")
        finally:
            s.cleanup()

    def verify(self, s, writers):
        problems = []
        for w in writers:
            for rid, (version, body) in w.acked.items():
                st, cur = send(s.port, "GET", "/Patient/" + rid)
                if st != 200:
                    problems.append("%s: acknowledged version %s but GET gives %d" % (rid, version, st))
                    continue
                if int(cur["meta"]["versionId"]) < int(version):
                    problems.append("%s: acknowledged version %s, found older %s" % (rid, version, cur["meta"]["versionId"]))
                st, old = send(s.port, "GET", "/Patient/%s/_history/%s" % (rid, version))
                if st != 200 or strip_meta(old) != body:
                    problems.append("%s: version %s is not what was acknowledged (%d)" % (rid, version, st))
            for rid, version, body in w.created:
                st, cur = send(s.port, "GET", "/Patient/%s/_history/%s" % (rid, version))
                if st != 200 or strip_meta(cur) != body:
                    problems.append("created %s/%s missing or different (%d)" % (rid, version, st))
            for ids, acked in w.tx:
                present = [send(s.port, "GET", "/Patient/" + i)[0] == 200 for i in ids]
                if acked and not all(present):
                    problems.append("acknowledged transaction %s only partly present: %s" % (ids, present))
                if any(present) and not all(present):
                    problems.append("partial transaction visible %s: %s" % (ids, present))
        self.assertEqual(problems, [], "\n".join(problems[:20]))
        # the database is healthy and consistent after all the kills
        st, h = send(s.port, "GET", "/health")
        self.assertEqual(st, 200)


class SlowUpload:
    """A request whose headers and first half of the body are sent now, the rest later."""

    def __init__(self, port, rid):
        self.rid = rid
        # the decimal as a JSON number, as send() writes it (a JSON string is not a FHIR decimal)
        body = json.dumps(dict(patient("slow", 1), id=rid)).replace('"valueDecimal": "', '"valueDecimal": ') \
            .replace('.50"', '.50').encode()
        self.body = body
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=15)
        self.sock.sendall(("PUT /Patient/%s HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json\r\n"
                           "Content-Length: %d\r\nConnection: close\r\n\r\n" % (rid, len(body))).encode())
        self.sock.sendall(body[:len(body) // 2])

    def finish(self):
        self.sock.sendall(self.body[len(self.body) // 2:])
        buf = b""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            buf += chunk
        self.sock.close()
        return int(buf.split(b" ")[1]) if buf.startswith(b"HTTP/1.1 ") else None


class ShutdownTest(unittest.TestCase):
    def test_sigterm_lets_in_flight_requests_finish(self):
        s = Server().start()  # log level info: the stop events are checked
        try:
            self.assertEqual(send(s.port, "PUT", "/Patient/keep", dict(patient("keep", 1), id="keep"))[0], 201)
            slow = [SlowUpload(s.port, "slow-%d" % i) for i in range(4)]
            # concurrent writers hammering while the signal arrives
            writers = [Writer(k, s.port, False) for k in range(2)]
            for w in writers:
                w.start()
            time.sleep(0.5)
            t0 = time.monotonic()
            s.proc.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            # in-flight uploads complete after the signal and are answered normally
            codes = [u.finish() for u in slow]
            self.assertEqual(codes, [201] * len(slow), "in-flight requests were cut off by SIGTERM")
            try:
                rc = s.proc.wait(15)
            except Exception:
                rc = None
            elapsed = time.monotonic() - t0
            for w in writers:
                w.stop.set()
                w.join(10)
            self.assertEqual(rc, 0, "exit status after SIGTERM:\n" + s.read_log()[-2000:])
            # bound: in-flight work plus the idle keep-alive wait (limits.keep_alive_seconds, default 5)
            self.assertLess(elapsed, 8.0, "shutdown took %.1f s" % elapsed)
            self.assertIn("server.stopped", s.read_log())
            s.stop()
            s.start()
            for u in slow:
                st, body = send(s.port, "GET", "/Patient/" + u.rid)
                self.assertEqual(st, 200, u.rid)
            self.assertEqual(send(s.port, "GET", "/Patient/keep")[0], 200)
            lost = []
            for w in writers:
                for rid, (version, body) in w.acked.items():
                    st, old = send(s.port, "GET", "/Patient/%s/_history/%s" % (rid, version))
                    if st != 200 or strip_meta(old) != body:
                        lost.append(rid)
                for rid, version, body in w.created:
                    if send(s.port, "GET", "/Patient/%s/_history/%s" % (rid, version))[0] != 200:
                        lost.append(rid)
            self.assertEqual(lost, [])
            print("\n    SIGTERM: exit 0 after %.2f s; %d writes during shutdown acknowledged and kept" %
                  (elapsed, sum(len(w.acked) + len(w.created) for w in writers)))
        finally:
            s.cleanup()

    def test_sigterm_with_idle_keep_alive_connections_exits_within_keep_alive(self):
        s = Server(config={"limits": {"keep_alive_seconds": 2}}).start()
        try:
            idle = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(5)]
            time.sleep(0.2)
            t0 = time.monotonic()
            s.proc.send_signal(signal.SIGTERM)
            rc = s.proc.wait(15)
            elapsed = time.monotonic() - t0
            self.assertEqual(rc, 0)
            self.assertLess(elapsed, 2 + 1.5, "idle connections held shutdown for %.1f s" % elapsed)
            for c in idle:
                c.close()
        finally:
            s.cleanup()

    def test_sigterm_with_slowloris_client_exits_within_bound(self):
        """A client trickling one header line per second keeps its worker reading (each byte
        restarts the read timeout), and the pool join in cpp-httplib's stop path waits for it.
        serve bounds the drain (stop accepting, wait read_timeout + keep_alive, checkpoint,
        exit 0) so systemd never has to SIGKILL it."""
        s = Server(config={"limits": {"read_timeout_seconds": 2, "keep_alive_seconds": 1}}).start()
        stop = threading.Event()
        c = socket.create_connection(("127.0.0.1", s.port))
        try:
            c.sendall(b"GET /metadata HTTP/1.1\r\nHost: x\r\n")

            def drip():
                i = 0
                while not stop.wait(0.5):
                    try:
                        c.sendall(b"X-%d: y\r\n" % i)
                    except OSError:
                        return
                    i += 1
            threading.Thread(target=drip, daemon=True).start()
            time.sleep(0.3)
            s.proc.send_signal(signal.SIGTERM)
            try:
                rc = s.proc.wait(2 + 1 + 3)
            except Exception:
                rc = None
            self.assertEqual(rc, 0, "still running 6 s after SIGTERM with one slowloris client connected")
        finally:
            stop.set()
            c.close()
            s.cleanup()


if __name__ == "__main__":
    unittest.main()

"""End-to-end test harness: starts the real build/edgefhir on a free loopback port with a
temporary database, and offers a small HTTP client (stdlib only).

    with Server(config={...}) as s:
        r = s.request("GET", "/metadata")
        assert r.status == 200 and r.json()["resourceType"] == "CapabilityStatement"
"""
import base64
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, os.environ.get("EDGEFHIR_BIN", "build/edgefhir"))
# Test data in the repository (tests/data/README.md); `make test` reads nothing outside it.
DATA = os.path.join(ROOT, "tests", "data")
SYNTHEA = os.path.join(DATA, "synthea")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # dict with lower-case names
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def __repr__(self):
        return "<Response %d %s>" % (self.status, self.body[:300])


class Server:
    """A running edgefhir process. `config` is merged into a default config (auth off)."""

    def __init__(self, config=None, workdir=None, port=None, args=(), env=None, keep_db=None):
        self.tmp = workdir or tempfile.mkdtemp(prefix="edgefhir-e2e-")
        self.own_tmp = workdir is None
        self.port = port or free_port()
        cfg = {"listen": "127.0.0.1:%d" % self.port, "database": keep_db or os.path.join(self.tmp, "db.sqlite"),
               "auth": {"required": False}}
        for k, v in (config or {}).items():
            cfg[k] = v
        self.config = cfg
        self.config_path = os.path.join(self.tmp, "config.json")
        self.args = list(args)
        self.env = env
        self.proc = None
        self.log_path = os.path.join(self.tmp, "server.log")

    def write_config(self):
        with open(self.config_path, "w") as f:
            json.dump(self.config, f)

    def start(self, timeout=10.0):
        self.write_config()
        self.log = open(self.log_path, "ab")
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        self.proc = subprocess.Popen([BIN, "serve", "--config", self.config_path] + self.args, cwd=ROOT,
                                     stdout=self.log, stderr=self.log, env=env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited with %s:\n%s" % (self.proc.returncode, self.read_log()))
            try:
                r = self.request("GET", "/metadata", timeout=1)
                if r.status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError("server did not start:\n" + self.read_log())

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
            self.log = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cleanup(self):
        self.stop()
        if self.own_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    def request(self, method, path, body=None, headers=None, timeout=30, token=None, raw=False):
        """Sends one request on a new connection. dict/list bodies are JSON-encoded."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = {}
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h["Content-Type"] = "application/fhir+json"
        if isinstance(body, str):
            body = body.encode("utf-8")
        if token:
            h["Authorization"] = "Bearer " + token
        if headers:
            h.update(headers)
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            conn.close()

    def cli(self, *args, input=None, check=False):
        """Runs `edgefhir ARGS --config <this server's config>` and returns the CompletedProcess."""
        self.write_config()
        p = subprocess.run([BIN] + list(args) + ["--config", self.config_path], cwd=ROOT, input=input,
                           capture_output=True, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError("edgefhir %s failed: %s %s" % (args, p.stdout, p.stderr))
        return p


def run_cli(*args, input=None, timeout=120):
    return subprocess.run([BIN] + list(args), cwd=ROOT, input=input, capture_output=True, timeout=timeout)


def b64u(b):
    """base64url without padding (JWT segments); str is UTF-8 encoded first."""
    if isinstance(b, str):
        b = b.encode()
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def proc_kb(pid, key):
    """A /proc/PID/status field in kB (VmRSS, VmHWM, ...); 0 when absent."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def mint_token(priv, iss, aud, sub, roles=None, scope=None, extra=()):
    """A token signed with the PEM key `priv` by `edgefhir token mint` (extra: more CLI args,
    e.g. ("--claim", "patient=p1"))."""
    args = ["token", "mint", "--key", priv, "--iss", iss, "--aud", aud, "--sub", sub]
    if roles is not None:
        args += ["--roles", roles]
    if scope is not None:
        args += ["--scope", scope]
    r = run_cli(*(args + list(extra)))
    assert r.returncode == 0, r.stderr
    return r.stdout.decode().strip()


def raw_request(port, data, timeout=10, read=True, half_close=False, sleep_between=None):
    """Sends raw bytes on a new connection (a list: sent one piece at a time, sleep_between
    seconds apart); returns (status or None, response bytes).  None = the server closed the
    connection without an HTTP answer.  half_close: shut the sending side after the data
    (the server sees end of input instead of waiting).  read=False: returns (None, b"")
    without waiting for an answer."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            for piece in (data if isinstance(data, list) else [data]):
                s.sendall(piece)
                if sleep_between:
                    time.sleep(sleep_between)
            if half_close:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass  # the server may refuse before reading everything
        if not read:
            return None, b""
        buf = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
                head, sep, body = buf.partition(b"\r\n\r\n")
                if sep:
                    cl = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                    if not cl or len(body) >= int(cl[0].split(b":")[1]):
                        break
        except (ConnectionResetError, socket.timeout):
            pass
        if buf.startswith(b"HTTP/1."):
            return int(buf.split(b" ")[1]), buf
        return None, buf
    finally:
        s.close()


def make_key(directory, typ="rsa"):
    """A signing key pair made by `edgefhir token keygen` in `directory`: (private PEM path,
    public PEM path)."""
    priv, pub = os.path.join(directory, "k.pem"), os.path.join(directory, "k.pub.pem")
    r = run_cli("token", "keygen", "--type", typ, "--out", priv, "--pub", pub)
    assert r.returncode == 0, r.stderr
    return priv, pub


def pinned_auth(iss, aud, pub, alg="RS256"):
    """The config's auth section: tokens required, one issuer whose key `pub` is pinned (no
    discovery), audience `aud`."""
    return {"required": True, "audiences": [aud],
            "issuers": [{"issuer": iss, "discovery": False, "algorithms": [alg], "pinned_keys": [pub]}]}

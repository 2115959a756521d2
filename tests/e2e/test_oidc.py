"""Signing keys against a REAL OpenID provider (panva/oidc-provider, tests/oidc/provider.js)
on loopback: tokens from its token endpoint (client_credentials, JWT access tokens via
resource indicators) are accepted through discovery; a key rotation is picked up without a
restart; with the provider stopped a restarted server still accepts tokens from its
persisted key cache; a provider answering 500 / invalid JSON / a huge body / nothing at all
does not stop the server; a pinned-only issuer never touches the network; a flood of
unknown kids causes at most one JWKS fetch per cooldown window.

Needs node + npm (a missing one is an error, never a skip): `npm install` runs once into
tests/oidc/node_modules (not again when present)."""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.request
import uuid

from harness import ROOT, Server, b64u, run_cli, unb64u

OIDC_DIR = os.path.join(ROOT, "tests", "oidc")
AUD = "https://fhir.test"
SCOPE = "system/Patient.read"


def header_of(token):
    return json.loads(unb64u(token.split(".")[0]))


def with_kid(token, kid):
    """Same token with another header kid (signature no longer matches; the kid is unknown)."""
    parts = token.split(".")
    h = json.loads(unb64u(parts[0]))
    h["kid"] = kid
    return b64u(json.dumps(h)) + "." + parts[1] + "." + parts[2]


_install_lock = threading.Lock()


def ensure_provider_installed():
    """npm install into tests/oidc/node_modules, only when it is missing."""
    missing = [t for t in ("node", "npm") if shutil.which(t) is None]
    if missing:  # a failure, never a skip: `make test` installs them (Debian nodejs, npm)
        raise RuntimeError("the test OpenID provider (tests/oidc) needs %s: install Debian packages nodejs and npm "
                           "(`make deps`)" % " and ".join(missing))
    with _install_lock:
        if os.path.isdir(os.path.join(OIDC_DIR, "node_modules", "oidc-provider")):
            return
        r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=OIDC_DIR,
                           capture_output=True, timeout=600)
        if r.returncode != 0:
            raise RuntimeError("npm install in tests/oidc failed:\n%s\n%s" % (r.stdout.decode(), r.stderr.decode()))


class Provider:
    """tests/oidc/provider.js in a child process."""

    def __init__(self, workdir):
        self.keys = os.path.join(workdir, "provider-keys.json")
        self.log_path = os.path.join(workdir, "provider.log")
        self.proc = None
        self.port = None
        self.issuer = None

    def start(self, timeout=20):
        ensure_provider_installed()
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["node", os.path.join(OIDC_DIR, "provider.js"), "--port", str(self.port or 0),
                                      "--keys", self.keys], cwd=OIDC_DIR, stdout=subprocess.PIPE, stderr=self.log)
        deadline = time.time() + timeout
        line = b""
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith(b"READY "):
                _, port, issuer = line.decode().split()
                self.port, self.issuer = int(port), issuer
                return self
            if self.proc.poll() is not None:
                break
        raise RuntimeError("provider did not start: %r\n%s" % (line, open(self.log_path, "rb").read().decode()))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        if getattr(self, "log", None):
            self.log.close()
            self.log = None

    def _call(self, method, path, data=None, headers=None):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path), data=data, method=method,
                                     headers=headers or {})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read().decode())

    def token(self, resource=AUD, scope=SCOPE):
        body = urllib.parse.urlencode({"grant_type": "client_credentials", "resource": resource,
                                       "scope": scope}).encode()
        auth = base64.b64encode(b"edgefhir-test:test-secret").decode()
        r = self._call("POST", "/token", body, {"Authorization": "Basic " + auth,
                                                "Content-Type": "application/x-www-form-urlencoded"})
        return r["access_token"]

    def rotate(self, alg="ES256", keep=False):
        return self._call("POST", "/admin/rotate?alg=%s%s" % (alg, "&keep=1" if keep else ""), b"")["kid"]

    def mode(self, jwks="normal", discovery="normal"):
        self._call("POST", "/admin/mode?jwks=%s&discovery=%s" % (jwks, discovery), b"")

    def counts(self):
        return self._call("GET", "/admin/counts")

    def jwks_fetches(self):
        return self.counts().get("/jwks", 0)

    def reset_counts(self):
        self._call("POST", "/admin/reset-counts", b"")


def issuer_config(issuer, **extra):
    ic = {"issuer": issuer, "refresh_cooldown_seconds": 2, "fetch_timeout_seconds": 2, "max_jwks_bytes": 65536}
    ic.update(extra)
    return ic


def auth_config(*issuers):
    return {"auth": {"required": True, "audiences": [AUD], "issuers": list(issuers)}}


def accepted(r):
    """Authentication passed (the resource itself may not exist)."""
    return r.status != 401


def wait_accepted(server, token, timeout=6.0):
    deadline = time.time() + timeout
    r = None
    while time.time() < deadline:
        r = server.request("GET", "/Patient/oidc-p1", token=token)
        if accepted(r):
            return r
        time.sleep(0.1)
    return r


def wait_until(pred, timeout=6.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


class OidcE2E(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="edgefhir-oidc-")
        self.provider = Provider(self.tmp)
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.cleanup()
        self.provider.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def server(self, config, db=None):
        s = Server(config=config, keep_db=db)
        self.servers.append(s)
        return s.start()

    def test_discovery_token_from_real_token_endpoint(self):
        p = self.provider.start()
        s = self.server(auth_config(issuer_config(p.issuer)))
        tok = p.token()
        self.assertEqual(header_of(tok)["typ"], "at+jwt")
        r = wait_accepted(s, tok)
        self.assertTrue(accepted(r), r)
        self.assertIn(r.status, (200, 404), r)
        counts = p.counts()
        self.assertGreaterEqual(counts.get("/.well-known/openid-configuration", 0), 1)
        self.assertGreaterEqual(counts.get("/jwks", 0), 1)
        # The check has teeth: the same token with a corrupted signature is refused.
        parts = tok.split(".")
        sig = bytearray(unb64u(parts[2]))
        sig[5] ^= 1
        bad = parts[0] + "." + parts[1] + "." + b64u(bytes(sig))
        self.assertEqual(s.request("GET", "/Patient/oidc-p1", token=bad).status, 401)
        # A token for another audience is refused too.
        self.assertEqual(s.request("GET", "/Patient/oidc-p1", token=p.token(resource="https://other.test")).status, 401)

    def test_rotation_is_picked_up_without_restart(self):
        p = self.provider.start()
        s = self.server(auth_config(issuer_config(p.issuer)))
        old = p.token()
        self.assertTrue(accepted(wait_accepted(s, old)))
        old_kid = header_of(old)["kid"]
        time.sleep(2.2)  # past the refresh cooldown of the initial fetch
        new_kid = p.rotate("RS256")  # old key no longer published
        new = p.token()
        self.assertEqual(header_of(new)["kid"], new_kid)
        self.assertNotEqual(new_kid, old_kid)
        before = p.jwks_fetches()
        # The first request with the new kid triggers one refresh (it may itself get 401
        # when the validator does not re-check after the refresh); within seconds it works.
        r = wait_accepted(s, new, timeout=5)
        self.assertTrue(accepted(r), r)
        self.assertEqual(p.jwks_fetches() - before, 1)
        # The rotated-out key stays trusted during key_grace_seconds.
        self.assertTrue(accepted(s.request("GET", "/Patient/oidc-p1", token=old)))

    def test_provider_gone_restarted_server_uses_persisted_keys(self):
        p = self.provider.start()
        db = os.path.join(self.tmp, "persist.sqlite")
        cfg = auth_config(issuer_config(p.issuer))
        s1 = self.server(cfg, db=db)
        tok = p.token()
        self.assertTrue(accepted(wait_accepted(s1, tok)))
        kid = header_of(tok)["kid"]
        s1.stop()
        p.stop()
        s2 = self.server(cfg, db=db)
        # First request, no waiting: the key comes from the database, not the network.
        r = s2.request("GET", "/Patient/oidc-p1", token=tok)
        self.assertTrue(accepted(r), r)
        listing = s2.cli("keys", "list")
        self.assertEqual(listing.returncode, 0, listing.stderr)
        out = listing.stdout.decode()
        self.assertIn(p.issuer, out)
        self.assertIn(kid, out)
        self.assertIn("discovered", out)

    def test_misbehaving_provider_server_keeps_serving(self):
        p = self.provider.start()
        s = self.server(auth_config(issuer_config(p.issuer)))
        tok = p.token()
        self.assertTrue(accepted(wait_accepted(s, tok)))
        for mode, expect in [("500", "HTTP 500"), ("badjson", "not valid JSON"), ("huge", "exceeds the limit"),
                             ("hang", "s"), ("empty", "no usable key")]:
            with self.subTest(mode=mode):
                p.mode(jwks=mode)
                time.sleep(2.1)  # cooldown
                before = p.jwks_fetches()
                t0 = time.time()
                # An unknown kid makes the server refresh now; the broken answer changes nothing.
                r = s.request("GET", "/Patient/oidc-p1", token=with_kid(tok, "unknown-" + mode))
                self.assertEqual(r.status, 401)
                self.assertLess(time.time() - t0, 3.5)
                self.assertTrue(wait_until(lambda: p.jwks_fetches() > before))
                # Valid tokens keep working, quickly, even while a fetch hangs.
                t0 = time.time()
                r = s.request("GET", "/Patient/oidc-p1", token=tok)
                self.assertTrue(accepted(r), (mode, r))
                self.assertLess(time.time() - t0, 1.0)
                self.assertEqual(s.request("GET", "/metadata").status, 200)
                if mode != "hang":
                    listing = s.cli("keys", "list")
                    self.assertIn(expect, listing.stdout.decode())
                    self.assertIn("stale:        yes", listing.stdout.decode())
                p.mode(jwks="normal")
        self.assertTrue(s.alive())

    def test_pinned_only_issuer_makes_no_network_call(self):
        p = self.provider.start()  # only used to count requests: the pinned issuer points at it
        priv, pub = os.path.join(self.tmp, "pin.pem"), os.path.join(self.tmp, "pin.pub.pem")
        evil = os.path.join(self.tmp, "evil.pem")
        for out, pubout in [(priv, pub), (evil, evil + ".pub")]:
            r = run_cli("token", "keygen", "--out", out, "--pub", pubout, "--type", "ec")
            self.assertEqual(r.returncode, 0, r.stderr)
        offline_iss = p.issuer + "/offline"
        cfg = auth_config(issuer_config(offline_iss, discovery=False, pinned_keys=[pub]))
        s = self.server(cfg)

        def mint(key, iss=offline_iss, kid=None):
            args = ["token", "mint", "--key", key, "--iss", iss, "--sub", "device-1", "--aud", AUD,
                    "--scope", SCOPE]
            if kid:
                args += ["--kid", kid]
            r = run_cli(*args)
            self.assertEqual(r.returncode, 0, r.stderr)
            return r.stdout.decode().strip()

        # A pin without kid matches the issuer's tokens whatever their kid.
        self.assertTrue(accepted(s.request("GET", "/Patient/oidc-p1", token=mint(priv))))
        self.assertTrue(accepted(s.request("GET", "/Patient/oidc-p1", token=mint(priv, kid="any-kid"))))
        self.assertEqual(s.request("GET", "/Patient/oidc-p1", token=mint(evil)).status, 401)
        self.assertEqual(s.request("GET", "/Patient/oidc-p1", token=mint(priv, iss=p.issuer)).status, 401)
        provider_token = p.token()
        p.reset_counts()
        self.assertEqual(s.request("GET", "/Patient/oidc-p1", token=provider_token).status, 401)
        for i in range(5):
            s.request("GET", "/Patient/oidc-p1", token=mint(evil, kid="k%d" % i))
        time.sleep(0.5)
        self.assertEqual(p.counts(), {}, "the offline issuer must not touch the network")

    def test_unknown_kid_flood_is_rate_limited(self):
        p = self.provider.start()
        cooldown = 5
        s = self.server(auth_config(issuer_config(p.issuer, refresh_cooldown_seconds=cooldown)))
        tok = p.token()
        self.assertTrue(accepted(wait_accepted(s, tok)))
        time.sleep(cooldown + 0.2)
        p.reset_counts()
        t0 = time.time()
        statuses = []

        def hit(i):
            statuses.append(s.request("GET", "/Patient/oidc-p1", token=with_kid(tok, uuid.uuid4().hex)).status)

        threads = [threading.Thread(target=hit, args=(i,)) for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.time() - t0
        self.assertEqual(statuses, [401] * 50)
        windows = int(elapsed // cooldown) + 1
        fetches = p.jwks_fetches()
        self.assertGreaterEqual(fetches, 1, "an unknown kid must trigger a refresh")
        self.assertLessEqual(fetches, windows, "at most one fetch per cooldown window (%.1f s)" % elapsed)
        # A second burst inside the same window adds nothing.
        before = p.jwks_fetches()
        for _ in range(20):
            self.assertEqual(s.request("GET", "/Patient/oidc-p1", token=with_kid(tok, uuid.uuid4().hex)).status, 401)
        if time.time() - t0 < cooldown - 0.5:
            self.assertEqual(p.jwks_fetches(), before)
        self.assertTrue(accepted(s.request("GET", "/Patient/oidc-p1", token=tok)))


if __name__ == "__main__":
    unittest.main()

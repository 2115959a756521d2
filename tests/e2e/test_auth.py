"""Bearer-token validation end to end: the real binary with pinned keys (RSA, EC P-256) and a
shared-secret issuer accepts valid RS256, PS256, ES256 and HS256 tokens, and refuses more
than 40 distinct malformed or hostile tokens with 401 + WWW-Authenticate (RFC 6750) and an
OperationOutcome that names the failed check and never echoes the token."""
import hashlib
import hmac
import json
import os
import time
import unittest

from harness import Server, b64u, run_cli, unb64u

ISS = "https://issuer.test/tenant-a/v2.0"
ISS_HMAC = "https://issuer.test/hmac"
AUD = "https://fhir.example.org"


def raw_token(header, payload, sig=b"x"):
    h = header if isinstance(header, str) else json.dumps(header)
    p = payload if isinstance(payload, str) else json.dumps(payload)
    return b64u(h) + "." + b64u(p) + "." + b64u(sig)


class AuthE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server(config={})
        d = cls.s.tmp
        cls.keys = {}
        for name, typ in [("rsa", "rsa"), ("ec", "ec"), ("evil", "rsa")]:
            priv, pub = os.path.join(d, name + ".pem"), os.path.join(d, name + ".pub.pem")
            r = run_cli("token", "keygen", "--out", priv, "--pub", pub, "--type", typ)
            assert r.returncode == 0, r.stderr
            cls.keys[name] = (priv, pub)
        cls.secret = os.path.join(d, "hmac.secret")
        with open(cls.secret, "w") as f:
            f.write("a-long-shared-secret-for-tests-0123456789abcdef\n")
        cls.s.config["auth"] = {
            "required": True, "audiences": [AUD], "clock_skew_seconds": 30,
            "issuers": [
                {"issuer": ISS, "discovery": False, "algorithms": ["RS256", "PS256", "ES256"],
                 "pinned_keys": [cls.keys["rsa"][1], cls.keys["ec"][1]]},
                {"issuer": ISS_HMAC, "discovery": False, "algorithms": ["HS256"], "hmac_secret_file": cls.secret},
            ]}
        cls.s.start()
        r = cls.s.request("PUT", "/Patient/auth-p1", {"resourceType": "Patient", "id": "auth-p1"},
                          token=cls.mint())
        assert r.status in (200, 201), r

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    @classmethod
    def mint(cls, key="rsa", alg=None, iss=ISS, aud=AUD, extra=(), ttl=3600, now=None, secret=False):
        args = ["token", "mint", "--iss", iss, "--sub", "user-1", "--ttl", str(ttl),
                "--roles", "FHIR Data Contributor"]
        if aud:
            args += ["--aud", aud]
        if secret:
            args += ["--secret-file", cls.secret]
        else:
            args += ["--key", cls.keys[key][0]]
        if alg:
            args += ["--alg", alg]
        if now is not None:
            args += ["--now", str(int(now))]
        args += list(extra)
        r = run_cli(*args)
        assert r.returncode == 0, r.stderr
        return r.stdout.decode().strip()

    def get(self, token=None, header=None):
        h = {}
        if header is not None:
            h["Authorization"] = header
        elif token is not None:
            h["Authorization"] = "Bearer " + token
        return self.s.request("GET", "/Patient/auth-p1", headers=h)

    def assertRejected(self, r, token=None, phrase=None, error=True):
        self.assertEqual(r.status, 401, r)
        www = r.header("www-authenticate")
        self.assertIsNotNone(www)
        self.assertTrue(www.startswith('Bearer realm="'), www)
        if error:
            self.assertIn('error="invalid_token"', www)
        oo = r.json()
        self.assertEqual(oo["resourceType"], "OperationOutcome")
        text = json.dumps(oo) + www
        if token and len(token) > 20:
            for part in token.split("."):
                if len(part) > 12:
                    self.assertNotIn(part, text, "the token leaked into the response")
        if phrase:
            self.assertIn(phrase.lower(), text.lower())

    def test_valid_tokens_accepted(self):
        for key, alg in [("rsa", "RS256"), ("rsa", "PS256"), ("ec", "ES256")]:
            with self.subTest(alg):
                r = self.get(self.mint(key, alg))
                self.assertEqual(r.status, 200, r)
        self.assertEqual(self.get(self.mint(iss=ISS_HMAC, secret=True, alg="HS256")).status, 200)
        self.assertEqual(self.get(header="bearer " + self.mint()).status, 200)   # scheme is case-insensitive
        self.assertEqual(self.get(self.mint(extra=["--typ", "application/at+jwt"])).status, 200)

    def test_public_endpoints_need_no_token(self):
        self.assertEqual(self.s.request("GET", "/metadata").status, 200)

    def test_missing_token(self):
        r = self.get()
        self.assertRejected(r, error=False)
        self.assertNotIn("error=", r.header("www-authenticate"))
        # a token in the query string is never read
        r = self.s.request("GET", "/Patient/auth-p1?access_token=" + self.mint())
        self.assertRejected(r, error=False)

    def test_hostile_tokens_rejected(self):
        now = int(time.time())
        good = self.mint()
        h, p, sig = good.split(".")
        header, payload = json.loads(unb64u(h)), json.loads(unb64u(p))
        rsa_pub = open(self.keys["rsa"][1], "rb").read()
        ec_tok = self.mint("ec", "ES256")
        eh, ep, es = ec_tok.split(".")
        flipped = bytearray(unb64u(sig))
        flipped[10] ^= 1

        def resign_hs(hdr, pl, secret):
            si = b64u(json.dumps(hdr)) + "." + b64u(json.dumps(pl))
            return si + "." + b64u(hmac.new(secret, si.encode(), hashlib.sha256).digest())

        def der_sig(raw):
            def enc_int(b):
                b = b.lstrip(b"\0") or b"\0"
                if b[0] & 0x80:
                    b = b"\0" + b
                return b"\x02" + bytes([len(b)]) + b
            body = enc_int(raw[:32]) + enc_int(raw[32:])
            return b"\x30" + bytes([len(body)]) + body

        secret = open(self.secret, "rb").read().strip()
        hpayload = dict(payload, iss=ISS_HMAC)

        def hs(pl):
            return resign_hs({"alg": "HS256", "typ": "JWT"}, pl, secret)

        self.assertEqual(self.get(hs(hpayload)).status, 200)  # the helper makes valid tokens
        cases = [
            ("scheme only", None, "Bearer", None),
            ("basic scheme", None, "Basic dXNlcjpwYXNz", "bearer"),
            ("two spaces and junk", None, "Bearer a b", None),
            ("one part", "abc", None, None),
            ("two parts", h + "." + p, None, None),
            ("four parts", good + ".x", None, None),
            ("empty signature", h + "." + p + ".", None, None),
            ("bad base64 header", "!!!." + p + "." + sig, None, "base64"),
            ("padded payload", h + "." + p + "==." + sig, None, "base64"),
            ("header not json", b64u("nope") + "." + p + "." + sig, None, None),
            ("header is array", b64u("[1]") + "." + p + "." + sig, None, None),
            ("payload not object", h + "." + b64u('"str"') + "." + sig, None, None),
            ("duplicate header member", b64u('{"alg":"RS256","alg":"none"}') + "." + p + "." + sig, None, "duplicate"),
            ("duplicate payload member", h + "." + b64u(json.dumps(payload)[:-1] + ',"exp":99999999999}') + "." + sig, None, "duplicate"),
            ("alg none", raw_token({"alg": "none", "typ": "JWT"}, payload, b""), None, "unsigned"),
            ("alg none with signature", raw_token({"alg": "none", "typ": "JWT"}, payload, b"sig"), None, "none"),
            ("alg None", raw_token({"alg": "None"}, payload, b""), None, None),
            ("alg EdDSA", raw_token({"alg": "EdDSA"}, payload), None, "EdDSA"),
            ("alg missing", raw_token({"typ": "JWT"}, payload), None, "alg"),
            ("HS256 with RSA public key as secret", resign_hs(dict(header, alg="HS256"), payload, rsa_pub), None, None),
            ("ES256 header on RSA signature", raw_token(dict(header, alg="ES256"), payload, unb64u(sig)), None, None),
            ("RS384 not allowed", self.mint(alg="RS384"), None, "RS384"),
            ("PS512 not allowed", self.mint(alg="PS512"), None, "PS512"),
            ("expired", self.mint(now=now - 7200, ttl=600), None, "expired"),
            ("not yet valid", self.mint(extra=["--claim", "nbf=%d" % (now + 3600)]), None, "not valid before"),
            ("issued in the future", self.mint(now=now + 3600), None, None),
            ("missing exp", hs({k: v for k, v in hpayload.items() if k != "exp"}), None, "exp"),
            ("exp as string", hs(dict(hpayload, exp="tomorrow")), None, "exp"),
            ("exp as float string", hs(dict(hpayload, exp=str(now + 600))), None, "exp"),
            ("iss as array", hs(dict(hpayload, iss=[ISS_HMAC])), None, "iss"),
            ("wrong audience", self.mint(aud="api://someone-else"), None, "audience"),
            ("no audience", self.mint(aud=None), None, "aud"),
            ("unknown issuer", self.mint(iss="https://evil.example/"), None, "issuer"),
            ("issuer with trailing slash", self.mint(iss=ISS + "/"), None, "issuer"),
            ("wrong typ", self.mint(extra=["--typ", "dpop+jwt"]), None, "typ"),
            ("unknown crit", self.mint(extra=["--header", 'crit=["x-custom"]', "--header", "x-custom=1"]), None, "crit"),
            ("signed by an untrusted key", self.mint("evil"), None, "signature"),
            ("flipped signature bit", h + "." + p + "." + b64u(bytes(flipped)), None, "signature"),
            ("tampered payload", h + "." + b64u(json.dumps(dict(payload, roles=["globalAdmin"]))) + "." + sig, None, "signature"),
            ("ES256 DER signature", eh + "." + ep + "." + b64u(der_sig(unb64u(es))), None, None),
            ("ES256 short signature", eh + "." + ep + "." + b64u(unb64u(es)[:63]), None, None),
            ("jku to attacker", self.mint("evil", extra=["--header", "jku=https://evil.example/jwks"]), None, None),
            ("embedded jwk", self.mint("evil", extra=["--header", 'jwk={"kty":"RSA","n":"AQAB","e":"AQAB"}']), None, None),
            ("embedded x5c", self.mint("evil", extra=["--header", 'x5c=["MIIB"]']), None, None),
            ("HS256 wrong secret", resign_hs({"alg": "HS256", "typ": "JWT"}, dict(payload, iss=ISS_HMAC), b"wrong-secret"), None, "signature"),
            ("HS256 for RSA issuer", resign_hs(dict(header, alg="HS256"), payload, b"a-long-shared-secret-for-tests-0123456789abcdef"), None, None),
            ("RS256 for HMAC issuer", self.mint(iss=ISS_HMAC), None, None),
            ("whitespace inside token", h + ". " + p + "." + sig, None, None),
            ("invalid utf-8 payload", h + "." + b64u(b'{"iss":"\xff"}') + "." + sig, None, None),
            ("nbf as string", hs(dict(hpayload, nbf="now")), None, "nbf"),
            ("aud as number", hs(dict(hpayload, aud=5)), None, "aud"),
        ]
        self.assertGreaterEqual(len(cases), 40)
        reasons = set()
        for name, token, hdr, phrase in cases:
            with self.subTest(name):
                r = self.get(token=token, header=hdr)
                self.assertRejected(r, token=token, phrase=phrase, error=name != "scheme only")
                reasons.add(r.header("www-authenticate"))
        self.assertGreater(len(reasons), 15, "reasons should say which check failed")
        # A token larger than the header limit is refused before validation, with an OperationOutcome.
        r = self.get(h + "." + b64u(json.dumps(dict(payload, pad="x" * 20000))) + "." + sig)
        self.assertIn(r.status, (400, 401, 431))
        self.assertEqual(r.json()["resourceType"], "OperationOutcome")
        self.assertTrue(self.s.alive())
        self.assertEqual(self.get(self.mint()).status, 200)

    def test_reasons_are_operator_readable_and_logged(self):
        r = self.get(self.mint(now=int(time.time()) - 7200, ttl=600))
        www = r.header("www-authenticate")
        self.assertRegex(www, r"expired at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
        self.assertIn("ago", www)
        log = self.s.read_log()
        self.assertIn("expired at", log)
        r = self.get(self.mint(aud="api://x"))
        self.assertIn("api://x", r.header("www-authenticate"))
        self.assertIn(AUD, r.header("www-authenticate"))


if __name__ == "__main__":
    unittest.main()

"""Shared set-up of the sync end-to-end tests (test_sync.py: push, test_sync_pull.py: pull): an
upstream edgefhir that requires bearer tokens from a REAL OpenID provider (tests/oidc/provider.js,
client credentials), the client's secret file the edges' "sync" sections name, a token for the
tests' own upstream checks, and wait_for.

    provider, secret = start_upstream(upstream)   # upstream: a harness.Server not yet started
    tok = client_token(provider)
"""
import base64
import json
import os
import time
import urllib.parse
import urllib.request

from test_oidc import Provider

AUD = "https://fhir.test"
CLIENT_ID, CLIENT_SECRET = "edgefhir-test", "test-secret"


def wait_for(pred, timeout, what, interval=0.1):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))


def start_upstream(upstream):
    """Starts an OpenID provider, then `upstream` (a harness.Server not yet started) requiring its
    tokens, and writes the client secret file. Returns (provider, secret_path); the caller stops
    the provider and cleans up the upstream."""
    provider = Provider(upstream.tmp)
    provider.start()
    # The upstream pins the provider's public key (its JWKS without the private members), so
    # these tests depend on the token endpoint only, not on JWKS fetching (test_oidc covers that).
    with open(provider.keys) as f:
        private = json.load(f)["keys"]
    public = [{k: v for k, v in key.items() if k not in ("d", "p", "q", "dp", "dq", "qi")} for key in private]
    pinned = os.path.join(upstream.tmp, "provider-jwks.json")
    with open(pinned, "w") as f:
        json.dump({"keys": public}, f)
    upstream.config["auth"] = {
        "required": True, "audiences": [AUD], "clock_skew_seconds": 30,
        "roles_claim": "client_id", "role_permissions": {CLIENT_ID: ["*"]},
        "issuers": [{"issuer": provider.issuer, "discovery": False, "algorithms": ["ES256", "RS256"],
                     "pinned_keys": [pinned]}]}
    upstream.start()
    secret = os.path.join(upstream.tmp, "sync-secret")
    with open(secret, "w") as f:
        f.write(CLIENT_SECRET + "\n")
    return provider, secret


def client_token(provider):
    """An upstream token for the tests' own checks (the sync client, no scope: roles decide)."""
    body = urllib.parse.urlencode({"grant_type": "client_credentials", "resource": AUD}).encode()
    auth = base64.b64encode(("%s:%s" % (CLIENT_ID, CLIENT_SECRET)).encode()).decode()
    req = urllib.request.Request(provider.issuer + "/token", data=body, method="POST", headers={
        "Authorization": "Basic " + auth, "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read().decode())["access_token"]

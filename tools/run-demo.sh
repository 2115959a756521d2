#!/bin/sh
# `make run`: one command to a secure local FHIR server.
# On first run: makes a demo signing key (var/, never committed), writes var/edgefhir.json
# pinning its public key for a demo issuer (no network needed), creates var/edgefhir.db with
# a small demo data set, then prints a ready-to-paste curl line with a fresh 1-hour token and a
# link to the web console that hands the same token over in the URL fragment (#token=...: a
# fragment is never sent to a server, and the console removes it from the address bar).
# CORS is on for browser apps served from http://localhost:<any port> and http://127.0.0.1:<any port>.
set -e
cd "$(dirname "$0")/.."
BIN=${EDGEFHIR_BIN:-build/edgefhir}
LISTEN=${LISTEN:-127.0.0.1:8080}
BASE="http://$LISTEN"
ISSUER="https://edgefhir.local/demo-issuer"
mkdir -p var
chmod 700 var
if [ ! -f var/demo-signing.pem ]; then
  "$BIN" token keygen --type ec --out var/demo-signing.pem --pub var/demo-signing.pub.pem >/dev/null
  echo "made a demo signing key: var/demo-signing.pem (keep it out of git; it is in var/)"
fi
if [ ! -f var/edgefhir.json ]; then
  cat > var/edgefhir.json <<JSON
{
  "listen": "$LISTEN",
  "database": "var/edgefhir.db",
  "base_url": "$BASE",
  "auth": {
    "required": true,
    "audiences": ["$BASE"],
    "issuers": [
      {"issuer": "$ISSUER", "discovery": false, "algorithms": ["ES256"],
       "pinned_keys": ["var/demo-signing.pub.pem"]}
    ]
  },
  "cors": {"allowed_origins": ["http://localhost:*", "http://127.0.0.1:*"]}
}
JSON
  echo "wrote var/edgefhir.json (demo issuer pinned offline; edit it to trust your identity provider)"
fi
if [ ! -f var/edgefhir.db ]; then
  "$BIN" import --config var/edgefhir.json data/demo/
fi
TOKEN=$("$BIN" token mint --key var/demo-signing.pem --iss "$ISSUER" --aud "$BASE" --sub demo-user \
        --roles "FHIR Data Writer" --ttl 3600)
cat <<MSG

edgefhir is starting on $BASE (FHIR R4; Ctrl-C stops it).
A demo token (role "FHIR Data Writer", valid 1 hour) is in the TOKEN variable below:

  TOKEN=$TOKEN

  curl -s -H "Authorization: Bearer \$TOKEN" "$BASE/Patient/demo-patient-1?_pretty=true"
  curl -s "$BASE/metadata" | head -c 300          # public, no token needed
  $BIN token inspect "\$TOKEN"                    # decode it like jwt.ms
  $BIN token mint --key var/demo-signing.pem --iss $ISSUER --aud $BASE --roles "FHIR Data Reader"

Web console, signed in with the demo token (keep this link private like the token; its
Status page needs the admin permission: mint a token with --roles "FHIR Data Contributor"):

  $BASE/console/#token=$TOKEN

MSG
exec "$BIN" serve --config var/edgefhir.json

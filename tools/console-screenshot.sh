#!/bin/sh
# tools/console-screenshot.sh — retakes the README's console screenshots (docs/console-*.png):
# a throw-away demo server (data/demo/, pinned demo key, auth on) on a free port, an admin token,
# then tests/browser/screenshot.mjs in headless Chromium.  Needs chromium, node and npm.
set -e
cd "$(dirname "$0")/.."
BIN=${EDGEFHIR_BIN:-build/edgefhir}
W=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$W"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
ISS="https://edgefhir.local/demo-issuer"
"$BIN" token keygen --type ec --out "$W/k.pem" --pub "$W/k.pub.pem" >/dev/null
cat > "$W/c.json" <<JSON
{"listen": "127.0.0.1:$PORT", "database": "$W/db.sqlite", "base_url": "$BASE",
 "auth": {"required": true, "audiences": ["$BASE"],
          "issuers": [{"issuer": "$ISS", "discovery": false, "algorithms": ["ES256"], "pinned_keys": ["$W/k.pub.pem"]}]}}
JSON
"$BIN" import --config "$W/c.json" data/demo/ >/dev/null
"$BIN" serve --config "$W/c.json" 2>"$W/log" &
PID=$!
for i in 1 2 3 4 5 6 7 8 9 10; do curl -sf "$BASE/metadata" >/dev/null && break; sleep 0.5; done
TOKEN=$("$BIN" token mint --key "$W/k.pem" --iss "$ISS" --aud "$BASE" --sub demo-admin --roles "FHIR Data Contributor" --ttl 3600)
[ -d tests/browser/node_modules/puppeteer-core ] || (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
mkdir -p docs
node tests/browser/screenshot.mjs "$BASE" "$TOKEN" docs
ls -l docs/console-*.png

#!/bin/sh
# tools/gen-certs.sh — `make certs`: a local development CA and a server certificate for
# HTTPS on this machine (SAN localhost, 127.0.0.1, ::1), made with the openssl CLI.
#
#   sh tools/gen-certs.sh [DIR]          (default DIR: certs)
#
# Writes DIR/ca.key, DIR/ca.crt (the CA clients trust), DIR/server.key, DIR/server.crt
# (what "tls": {"cert", "key"} points at; server.crt holds the leaf then the CA).
# Keys are ECDSA P-256 (CERT_KEY=rsa for RSA 2048), private keys mode 0600, never
# committed (see certs/README.md).  Existing files are kept: a second run only re-issues
# the server certificate when it is missing or expires within 30 days; FORCE=1 makes
# everything new.  Extra names: CERT_SANS="DNS:fhir.lan,IP:192.168.1.20".
# For development only: production certificates come from your real CA.
set -eu

DIR=${1:-certs}
DAYS_CA=${DAYS_CA:-3650}
DAYS_SERVER=${DAYS_SERVER:-397}
CERT_KEY=${CERT_KEY:-ec}
SANS="DNS:localhost,IP:127.0.0.1,IP:::1"
[ -n "${CERT_SANS:-}" ] && SANS="$SANS,$CERT_SANS"

command -v openssl >/dev/null 2>&1 || { echo "gen-certs: the openssl command is needed (apt-get install openssl)" >&2; exit 1; }
mkdir -p "$DIR"
umask 077
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

newkey() {  # newkey FILE
  case "$CERT_KEY" in
    ec) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null ;;
    rsa) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null ;;
    *) echo "gen-certs: CERT_KEY must be ec or rsa" >&2; exit 2 ;;
  esac
  chmod 600 "$1"
}

if [ "${FORCE:-0}" = 1 ]; then
  rm -f "$DIR/ca.key" "$DIR/ca.crt" "$DIR/ca.srl" "$DIR/server.key" "$DIR/server.crt"
fi

if [ ! -f "$DIR/ca.key" ] || [ ! -f "$DIR/ca.crt" ]; then
  newkey "$DIR/ca.key"
  cat >"$TMP/ca.cnf" <<EOF
[req]
distinguished_name = dn
x509_extensions = v3_ca
prompt = no
[dn]
O = edgefhir development
CN = edgefhir development CA
[v3_ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
  openssl req -new -x509 -key "$DIR/ca.key" -sha256 -days "$DAYS_CA" -config "$TMP/ca.cnf" \
    -out "$DIR/ca.crt" 2>"$TMP/err" || { cat "$TMP/err" >&2; exit 1; }
  chmod 644 "$DIR/ca.crt"
  rm -f "$DIR/server.crt"  # a new CA invalidates the old server certificate
  echo "gen-certs: new development CA $DIR/ca.crt"
fi

if [ -f "$DIR/server.crt" ] && [ -f "$DIR/server.key" ] &&
   openssl x509 -in "$DIR/server.crt" -noout -checkend $((30 * 86400)) >/dev/null 2>&1 &&
   openssl verify -CAfile "$DIR/ca.crt" "$DIR/server.crt" >/dev/null 2>&1; then
  echo "gen-certs: $DIR/server.crt is current (FORCE=1 to make new ones)"
  exit 0
fi

[ -f "$DIR/server.key" ] || newkey "$DIR/server.key"
KU="digitalSignature"
[ "$CERT_KEY" = rsa ] && KU="digitalSignature, keyEncipherment"
openssl req -new -key "$DIR/server.key" -subj "/O=edgefhir development/CN=localhost" -out "$TMP/server.csr"
cat >"$TMP/server.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, $KU
extendedKeyUsage = serverAuth
subjectAltName = $SANS
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
openssl x509 -req -in "$TMP/server.csr" -CA "$DIR/ca.crt" -CAkey "$DIR/ca.key" -CAcreateserial \
  -CAserial "$DIR/ca.srl" -days "$DAYS_SERVER" -sha256 -extfile "$TMP/server.ext" \
  -out "$TMP/leaf.crt" 2>"$TMP/err" || { cat "$TMP/err" >&2; exit 1; }
cat "$TMP/leaf.crt" "$DIR/ca.crt" >"$DIR/server.crt"
chmod 644 "$DIR/server.crt"
openssl verify -CAfile "$DIR/ca.crt" "$TMP/leaf.crt" >/dev/null
echo "gen-certs: new server certificate $DIR/server.crt for $SANS (valid $DAYS_SERVER days)"
echo "gen-certs: configure  \"tls\": {\"cert\": \"$DIR/server.crt\", \"key\": \"$DIR/server.key\"}"
echo "gen-certs: clients:   curl --cacert $DIR/ca.crt https://localhost:8080/metadata"

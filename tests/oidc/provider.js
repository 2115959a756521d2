// tests/oidc/provider.js — a real OpenID provider (panva/oidc-provider) on loopback for
// edgefhir's end-to-end key tests (tests/e2e/test_oidc.py).  Test tool only.
//
//   node tests/oidc/provider.js [--port N] [--keys FILE]
//
// Prints one line "READY <port> <issuer>" on stdout when it accepts requests.
// Issuer: http://127.0.0.1:<port>.  Discovery, JWKS (/jwks) and the token endpoint
// (/token) are oidc-provider's own.  Client "edgefhir-test" / secret "test-secret" may use
// the client_credentials grant; with resource=<R> it receives a JWT access token (typ
// at+jwt, ES256 or RS256) whose aud is R.
// Signing keys: FILE (a JWKS of private keys, first = current signer) is created with one
// fresh P-256 key when missing, so a restarted provider keeps its keys.
//
// Test controls (same port, outside the provider):
//   POST /admin/rotate?alg=ES256|RS256[&keep=1]   new signing key (new kid); keep=1 keeps the
//                                                 old key published too; returns {"kid": ...}
//   POST /admin/mode?jwks=normal|500|badjson|huge|hang|empty&discovery=normal|500
//                                                 misbehave on GET /jwks (and discovery)
//   GET  /admin/counts                            {"/jwks": n, "/.well-known/openid-configuration": n, ...}
//   POST /admin/reset-counts
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const args = process.argv.slice(2);
const arg = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const port = Number(arg('--port', '0'));
const keysFile = arg('--keys', null);

function newKey(alg) {
  const { privateKey } = alg === 'RS256'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: `${alg.toLowerCase()}-${randomUUID().slice(0, 8)}`, alg, use: 'sig' };
}

let keys;
if (keysFile && existsSync(keysFile)) keys = JSON.parse(readFileSync(keysFile, 'utf8')).keys;
else keys = [newKey('ES256')];
const saveKeys = () => { if (keysFile) writeFileSync(keysFile, JSON.stringify({ keys })); };
saveKeys();

const counts = {};
let jwksMode = 'normal';
let discoveryMode = 'normal';
const hanging = new Set();
let provider = null;
let issuer = null;

function build() {
  const signer = keys[0];
  const p = new Provider(issuer, {
    clients: [{
      client_id: 'edgefhir-test',
      client_secret: 'test-secret',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      scope: 'system/*.read system/Patient.read user/*.read',
    }],
    scopes: ['system/*.read', 'system/Patient.read', 'user/*.read'],
    jwks: { keys },
    clientDefaults: { id_token_signed_response_alg: signer.alg },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resourceIndicator) => ({
          scope: 'system/*.read system/Patient.read user/*.read',
          audience: resourceIndicator,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: signer.alg, kid: signer.kid } },
        }),
      },
    },
  });
  p.on('server_error', (ctx, err) => console.error('provider server_error', err));
  return p;
}

function send(res, status, body, type = 'application/json') {
  res.writeHead(status, { 'Content-Type': type });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  const path = url.pathname;
  if (path.startsWith('/admin/')) {
    if (path === '/admin/counts') return send(res, 200, counts);
    if (path === '/admin/reset-counts') {
      for (const k of Object.keys(counts)) delete counts[k];
      return send(res, 200, {});
    }
    if (path === '/admin/rotate') {
      const k = newKey(url.searchParams.get('alg') || 'ES256');
      keys = url.searchParams.get('keep') ? [k, ...keys] : [k];
      saveKeys();
      provider = build();
      return send(res, 200, { kid: k.kid });
    }
    if (path === '/admin/mode') {
      jwksMode = url.searchParams.get('jwks') || jwksMode;
      discoveryMode = url.searchParams.get('discovery') || discoveryMode;
      if (jwksMode !== 'hang') for (const r of hanging) r.destroy();
      return send(res, 200, { jwks: jwksMode, discovery: discoveryMode });
    }
    return send(res, 404, { error: 'no such admin route' });
  }
  counts[path] = (counts[path] || 0) + 1;
  if (path === '/.well-known/openid-configuration' && discoveryMode === '500') return send(res, 500, { error: 'down' });
  if (path === '/jwks' && jwksMode !== 'normal') {
    switch (jwksMode) {
      case '500': return send(res, 500, { error: 'internal' });
      case 'badjson': return send(res, 200, '{"keys": [ {"kty": "EC", ');
      case 'empty': return send(res, 200, { keys: [] });
      case 'huge': {
        // 4 MiB of JSON, streamed.
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write('{"keys": [], "padding": "');
        const chunk = 'x'.repeat(64 * 1024);
        for (let i = 0; i < 64; i++) res.write(chunk);
        return res.end('"}');
      }
      case 'hang':
        hanging.add(res.socket);
        res.socket.on('close', () => hanging.delete(res.socket));
        return undefined;  // never answer
      default: break;
    }
  }
  return provider.callback()(req, res);
});

server.listen(port, '127.0.0.1', () => {
  const actual = server.address().port;
  issuer = `http://127.0.0.1:${actual}`;
  provider = build();
  process.stdout.write(`READY ${actual} ${issuer}\n`);
});

const stop = () => {
  for (const s of hanging) s.destroy();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

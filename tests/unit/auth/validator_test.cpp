// tests/unit/auth/validator_test.cpp — the validation pipeline: every rejection asserts its
// AuthStatus and a key phrase of the reason; principal filling; check order; the
// verified-token cache; bit flips of a valid signature.
#include <catch2/catch.hpp>

#include <atomic>
#include <set>
#include <thread>

#include "auth/jwks.h"
#include "auth/jwt.h"
#include "auth/static_keys.h"
#include "auth/verify.h"
#include "auth/validator.h"
#include "util/base64url.h"
#include "test_util.h"

using namespace ef;
using namespace ef::auth;
using namespace ef::auth::testutil;

namespace {

const std::string kIss = "https://idp.example.org";
const std::string kAud = "https://fhir.example.org";

struct Env {
  AuthConfig cfg;
  StaticKeyProvider keys;
  FixedClock clock{kNow * 1000};
  Signer ec = *Signer::from_pem(ec_pair().private_pem);

  Env() {
    cfg.audiences = {kAud};
    cfg.clock_skew_seconds = 60;
    IssuerConfig ic;
    ic.issuer = kIss;
    ic.algorithms = {"ES256", "RS256", "PS256"};
    cfg.issuers.push_back(ic);
    Key k = *key_from_pem(ec_pair().public_pem);
    k.kid = "k1";
    keys.add(kIss, k);
  }

  json::Object claims() const {
    json::Object c;
    c["iss"] = json::Value(kIss);
    c["aud"] = json::Value(kAud);
    c["sub"] = json::Value("user-1");
    c["oid"] = json::Value("oid-1");
    c["tid"] = json::Value("tenant-1");
    c["azp"] = json::Value("client-1");
    c["roles"] = json::Value(json::Array{json::Value("Reader"), json::Value("Writer")});
    c["scp"] = json::Value("patient/*.read user/*.read");
    c["patient"] = json::Value("p123");
    c["fhirUser"] = json::Value("Practitioner/9");
    c["iat"] = json::Value(double(kNow - 10));
    c["nbf"] = json::Value(double(kNow - 10));
    c["exp"] = json::Value(double(kNow + 3600));
    return c;
  }
  json::Object header(const std::string& kid = "k1") const {
    json::Object h;
    h["typ"] = json::Value("at+jwt");
    if (!kid.empty()) h["kid"] = json::Value(kid);
    return h;
  }
  std::string mint(const json::Object& c, const json::Object& h, const Signer& s, const std::string& alg = "ES256") const {
    return *s.mint(alg, json::Value(h), json::Value(c));
  }
  std::string mint(const json::Object& c) const { return mint(c, header(), ec); }
  std::string mint() const { return mint(claims()); }
};

// A token from raw header/payload JSON texts, signed (or not) with `s`.
std::string raw_token(const std::string& header, const std::string& payload, const Signer* s, const std::string& alg = "ES256") {
  std::string in = b64::url_encode(header) + "." + b64::url_encode(payload);
  std::string sig = s ? *s->sign(alg, in) : std::string("x");
  return in + "." + b64::url_encode(sig);
}

void expect(const AuthOutcome& o, AuthStatus st, const std::string& phrase) {
  INFO("status " << auth_status_code(o.status) << " reason: " << o.reason);
  CHECK(o.status == st);
  CHECK(o.reason.find(phrase) != std::string::npos);
  CHECK(!o.principal);
  REQUIRE(!o.checks.empty());
  CHECK_FALSE(o.checks.back().passed);
}

}  // namespace

TEST_CASE("valid token yields a principal", "[auth][validator]") {
  Env e;
  Validator v(e.cfg, e.keys, e.clock);
  AuthOutcome o = v.validate_header("Bearer " + e.mint());
  REQUIRE(o.ok());
  CHECK(o.reason.empty());
  const Principal& p = *o.principal;
  CHECK(p.authenticated);
  CHECK(p.issuer == kIss);
  CHECK(p.subject == "user-1");
  CHECK(p.object_id == "oid-1");
  CHECK(p.tenant_id == "tenant-1");
  CHECK(p.client_id == "client-1");
  CHECK(p.roles == std::vector<std::string>{"Reader", "Writer"});
  CHECK(p.scopes == std::vector<std::string>{"patient/*.read", "user/*.read"});
  CHECK(p.patient == "p123");
  CHECK(p.fhir_user == "Practitioner/9");
  CHECK(p.expires_at == kNow + 3600);
  CHECK(json::string_or(p.claims, "sub") == "user-1");
  std::vector<std::string> names;
  for (const auto& c : o.checks) {
    CHECK(c.passed);
    names.push_back(c.name);
  }
  CHECK(names == std::vector<std::string>{"token present", "parse", "issuer", "algorithm", "key", "signature", "typ",
                                          "lifetime", "audience"});
}

TEST_CASE("principal claim variants", "[auth][validator]") {
  Env e;
  e.cfg.roles_claim = "groups";
  Validator v(e.cfg, e.keys, e.clock);
  auto c = e.claims();
  c.erase("scp");
  c.erase("azp");
  c["scope"] = json::Value("openid  fhirUser");
  c["appid"] = json::Value("app-7");
  c["groups"] = json::Value("admins");
  AuthOutcome o = v.validate_token(e.mint(c));
  REQUIRE(o.ok());
  CHECK(o.principal->scopes == std::vector<std::string>{"openid", "fhirUser"});
  CHECK(o.principal->client_id == "app-7");
  CHECK(o.principal->roles == std::vector<std::string>{"admins"});
}

TEST_CASE("header and scheme rejections", "[auth][validator]") {
  Env e;
  Validator v(e.cfg, e.keys, e.clock);
  std::string tok = e.mint();
  expect(v.validate_header(""), AuthStatus::missing_token, "no bearer token");
  expect(v.validate_header("Bearer"), AuthStatus::missing_token, "not followed by a token");
  expect(v.validate_header("Basic dXNlcjpwYXNz"), AuthStatus::bad_scheme, "scheme 'Basic' is not supported");
  expect(v.validate_header(tok), AuthStatus::bad_scheme, "no 'Bearer' scheme");
  // An opaque token without a scheme (no dot, no space) is not echoed either.
  expect(v.validate_header("opaqueSECRET0123456789"), AuthStatus::bad_scheme, "no 'Bearer' scheme");
  CHECK(v.validate_header("opaqueSECRET0123456789").reason.find("SECRET") == std::string::npos);
  CHECK(v.validate_header(tok).reason.find(tok.substr(0, 20)) == std::string::npos);  // never echo the token
  expect(v.validate_header("Bearer " + tok + " extra"), AuthStatus::bad_scheme, "extra parts");
  CHECK(v.validate_header("bEaReR   " + tok).ok());
}

TEST_CASE("parse rejections", "[auth][validator]") {
  Env e;
  Validator v(e.cfg, e.keys, e.clock);
  std::string tok = e.mint();
  expect(v.validate_token(std::string(kMaxTokenBytes + 1, 'a')), AuthStatus::too_large, "more than the limit of 16384");
  expect(v.validate_token("abc.def"), AuthStatus::malformed, "expected 3 dot-separated parts, found 2");
  expect(v.validate_token("a.b.c.d.e"), AuthStatus::malformed, "JWE");
  expect(v.validate_token(tok + ".x"), AuthStatus::malformed, "found 4");
  expect(v.validate_token(tok.substr(0, tok.rfind('.') + 1)), AuthStatus::malformed, "signature part is empty");
  expect(v.validate_token("." + tok.substr(tok.find('.') + 1)), AuthStatus::malformed, "header part is empty");
  // padding / bad characters / non-canonical bits
  std::string h64 = tok.substr(0, tok.find('.'));
  expect(v.validate_token(h64 + "=" + tok.substr(h64.size())), AuthStatus::bad_base64, "header is not valid base64url");
  std::string p_bad = tok;
  p_bad.insert(tok.find('.') + 1, "+");
  expect(v.validate_token(p_bad), AuthStatus::bad_base64, "payload is not valid base64url");
  expect(v.validate_token(tok + "*"), AuthStatus::bad_base64, "signature is not valid base64url");
  // JSON shape
  expect(v.validate_token(raw_token("[1]", "{}", &e.ec)), AuthStatus::bad_json, "header is not a JSON object");
  expect(v.validate_token(raw_token("{\"alg\":\"ES256\"", "{}", &e.ec)), AuthStatus::bad_json, "header is not valid JSON");
  expect(v.validate_token(raw_token("{\"alg\":\"ES256\",\"alg\":\"none\"}", "{}", &e.ec)), AuthStatus::bad_json,
         "duplicate member name 'alg'");
  expect(v.validate_token(raw_token("{\"alg\":\"ES256\"}", "\"hello\"", &e.ec)), AuthStatus::bad_json,
         "payload is not a JSON object");
  expect(v.validate_token(raw_token("{\"alg\":\"ES256\"}", "{\"a\":1,\"a\":2}", &e.ec)), AuthStatus::bad_json, "duplicate");
  expect(v.validate_token(raw_token("{\"alg\":\"ES256\"}", "not json", &e.ec)), AuthStatus::bad_json,
         "payload is not valid JSON");
  // header member types
  expect(v.validate_token(raw_token("{\"alg\":256}", "{}", &e.ec)), AuthStatus::bad_header, "'alg' is not a string");
  expect(v.validate_token(raw_token("{\"typ\":\"JWT\"}", "{}", &e.ec)), AuthStatus::bad_header, "no 'alg'");
  expect(v.validate_token(raw_token("{\"alg\":\"ES256\",\"kid\":7}", "{}", &e.ec)), AuthStatus::bad_header,
         "'kid' is not a string");
}

TEST_CASE("crit and b64 are refused", "[auth][validator]") {
  Env e;
  Validator v(e.cfg, e.keys, e.clock);
  auto h = e.header();
  h["crit"] = json::Value(json::Array{json::Value("exp")});
  h["exp"] = json::Value(1.0);
  expect(v.validate_token(e.mint(e.claims(), h, e.ec)), AuthStatus::crit_unsupported, "does not understand: 'exp'");
  h = e.header();
  h["crit"] = json::Value(json::Array{json::Value("b64")});
  h["b64"] = json::Value(false);
  expect(v.validate_token(e.mint(e.claims(), h, e.ec)), AuthStatus::crit_unsupported, "'b64'");
  h = e.header();
  h["b64"] = json::Value(false);
  expect(v.validate_token(e.mint(e.claims(), h, e.ec)), AuthStatus::crit_unsupported, "unencoded payload");
  h = e.header();
  h["crit"] = json::Value(json::Array{});
  expect(v.validate_token(e.mint(e.claims(), h, e.ec)), AuthStatus::bad_header, "non-empty array");
}

TEST_CASE("embedded keys and key URLs in the header are ignored", "[auth][validator]") {
  Env e;
  Validator v(e.cfg, e.keys, e.clock);
  // Signed by an attacker key that is embedded as jwk/x5c/jku: the token must still be judged
  // against the provider's keys only.
  Signer attacker = *Signer::from_pem(ec_pair2().private_pem);
  auto h = e.header();
  h["jwk"] = *json::parse(key_from_pem(ec_pair2().public_pem)->jwk_json);
  h["jku"] = json::Value("https://attacker.example/jwks");
  h["x5u"] = json::Value("https://attacker.example/cert");
  expect(v.validate_token(e.mint(e.claims(), h, attacker)), AuthStatus::bad_signature, "signature is invalid");
  // The same header members on a correctly signed token are harmless.
  CHECK(v.validate_token(e.mint(e.claims(), h, e.ec)).ok());
}

TEST_CASE("algorithm rejections", "[auth][validator]") {
  Env e;
  Validator v(e.cfg, e.keys, e.clock);
  std::string payload = json::write(json::Value(e.claims()));
  expect(v.validate_token(raw_token("{\"alg\":\"none\",\"kid\":\"k1\"}", payload, nullptr)), AuthStatus::unsupported_alg,
         "unsigned token");
  expect(v.validate_token(raw_token("{\"alg\":\"NONE\"}", payload, nullptr)), AuthStatus::unsupported_alg, "unsigned token");
  expect(v.validate_token(raw_token("{\"alg\":\"EdDSA\"}", payload, nullptr)), AuthStatus::unsupported_alg, "EdDSA");
  expect(v.validate_token(raw_token("{\"alg\":\"XY256\"}", payload, nullptr)), AuthStatus::unsupported_alg,
         "not a supported JWS signature algorithm");
  expect(v.validate_token(raw_token("{\"alg\":\"ES384\",\"kid\":\"k1\"}", payload, nullptr)), AuthStatus::alg_not_allowed,
         "alg ES384 is not allowed for issuer 'https://idp.example.org' (allowed: ES256, RS256, PS256)");
}

TEST_CASE("issuer rejections and tenant templates", "[auth][validator]") {
  Env e;
  IssuerConfig t;
  t.issuer = "https://login.example.com/{tenantid}/v2.0";
  t.algorithms = {"ES256"};
  e.cfg.issuers.push_back(t);
  e.keys.add(t.issuer, *key_from_pem(ec_pair().public_pem));
  Validator v(e.cfg, e.keys, e.clock);
  auto c = e.claims();
  c.erase("iss");
  expect(v.validate_token(e.mint(c)), AuthStatus::missing_issuer, "no 'iss' claim");
  c["iss"] = json::Value(42.0);
  expect(v.validate_token(e.mint(c)), AuthStatus::bad_claim, "'iss' is not a string");
  c["iss"] = json::Value("https://evil.example.org");
  expect(v.validate_token(e.mint(c)), AuthStatus::unknown_issuer, "issuer 'https://evil.example.org' is not trusted");
  // Template: iss must equal the template with the token's own tid.
  c["iss"] = json::Value("https://login.example.com/tenant-1/v2.0");
  AuthOutcome ok = v.validate_token(e.mint(c));
  REQUIRE(ok.ok());
  CHECK(ok.principal->issuer == "https://login.example.com/tenant-1/v2.0");
  c["tid"] = json::Value("tenant-2");
  expect(v.validate_token(e.mint(c)), AuthStatus::unknown_issuer, "tid 'tenant-2'");
  c["tid"] = json::Value("x/../tenant-1");
  c["iss"] = json::Value("https://login.example.com/x/../tenant-1/v2.0");
  expect(v.validate_token(e.mint(c)), AuthStatus::unknown_issuer, "is not trusted");
}

TEST_CASE("key lookup rejections", "[auth][validator]") {
  Env e;
  Validator v(e.cfg, e.keys, e.clock);
  uint64_t before = e.keys.unknown_kid_calls();
  expect(v.validate_token(e.mint(e.claims(), e.header("k2"), e.ec)), AuthStatus::no_key,
         "no key with kid 'k2' for issuer 'https://idp.example.org'");
  CHECK(e.keys.unknown_kid_calls() == before + 1);
  // Token without kid is tried against all keys of the issuer.
  CHECK(v.validate_token(e.mint(e.claims(), e.header(""), e.ec)).ok());
  // No keys at all for an issuer.
  Env e2;
  IssuerConfig other;
  other.issuer = "https://other.example.org";
  other.algorithms = {"ES256"};
  e2.cfg.issuers.push_back(other);
  Validator v2(e2.cfg, e2.keys, e2.clock);
  auto c = e2.claims();
  c["iss"] = json::Value(other.issuer);
  expect(v2.validate_token(e2.mint(c, e2.header(""), e2.ec)), AuthStatus::no_key, "no key for issuer 'https://other.example.org' (token has no kid)");
}

TEST_CASE("key confusion: alg must fit the key type", "[auth][validator]") {
  Env e;
  e.cfg.issuers[0].algorithms = {"ES256", "ES384", "HS256", "RS256"};
  Validator v(e.cfg, e.keys, e.clock);
  // HS256 "signed" with the EC public key bytes as HMAC secret (classic confusion attack).
  Signer hs = Signer::from_secret(key_from_pem(ec_pair().public_pem)->jwk_json);
  expect(v.validate_token(e.mint(e.claims(), e.header(), hs, "HS256")), AuthStatus::alg_key_mismatch,
         "alg HS256 cannot be used with the EC P-256 key 'k1'");
  // ES384 header with a P-256 key.
  std::string payload = json::write(json::Value(e.claims()));
  expect(v.validate_token(raw_token("{\"alg\":\"ES384\",\"kid\":\"k1\"}", payload, nullptr)), AuthStatus::alg_key_mismatch,
         "cannot be used with the EC P-256 key");
  expect(v.validate_token(raw_token("{\"alg\":\"RS256\",\"kid\":\"k1\"}", payload, nullptr)), AuthStatus::alg_key_mismatch,
         "alg RS256 cannot be used");
}

TEST_CASE("key alg restriction and weak keys", "[auth][validator]") {
  Env e;
  e.cfg.issuers[0].algorithms = {"RS256", "PS256", "HS256"};
  Signer rsa = *Signer::from_pem(rsa_pair().private_pem);
  Key rk = *key_from_pem(rsa_pair().public_pem);
  rk.kid = "r1";
  rk.alg = "PS256";
  e.keys.add(kIss, rk);
  Key weak = make_hmac_key(std::string(16, 's'), "h1");
  e.keys.add(kIss, weak);
  Validator v(e.cfg, e.keys, e.clock);
  expect(v.validate_token(e.mint(e.claims(), e.header("r1"), rsa, "RS256")), AuthStatus::alg_key_mismatch,
         "key 'r1' is restricted to alg PS256, token uses RS256");
  CHECK(v.validate_token(e.mint(e.claims(), e.header("r1"), rsa, "PS256")).ok());
  Signer hs = Signer::from_secret(std::string(16, 's'));
  expect(v.validate_token(e.mint(e.claims(), e.header("h1"), hs, "HS256")), AuthStatus::key_too_weak,
         "HMAC secret 'h1' is 128 bits, HS256 needs at least 256");
  Key small;
  small.type = KeyType::rsa;
  small.bits = 1024;
  std::string reason;
  CHECK(check_alg_fits_key(small, "RS256", &reason) == AuthStatus::key_too_weak);
  CHECK(reason.find("1024 bits, below 2048") != std::string::npos);
}

TEST_CASE("signature rejections", "[auth][validator]") {
  Env e;
  Validator v(e.cfg, e.keys, e.clock);
  std::string tok = e.mint();
  // Swap the payload for another one (valid base64url JSON) keeping the signature.
  auto c = e.claims();
  c["roles"] = json::Value(json::Array{json::Value("Admin")});
  std::string other = e.mint(c);
  std::string forged = tok.substr(0, tok.find('.')) + other.substr(other.find('.'), other.rfind('.') - other.find('.')) +
                       tok.substr(tok.rfind('.'));
  expect(v.validate_token(forged), AuthStatus::bad_signature, "signature is invalid: signature does not verify");
  // Signed by another key with the same kid.
  Signer attacker = *Signer::from_pem(ec_pair2().private_pem);
  expect(v.validate_token(e.mint(e.claims(), e.header(), attacker)), AuthStatus::bad_signature, "signature is invalid");
  // DER-encoded / wrong-length ECDSA signatures.
  std::string truncated = tok.substr(0, tok.rfind('.') + 1) + b64::url_encode(std::string(63, '\x01'));
  expect(v.validate_token(truncated), AuthStatus::bad_signature, "ES256 needs exactly 64 (r||s)");
}

TEST_CASE("every single-bit flip of a valid signature fails", "[auth][validator]") {
  Env e;
  Validator v(e.cfg, e.keys, e.clock, 0);
  std::string tok = e.mint();
  std::string head = tok.substr(0, tok.rfind('.') + 1);
  std::string sig = *b64::url_decode(tok.substr(tok.rfind('.') + 1));
  REQUIRE(sig.size() == 64);
  REQUIRE(v.validate_token(tok).ok());
  int rejected = 0;
  for (size_t i = 0; i < sig.size() * 8; ++i) {
    std::string s = sig;
    s[i / 8] = char(s[i / 8] ^ (1 << (i % 8)));
    AuthOutcome o = v.validate_token(head + b64::url_encode(s));
    if (o.status == AuthStatus::bad_signature) ++rejected;
  }
  CHECK(rejected == 512);
  // RSA (PS256) too, on a sample of bits across the whole signature.
  Env r;
  Key rk = *key_from_pem(rsa_pair().public_pem);
  r.keys.add(kIss, rk);
  Validator rv(r.cfg, r.keys, r.clock, 0);
  Signer rsa = *Signer::from_pem(rsa_pair().private_pem);
  std::string rt = r.mint(r.claims(), r.header(""), rsa, "PS256");
  REQUIRE(rv.validate_token(rt).ok());
  std::string rhead = rt.substr(0, rt.rfind('.') + 1);
  std::string rsig = *b64::url_decode(rt.substr(rt.rfind('.') + 1));
  int rrej = 0, tried = 0;
  for (size_t i = 0; i < rsig.size() * 8; i += 7) {
    std::string s = rsig;
    s[i / 8] = char(s[i / 8] ^ (1 << (i % 8)));
    ++tried;
    if (rv.validate_token(rhead + b64::url_encode(s)).status == AuthStatus::bad_signature) ++rrej;
  }
  CHECK(rrej == tried);
}

TEST_CASE("typ rules (RFC 9068 / RFC 7515)", "[auth][validator][claims]") {
  Env e;
  Validator v(e.cfg, e.keys, e.clock);
  auto h = e.header();
  for (const char* ok : {"at+jwt", "application/at+jwt", "AT+JWT", "JWT", "jwt", "application/JWT"}) {
    h["typ"] = json::Value(ok);
    INFO(ok);
    CHECK(v.validate_token(e.mint(e.claims(), h, e.ec)).ok());
  }
  h["typ"] = json::Value("JOSE");
  expect(v.validate_token(e.mint(e.claims(), h, e.ec)), AuthStatus::typ_not_allowed, "typ 'JOSE' is not one of ['JWT', 'at+jwt']");
  h["typ"] = json::Value("application/jwt/at");
  CHECK(v.validate_token(e.mint(e.claims(), h, e.ec)).status == AuthStatus::typ_not_allowed);
  h.erase("typ");
  CHECK(v.validate_token(e.mint(e.claims(), h, e.ec)).ok());  // default list: missing typ passes
  e.cfg.issuers[0].token_types = {"at+jwt"};
  e.cfg.issuers[0].token_types_explicit = true;
  Validator v2(e.cfg, e.keys, e.clock);
  expect(v2.validate_token(e.mint(e.claims(), h, e.ec)), AuthStatus::typ_not_allowed, "token has no 'typ' header");
  h["typ"] = json::Value("JWT");
  expect(v2.validate_token(e.mint(e.claims(), h, e.ec)), AuthStatus::typ_not_allowed, "typ 'JWT' is not one of ['at+jwt']");
  h["typ"] = json::Value("application/AT+JWT");
  CHECK(v2.validate_token(e.mint(e.claims(), h, e.ec)).ok());
}

TEST_CASE("time claims", "[auth][validator][claims]") {
  Env e;
  Validator v(e.cfg, e.keys, e.clock, 0);
  auto c = e.claims();
  c.erase("exp");
  expect(v.validate_token(e.mint(c)), AuthStatus::missing_exp, "no 'exp' claim");
  c["exp"] = json::Value("tomorrow");
  expect(v.validate_token(e.mint(c)), AuthStatus::bad_claim, "'exp' is not a number");
  c["exp"] = json::Value(double(kNow - 180 - 60));  // 4 minutes ago; skew 60
  expect(v.validate_token(e.mint(c)), AuthStatus::expired, "token expired at 2026-11-28T09:56:00Z, 4 minutes ago");
  c["exp"] = json::Value(double(kNow - 30));  // within skew
  CHECK(v.validate_token(e.mint(c)).ok());
  c["exp"] = json::Value(double(kNow + 3600));
  c["nbf"] = json::Value(double(kNow + 600));
  expect(v.validate_token(e.mint(c)), AuthStatus::not_yet_valid, "not valid before 2026-11-28T10:10:00Z, in 10 minutes");
  c["nbf"] = json::Value(double(kNow + 30));
  CHECK(v.validate_token(e.mint(c)).ok());
  c["nbf"] = json::Value("x");
  expect(v.validate_token(e.mint(c)), AuthStatus::bad_claim, "'nbf' is not a number");
  c.erase("nbf");
  c["iat"] = json::Value(double(kNow + 7200));
  expect(v.validate_token(e.mint(c)), AuthStatus::issued_in_future, "issued in the future at 2026-11-28T12:00:00Z, in 2 hours");
  c["iat"] = json::Value(double(kNow) + 0.5);
  CHECK(v.validate_token(e.mint(c)).ok());
  // skew 0
  e.cfg.clock_skew_seconds = 0;
  Validator strict(e.cfg, e.keys, e.clock, 0);
  c["exp"] = json::Value(double(kNow - 1));
  expect(strict.validate_token(e.mint(c)), AuthStatus::expired, "1 second ago");
}

TEST_CASE("audience", "[auth][validator][claims]") {
  Env e;
  e.cfg.audiences = {kAud, "api://edgefhir"};
  Validator v(e.cfg, e.keys, e.clock);
  auto c = e.claims();
  c["aud"] = json::Value("api://x");
  expect(v.validate_token(e.mint(c)), AuthStatus::audience_mismatch,
         "audience 'api://x' is not one of ['https://fhir.example.org', 'api://edgefhir']");
  c["aud"] = json::Value(json::Array{json::Value("a"), json::Value("api://edgefhir")});
  CHECK(v.validate_token(e.mint(c)).ok());
  c["aud"] = json::Value(json::Array{json::Value("a"), json::Value("b")});
  expect(v.validate_token(e.mint(c)), AuthStatus::audience_mismatch, "audience ['a', 'b'] are not one of");
  c["aud"] = json::Value(json::Array{json::Value("a"), json::Value(1.0)});
  expect(v.validate_token(e.mint(c)), AuthStatus::bad_claim, "'aud' contains a non-string");
  c["aud"] = json::Value(5.0);
  expect(v.validate_token(e.mint(c)), AuthStatus::bad_claim, "'aud' is not a string or an array");
  c.erase("aud");
  expect(v.validate_token(e.mint(c)), AuthStatus::audience_mismatch, "no 'aud' claim");
  c["aud"] = json::Value("HTTPS://FHIR.EXAMPLE.ORG");
  CHECK(v.validate_token(e.mint(c)).status == AuthStatus::audience_mismatch);  // exact match only
}

TEST_CASE("check order stops at the first failure", "[auth][validator]") {
  Env e;
  Validator v(e.cfg, e.keys, e.clock);
  // Expired, wrong audience AND bad signature: the signature is reported (it runs first).
  auto c = e.claims();
  c["exp"] = json::Value(double(kNow - 3600));
  c["aud"] = json::Value("nope");
  Signer attacker = *Signer::from_pem(ec_pair2().private_pem);
  AuthOutcome o = v.validate_token(e.mint(c, e.header(), attacker));
  CHECK(o.status == AuthStatus::bad_signature);
  CHECK(o.checks.size() == 6);
  // Correctly signed: expiry is reported before audience.
  o = v.validate_token(e.mint(c));
  CHECK(o.status == AuthStatus::expired);
  CHECK(o.checks.back().name == "lifetime");
}

TEST_CASE("verified-token cache", "[auth][validator][cache]") {
  Env e;
  Validator v(e.cfg, e.keys, e.clock);
  std::string tok = e.mint();
  AuthOutcome a = v.validate_token(tok);
  REQUIRE(a.ok());
  CHECK_FALSE(a.from_cache);
  CHECK(v.signature_verifications() == 1);
  CHECK(v.cache_size() == 1);
  AuthOutcome b = v.validate_header("Bearer " + tok);
  REQUIRE(b.ok());
  CHECK(b.from_cache);
  CHECK(b.principal == a.principal);
  CHECK(v.signature_verifications() == 1);  // not re-verified

  SECTION("expiry is honoured on a hit") {
    e.clock.set_ms((kNow + 3600 + 61) * 1000);
    AuthOutcome c = v.validate_token(tok);
    CHECK(c.from_cache);
    CHECK(c.status == AuthStatus::expired);
    CHECK(c.reason.find("token expired at 2026-11-28T11:00:00Z") != std::string::npos);
    CHECK(v.cache_size() == 0);
    CHECK(v.signature_verifications() == 1);
  }
  SECTION("a hit within exp + skew is accepted; a clock that went back re-checks nbf/iat") {
    e.clock.set_ms((kNow + 3600 + 59) * 1000);  // after exp, inside the 60 s skew
    CHECK(v.validate_token(tok).ok());
    e.clock.set_ms((kNow - 3600) * 1000);  // before iat - skew: the cached answer is not reused
    AuthOutcome c = v.validate_token(tok);
    CHECK(c.from_cache);
    CHECK(c.status == AuthStatus::not_yet_valid);  // nbf = iat = kNow - 10; nbf is checked first
    CHECK(v.signature_verifications() == 1);
  }
  SECTION("a key set change drops the cache") {
    Key k = *key_from_pem(ec_pair2().public_pem);
    k.kid = "k9";
    e.keys.add(kIss, k);
    AuthOutcome c = v.validate_token(tok);
    CHECK(c.ok());
    CHECK_FALSE(c.from_cache);
    CHECK(v.signature_verifications() == 2);
  }
  SECTION("failures are not cached") {
    std::string bad = tok;
    size_t p = bad.size() - 10;  // inside the signature, away from the unused trailing bits
    bad[p] = bad[p] == 'A' ? 'B' : 'A';
    CHECK(v.validate_token(bad).status == AuthStatus::bad_signature);
    CHECK(v.validate_token(bad).status == AuthStatus::bad_signature);
    CHECK(v.signature_verifications() == 3);
  }
}

TEST_CASE("cache stays bounded", "[auth][validator][cache]") {
  Env e;
  Validator v(e.cfg, e.keys, e.clock, 8);
  for (int i = 0; i < 30; ++i) {
    auto c = e.claims();
    c["jti"] = json::Value("id-" + std::to_string(i));
    REQUIRE(v.validate_token(e.mint(c)).ok());
    CHECK(v.cache_size() <= 8);
  }
  CHECK(v.cache_size() >= 1);
}

TEST_CASE("auth_status_code names are unique snake_case", "[auth]") {
  std::set<std::string> seen;
  for (int i = 0; i <= int(AuthStatus::internal_error); ++i) {
    std::string n = auth_status_code(AuthStatus(i));
    CHECK(n != "unknown");
    CHECK(n.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos);
    CHECK(seen.insert(n).second);
  }
}

TEST_CASE("concurrent validation shares keys and cache safely", "[auth][validator][cache]") {
  Env e;
  Key rk = *key_from_pem(rsa_pair().public_pem);
  rk.kid = "r1";
  e.keys.add(kIss, rk);
  Validator v(e.cfg, e.keys, e.clock, 16);
  Signer rsa = *Signer::from_pem(rsa_pair().private_pem);
  std::vector<std::string> toks;
  for (int i = 0; i < 12; ++i) {
    auto c = e.claims();
    c["jti"] = json::Value("j" + std::to_string(i));
    toks.push_back(i % 2 ? e.mint(c) : e.mint(c, e.header("r1"), rsa, "RS256"));
  }
  std::atomic<int> ok{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (int r = 0; r < 3; ++r)
        for (size_t i = 0; i < toks.size(); ++i)
          if (v.validate_token(toks[(i + size_t(t)) % toks.size()]).ok()) ++ok;
    });
  for (auto& th : ts) th.join();
  CHECK(ok == 4 * 3 * 12);
  CHECK(v.signature_verifications() >= 12);
  CHECK(v.signature_verifications() < 4 * 3 * 12);
}

TEST_CASE("token-supplied values are sanitised in reasons", "[auth][validator]") {
  Env e;
  Validator v(e.cfg, e.keys, e.clock);
  std::string kid = "evil\n{\"level\":\"error\"}" + std::string(200, 'k');
  AuthOutcome o = v.validate_token(e.mint(e.claims(), e.header(kid), e.ec));
  CHECK(o.status == AuthStatus::no_key);
  CHECK(o.reason.find('\n') == std::string::npos);
  CHECK(o.reason.find("evil?{") != std::string::npos);
  CHECK(o.reason.find("...") != std::string::npos);
  CHECK(o.reason.size() < 200);
  CHECK(safe_text("a\x01" "b", 80) == "a?b");
}

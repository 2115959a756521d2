// tests/unit/auth/signer_test.cpp — every algorithm signs and verifies round trip through
// auth/verify.cpp; generated keys have the requested type; misuse is refused.
#include <catch2/catch.hpp>

#include "auth/jwks.h"
#include "auth/jwt.h"
#include "auth/signer.h"
#include "auth/verify.h"
#include "test_util.h"

using namespace ef;
using namespace ef::auth;
using namespace ef::auth::testutil;

TEST_CASE("signer round trips for every algorithm", "[auth][signer]") {
  Signer rsa = *Signer::from_pem(rsa_pair().private_pem);
  Key rk = *key_from_pem(rsa_pair().public_pem);
  CHECK(rsa.default_alg() == "RS256");
  CHECK(key_from_pem(rsa.public_pem())->thumbprint == rk.thumbprint);
  for (const char* alg : {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}) {
    INFO(alg);
    auto sig = rsa.sign(alg, "header.payload");
    REQUIRE(sig.ok());
    CHECK(sig->size() == 256);
    std::string reason;
    CHECK(verify_signature(rk, alg, "header.payload", *sig, &reason) == AuthStatus::ok);
    CHECK(verify_signature(rk, alg, "header.payloaX", *sig, &reason) == AuthStatus::bad_signature);
  }
  // RS256 and PS256 signatures are not interchangeable.
  std::string reason;
  CHECK(verify_signature(rk, "PS256", "x", *rsa.sign("RS256", "x"), &reason) == AuthStatus::bad_signature);
  const std::pair<KeyType, const char*> ecs[] = {
      {KeyType::ec_p256, "ES256"}, {KeyType::ec_p384, "ES384"}, {KeyType::ec_p521, "ES512"}};
  for (auto [type, alg] : ecs) {
    INFO(alg);
    auto kp = generate_key_pem(type);
    REQUIRE(kp.ok());
    Signer s = *Signer::from_pem(kp->private_pem);
    CHECK(s.type() == type);
    CHECK(s.default_alg() == alg);
    Key k = *key_from_pem(kp->public_pem);
    CHECK(k.type == type);
    auto tok = s.mint(alg, json::Value(json::Object{{"kid", json::Value("a")}}), json::Value(json::Object{{"x", json::Value(1.0)}}));
    REQUIRE(tok.ok());
    Jwt jwt;
    REQUIRE(parse_jwt(*tok, &jwt, &reason) == AuthStatus::ok);
    CHECK(jwt.alg == alg);
    CHECK(jwt.kid == "a");
    CHECK(verify_jws(jwt, k, &reason) == AuthStatus::ok);
    CHECK_FALSE(s.sign("RS256", "x").ok());
  }
  Signer hs = Signer::from_secret(std::string(64, 'q'));
  Key hk = make_hmac_key(std::string(64, 'q'));
  for (const char* alg : {"HS256", "HS384", "HS512"}) {
    auto sig = hs.sign(alg, "in");
    REQUIRE(sig.ok());
    CHECK(verify_signature(hk, alg, "in", *sig, &reason) == AuthStatus::ok);
  }
  CHECK_FALSE(hs.sign("ES256", "in").ok());
  CHECK_FALSE(hs.sign("none", "in").ok());
  CHECK_FALSE(Signer::from_pem("not a key").ok());
  CHECK_FALSE(Signer::from_pem(ec_pair().public_pem).ok());
}

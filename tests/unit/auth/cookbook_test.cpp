// tests/unit/auth/cookbook_test.cpp — RFC 7520 (JOSE cookbook) JWS examples verify with
// keys loaded from their JWKs: RS256 (4.1), PS384 (4.2), ES512 (4.3), HS256 (4.4).
#include <catch2/catch.hpp>

#include "auth/jwks.h"
#include "auth/jwt.h"
#include "auth/verify.h"
#include "test_util.h"

using namespace ef;
using namespace ef::auth;
using namespace ef::auth::testutil;

TEST_CASE("RFC 7520 JWS examples verify", "[auth][cookbook]") {
  const std::string dir = "tests/data/jose-cookbook/jws/";
  const std::pair<const char*, const char*> cases[] = {{"4_1.rsa_v15_signature.json", "RS256"},
                                                       {"4_2.rsa-pss_signature.json", "PS384"},
                                                       {"4_3.ecdsa_signature.json", "ES512"},
                                                       {"4_4.hmac-sha2_integrity_protection.json", "HS256"}};
  for (auto [file, alg] : cases) {
    INFO(file);
    json::Value d = read_json(dir + file);
    const json::Value* input = json::get(d, "input");
    REQUIRE(input);
    JwkOptions opt;
    opt.allow_symmetric = std::string(alg) == "HS256";
    auto key = key_from_jwk(*json::get(*input, "key"), opt);  // private members are ignored
    REQUIRE(key.ok());
    CHECK((key->kid == "bilbo.baggins@hobbiton.example" || key->kid == "018c0ae5-4d9b-471b-bfd6-eef314bc7037"));
    std::string compact = str(*json::get(d, "output"), "compact");
    Jws jws;
    std::string reason;
    REQUIRE(parse_jws(compact, &jws, &reason) == AuthStatus::ok);
    CHECK(jws.alg == alg);
    CHECK(jws.payload == str(*input, "payload"));
    CHECK(verify_jws(jws, *key, &reason) == AuthStatus::ok);
    // One flipped payload character must fail.
    std::string tampered = compact;
    size_t p = tampered.find('.') + 5;
    tampered[p] = tampered[p] == 'A' ? 'B' : 'A';
    Jws bad;
    REQUIRE(parse_jws(tampered, &bad, &reason) == AuthStatus::ok);
    CHECK(verify_jws(bad, *key, &reason) == AuthStatus::bad_signature);
  }
}

TEST_CASE("RFC 7520 keys load with RFC 7638 thumbprints", "[auth][cookbook]") {
  auto rsa = key_from_jwk(read_json("tests/data/jose-cookbook/jwk/3_3.rsa_public_key.json"));
  REQUIRE(rsa.ok());
  CHECK(rsa->type == KeyType::rsa);
  CHECK(rsa->bits == 2048);
  CHECK(rsa->thumbprint.size() == 43);
  auto ec = key_from_jwk(read_json("tests/data/jose-cookbook/jwk/3_1.ec_public_key.json"));
  REQUIRE(ec.ok());
  CHECK(ec->type == KeyType::ec_p521);
  CHECK(ec->bits == 521);
  // The private JWK describes the same public key: same thumbprint, no private members kept.
  auto ecpriv = key_from_jwk(read_json("tests/data/jose-cookbook/jwk/3_2.ec_private_key.json"));
  REQUIRE(ecpriv.ok());
  CHECK(ecpriv->thumbprint == ec->thumbprint);
  CHECK(ecpriv->jwk_json.find("\"d\"") == std::string::npos);
  // oct keys only when allowed.
  auto oct = read_json("tests/data/jose-cookbook/jwk/3_5.symmetric_key_mac_computation.json");
  CHECK_FALSE(key_from_jwk(oct).ok());
  JwkOptions allow;
  allow.allow_symmetric = true;
  CHECK(key_from_jwk(oct, allow).ok());
}

TEST_CASE("RFC 7638 thumbprint example", "[auth][jwks]") {
  // RFC 7638 §3.1 example key and its published thumbprint.
  json::Object j;
  j["kty"] = json::Value("RSA");
  j["e"] = json::Value("AQAB");
  j["n"] = json::Value(
      "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMs"
      "tn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajr"
      "n1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw");
  CHECK(jwk_thumbprint(json::Value(j)) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

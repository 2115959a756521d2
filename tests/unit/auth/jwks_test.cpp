// tests/unit/auth/jwks_test.cpp — key loading: JWK rules, JWKS partial loading, PEM public
// keys, X.509 certificates (PEM and DER, made here with mbedTLS), x5c consistency,
// load_key_file format detection, strength limits.
#include <catch2/catch.hpp>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "auth/jwks.h"
#include "util/base64url.h"
#include "test_util.h"
#include "../testing.h"

using namespace ef;
using namespace ef::auth;
using namespace ef::auth::testutil;

namespace {

// Self-signed certificate for the key pair, as DER.
std::string make_cert_der(const std::string& private_pem) {
  mbedtls_pk_context pk;
  mbedtls_pk_init(&pk);
  mbedtls_entropy_context ent;
  mbedtls_entropy_init(&ent);
  mbedtls_ctr_drbg_context drbg;
  mbedtls_ctr_drbg_init(&drbg);
  mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, nullptr, 0);
  REQUIRE(mbedtls_pk_parse_key(&pk, reinterpret_cast<const unsigned char*>(private_pem.c_str()), private_pem.size() + 1,
                               nullptr, 0) == 0);
  mbedtls_x509write_cert crt;
  mbedtls_x509write_crt_init(&crt);
  mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(&crt, &pk);
  mbedtls_x509write_crt_set_issuer_key(&crt, &pk);
  mbedtls_x509write_crt_set_subject_name(&crt, "CN=edgefhir test idp");
  mbedtls_x509write_crt_set_issuer_name(&crt, "CN=edgefhir test idp");
  mbedtls_mpi serial;
  mbedtls_mpi_init(&serial);
  mbedtls_mpi_lset(&serial, 7);
  mbedtls_x509write_crt_set_serial(&crt, &serial);
  mbedtls_x509write_crt_set_validity(&crt, "20250101000000", "20350101000000");
  unsigned char buf[4096];
  int n = mbedtls_x509write_crt_der(&crt, buf, sizeof buf, mbedtls_ctr_drbg_random, &drbg);
  mbedtls_x509write_crt_free(&crt);
  mbedtls_mpi_free(&serial);
  mbedtls_ctr_drbg_free(&drbg);
  mbedtls_entropy_free(&ent);
  mbedtls_pk_free(&pk);
  REQUIRE(n > 0);
  return std::string(reinterpret_cast<char*>(buf + sizeof buf - n), size_t(n));
}

std::string der_to_pem(const std::string& der) {
  std::string b = b64::std_encode(der), out = "-----BEGIN CERTIFICATE-----\n";
  for (size_t i = 0; i < b.size(); i += 64) out += b.substr(i, 64) + "\n";
  return out + "-----END CERTIFICATE-----\n";
}

json::Value jwk_of(const std::string& public_pem) { return *json::parse(key_from_pem(public_pem)->jwk_json); }

std::string temp_file(const std::string& name, const std::string& data) {
  return testing::write_temp_file(name, data);
}

}  // namespace

TEST_CASE("PEM public keys and certificates give the same key", "[auth][jwks]") {
  auto pem = key_from_pem(ec_pair().public_pem);
  REQUIRE(pem.ok());
  CHECK(pem->type == KeyType::ec_p256);
  CHECK(pem->bits == 256);
  CHECK(pem->kid.empty());
  CHECK(pem->thumbprint.size() == 43);
  CHECK(pem->pk != nullptr);
  std::string der = make_cert_der(ec_pair().private_pem);
  auto from_der = key_from_der(der);
  REQUIRE(from_der.ok());
  CHECK(from_der->thumbprint == pem->thumbprint);
  auto from_pem_cert = key_from_pem(der_to_pem(der));
  REQUIRE(from_pem_cert.ok());
  CHECK(from_pem_cert->thumbprint == pem->thumbprint);

  auto rsa = key_from_pem(rsa_pair().public_pem);
  REQUIRE(rsa.ok());
  CHECK(rsa->type == KeyType::rsa);
  CHECK(rsa->bits == 2048);
  auto rsa_cert = key_from_der(make_cert_der(rsa_pair().private_pem));
  REQUIRE(rsa_cert.ok());
  CHECK(rsa_cert->thumbprint == rsa->thumbprint);

  auto priv = key_from_pem(ec_pair().private_pem);
  REQUIRE_FALSE(priv.ok());
  CHECK(priv.status().message.find("private key") != std::string::npos);
  CHECK_FALSE(key_from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").ok());
  CHECK_FALSE(key_from_der("garbage").ok());
}

TEST_CASE("JWK member rules", "[auth][jwks]") {
  json::Value base = jwk_of(ec_pair().public_pem);
  auto with = [&](const std::string& k, json::Value v) {
    json::Value j = base;
    (*json::as_object_mut(j))[k] = std::move(v);
    return key_from_jwk(j);
  };
  auto msg = [](const Result<Key>& r) { return r.ok() ? std::string("OK") : r.status().message; };
  CHECK(with("use", json::Value("sig")).ok());
  CHECK(msg(with("use", json::Value("enc"))) == "'use' is 'enc', not 'sig'");
  CHECK(with("key_ops", json::Value(json::Array{json::Value("sign"), json::Value("verify")})).ok());
  CHECK(msg(with("key_ops", json::Value(json::Array{json::Value("encrypt")}))) == "'key_ops' does not include 'verify'");
  CHECK(msg(with("kid", json::Value(3.0))) == "'kid' is not a string");
  CHECK(with("alg", json::Value("ES256")).ok());
  CHECK(msg(with("alg", json::Value("RS256"))).find("cannot be used with a EC P-256 key") != std::string::npos);
  CHECK(msg(with("alg", json::Value("ES521"))).find("'ES521'") != std::string::npos);
  CHECK(msg(with("crv", json::Value("P-192"))).find("not supported") != std::string::npos);
  CHECK(msg(with("kty", json::Value("OKP"))).find("'OKP' is not supported") != std::string::npos);
  // Off-curve point: change one byte of y.
  std::string y = *b64::url_decode(json::string_or(base, "y"));
  y[5] = char(y[5] ^ 1);
  CHECK(msg(with("y", json::Value(b64::url_encode(y)))).find("not on curve") != std::string::npos);
  // Short coordinate.
  CHECK(msg(with("x", json::Value(b64::url_encode(std::string(31, 'a'))))).find("exactly 32 bytes") != std::string::npos);
  CHECK(msg(with("x", json::Value("a+b/"))).find("not valid base64url") != std::string::npos);
  auto k = with("kid", json::Value("k-1"));
  REQUIRE(k.ok());
  CHECK(k->kid == "k-1");
  CHECK(k->jwk_json.find("\"kid\":\"k-1\"") != std::string::npos);
}

TEST_CASE("RSA JWKs below 2048 bits are refused", "[auth][jwks]") {
  json::Object j;
  j["kty"] = json::Value("RSA");
  j["e"] = json::Value("AQAB");
  std::string n(128, '\xC5');  // 1024-bit odd modulus (not a real key, but shaped like one)
  n.back() = '\x01';
  j["n"] = json::Value(b64::url_encode(n));
  auto r = key_from_jwk(json::Value(j));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message == "RSA key is 1024 bits; at least 2048 are required");
}

TEST_CASE("x5c must hold the JWK's own key", "[auth][jwks]") {
  json::Value j = jwk_of(ec_pair().public_pem);
  std::string good = b64::std_encode(make_cert_der(ec_pair().private_pem));
  std::string other = b64::std_encode(make_cert_der(ec_pair2().private_pem));
  (*json::as_object_mut(j))["x5c"] = json::Value(json::Array{json::Value(good)});
  CHECK(key_from_jwk(j).ok());
  (*json::as_object_mut(j))["x5c"] = json::Value(json::Array{json::Value(other)});
  auto r = key_from_jwk(j);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message.find("not the key given by the JWK members") != std::string::npos);
  (*json::as_object_mut(j))["x5c"] = json::Value(json::Array{json::Value("!!notbase64")});
  CHECK(key_from_jwk(j).status().message.find("not valid base64") != std::string::npos);
}

TEST_CASE("JWKS: bad keys are skipped and reported, symmetric keys refused", "[auth][jwks]") {
  json::Value ec = jwk_of(ec_pair().public_pem);
  (*json::as_object_mut(ec))["kid"] = json::Value("good-ec");
  json::Value rsa = jwk_of(rsa_pair().public_pem);
  (*json::as_object_mut(rsa))["kid"] = json::Value("good-rsa");
  json::Value enc = ec;
  (*json::as_object_mut(enc))["use"] = json::Value("enc");
  (*json::as_object_mut(enc))["kid"] = json::Value("enc-key");
  json::Object oct;
  oct["kty"] = json::Value("oct");
  oct["k"] = json::Value(b64::url_encode(std::string(32, 'k')));
  oct["kid"] = json::Value("sym");
  json::Object doc;
  doc["keys"] = json::Value(json::Array{ec, json::Value(oct), enc, rsa, json::Value("junk")});
  auto set = parse_jwks(json::write(json::Value(doc)));
  REQUIRE(set.ok());
  REQUIRE(set->keys.size() == 2);
  CHECK(set->keys[0].kid == "good-ec");
  CHECK(set->keys[1].kid == "good-rsa");
  REQUIRE(set->skipped.size() == 3);
  CHECK(set->skipped[0] == "keys[1] (kid 'sym'): symmetric ('oct') keys are refused from a JWKS");
  CHECK(set->skipped[1] == "keys[2] (kid 'enc-key'): 'use' is 'enc', not 'sig'");
  CHECK(set->skipped[2] == "keys[4]: JWK is not a JSON object");
  CHECK_FALSE(parse_jwks("{\"keys\":{}}").ok());
  CHECK_FALSE(parse_jwks("[]").ok());
  CHECK(parse_jwks("{\"keys\":[],\"keys\":[]}").status().message.find("duplicate") != std::string::npos);
}

TEST_CASE("load_key_file detects the format", "[auth][jwks]") {
  std::string der = make_cert_der(ec_pair().private_pem);
  std::string tp = key_from_pem(ec_pair().public_pem)->thumbprint;
  json::Value jwk = jwk_of(ec_pair().public_pem);
  json::Object doc;
  doc["keys"] = json::Value(json::Array{jwk});
  const std::pair<const char*, std::string> files[] = {
      {"pub.pem", ec_pair().public_pem},         {"cert.pem", der_to_pem(der)}, {"cert.der", der},
      {"key.jwk", json::write(jwk)}, {"keys.jwks", json::write(json::Value(doc))}};
  for (const auto& [name, data] : files) {
    INFO(name);
    std::string p = temp_file(name, data);
    auto set = load_key_file(p);
    std::remove(p.c_str());
    REQUIRE(set.ok());
    REQUIRE(set->keys.size() == 1);
    CHECK(set->keys[0].thumbprint == tp);
  }
  std::string p = temp_file("bad.bin", "hello");
  auto bad = load_key_file(p);
  std::remove(p.c_str());
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message.find("not a PEM, DER, JWK or JWKS key") != std::string::npos);
  CHECK(load_key_file("/nonexistent/key.pem").status().message.find("cannot open") != std::string::npos);
}

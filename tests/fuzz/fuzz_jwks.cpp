// tests/fuzz/fuzz_jwks.cpp — key material from untrusted documents (auth/jwks.h): JWK Sets
// as fetched from an issuer, single JWKs, PEM public keys / certificates and DER.
// Input: first byte selects options, the rest is the document.
// Invariants: no crash/UB/exception/leak; every loaded asymmetric key has a canonical
// jwk_json that loads again to a key of the same type, size and RFC 7638 thumbprint; a
// remote-style parse (allow_symmetric off) never yields an HMAC key; errors have messages.
#include "auth/jwks.h"
#include "fuzz_util.h"
#include "util/json.h"

using namespace ef;
using namespace ef::auth;

static void check_key(const Key& k, bool allow_symmetric) {
  if (k.type == KeyType::hmac) {
    FUZZ_CHECK(allow_symmetric, "symmetric key from a remote-style JWKS");
    return;
  }
  FUZZ_CHECK(!k.jwk_json.empty(), "asymmetric key without jwk_json");
  FUZZ_CHECK(k.pk != nullptr, "asymmetric key without pk");
  if (k.type == KeyType::rsa) FUZZ_CHECK(k.bits >= kMinRsaBits, "weak RSA key accepted");
  auto again = key_from_jwk_text(k.jwk_json);
  FUZZ_CHECK(again.ok(), "canonical jwk_json does not load: " + (again.ok() ? "" : again.status().message));
  FUZZ_CHECK(again->type == k.type && again->bits == k.bits, "round trip changed the key type/size");
  FUZZ_CHECK(again->thumbprint == k.thumbprint, "round trip changed the thumbprint");
  auto parsed = json::parse(k.jwk_json);
  FUZZ_CHECK(parsed.ok(), "jwk_json is not JSON");
  FUZZ_CHECK(jwk_thumbprint(*parsed) == k.thumbprint, "thumbprint differs from jwk_thumbprint(jwk_json)");
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  JwkOptions opt;
  opt.allow_symmetric = data[0] & 1;
  std::string_view doc(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch ((data[0] >> 1) % 4) {
    case 0: {
      auto set = parse_jwks(doc, opt);
      if (set) {
        for (auto& k : set->keys) check_key(k, opt.allow_symmetric);
        for (auto& s : set->skipped) FUZZ_CHECK(!s.empty(), "empty skip message");
      } else {
        FUZZ_CHECK(!set.status().message.empty(), "error without message");
      }
      break;
    }
    case 1: {
      auto k = key_from_jwk_text(doc, opt);
      if (k) check_key(*k, opt.allow_symmetric);
      else FUZZ_CHECK(!k.status().message.empty(), "error without message");
      break;
    }
    case 2: {
      auto k = key_from_pem(doc);
      if (k) check_key(*k, false);
      break;
    }
    case 3: {
      auto k = key_from_der(doc);
      if (k) check_key(*k, false);
      break;
    }
  }
  return 0;
}

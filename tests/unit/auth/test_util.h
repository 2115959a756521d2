// tests/unit/auth/test_util.h — small helpers shared by the [auth] tests: reading
// the test data in tests/data/ and hex decoding.
#pragma once
#include <fstream>
#include <sstream>
#include <string>

#include "util/json.h"

namespace ef::auth::testutil {

inline std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline json::Value read_json(const std::string& path) {
  auto v = json::parse(read_text(path), json::ParseOptions{200, false, false});
  return v.ok() ? *v : json::Value();
}

inline std::string hex(const std::string& h) {
  std::string out;
  auto nib = [](char c) { return c <= '9' ? c - '0' : (c | 32) - 'a' + 10; };
  for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(char(nib(h[i]) * 16 + nib(h[i + 1])));
  return out;
}

inline std::string str(const json::Value& v, const char* k) { return json::string_or(v, k); }

}  // namespace ef::auth::testutil

#include "auth/signer.h"

namespace ef::auth::testutil {

// 2026-11-28T10:00:00Z
constexpr int64_t kNow = 1795860000;

// Demo key pairs generated once per test process (RSA generation is slow).
inline const KeyPairPem& ec_pair() {
  static KeyPairPem p = *generate_key_pem(KeyType::ec_p256);
  return p;
}
inline const KeyPairPem& ec_pair2() {
  static KeyPairPem p = *generate_key_pem(KeyType::ec_p256);
  return p;
}
inline const KeyPairPem& rsa_pair() {
  static KeyPairPem p = *generate_key_pem(KeyType::rsa);
  return p;
}

}  // namespace ef::auth::testutil

// auth/verify.cpp — JWS signature verification (see verify.h).  Pipeline: look up the
// algorithm, check it fits the key, check key strength, hash the signing input, run the
// primitive for the algorithm family.
#include "auth/verify.h"

#include <mbedtls/ecdsa.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>

namespace ef::auth {
namespace {

enum class Family { rsa_pkcs1, rsa_pss, ecdsa, hmac };

struct Alg {
  const char* name;
  Family family;
  mbedtls_md_type_t md;
  size_t hash_len;
  KeyType ec_type;  // for ecdsa only
};

const Alg kAlgs[] = {
    {"RS256", Family::rsa_pkcs1, MBEDTLS_MD_SHA256, 32, KeyType::rsa},
    {"RS384", Family::rsa_pkcs1, MBEDTLS_MD_SHA384, 48, KeyType::rsa},
    {"RS512", Family::rsa_pkcs1, MBEDTLS_MD_SHA512, 64, KeyType::rsa},
    {"PS256", Family::rsa_pss, MBEDTLS_MD_SHA256, 32, KeyType::rsa},
    {"PS384", Family::rsa_pss, MBEDTLS_MD_SHA384, 48, KeyType::rsa},
    {"PS512", Family::rsa_pss, MBEDTLS_MD_SHA512, 64, KeyType::rsa},
    {"ES256", Family::ecdsa, MBEDTLS_MD_SHA256, 32, KeyType::ec_p256},
    {"ES384", Family::ecdsa, MBEDTLS_MD_SHA384, 48, KeyType::ec_p384},
    {"ES512", Family::ecdsa, MBEDTLS_MD_SHA512, 64, KeyType::ec_p521},
    {"HS256", Family::hmac, MBEDTLS_MD_SHA256, 32, KeyType::hmac},
    {"HS384", Family::hmac, MBEDTLS_MD_SHA384, 48, KeyType::hmac},
    {"HS512", Family::hmac, MBEDTLS_MD_SHA512, 64, KeyType::hmac},
};

const Alg* find_alg(std::string_view name) {
  for (const auto& a : kAlgs)
    if (name == a.name) return &a;
  return nullptr;
}

AuthStatus fail(AuthStatus s, std::string* reason, std::string msg) {
  if (reason) *reason = std::move(msg);
  return s;
}

const unsigned char* u8(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

bool hash(const Alg& a, std::string_view in, unsigned char* out) {
  return mbedtls_md(mbedtls_md_info_from_type(a.md), u8(in), in.size(), out) == 0;
}

bool key_family_fits(const Alg& a, KeyType t) {
  switch (a.family) {
    case Family::rsa_pkcs1:
    case Family::rsa_pss: return t == KeyType::rsa;
    case Family::ecdsa: return t == a.ec_type;
    case Family::hmac: return t == KeyType::hmac;
  }
  return false;
}

mbedtls_ecp_group_id group_of(KeyType t) {
  return t == KeyType::ec_p256 ? MBEDTLS_ECP_DP_SECP256R1
         : t == KeyType::ec_p384 ? MBEDTLS_ECP_DP_SECP384R1
                                 : MBEDTLS_ECP_DP_SECP521R1;
}

AuthStatus verify_rsa(const Alg& a, const Key& key, const unsigned char* h, std::string_view sig, std::string* reason) {
  auto* pk = static_cast<mbedtls_pk_context*>(key.pk.get());
  if (!pk || mbedtls_pk_get_type(pk) != MBEDTLS_PK_RSA) return fail(AuthStatus::internal_error, reason, "RSA key has no public key");
  mbedtls_rsa_context* rsa = mbedtls_pk_rsa(*pk);
  // mbedTLS reads exactly the modulus length; anything else is not a valid signature (RFC 8017 §8.2.2 step 1).
  if (sig.size() != mbedtls_rsa_get_len(rsa))
    return fail(AuthStatus::bad_signature, reason,
                "signature is " + std::to_string(sig.size()) + " bytes, the key needs " +
                    std::to_string(mbedtls_rsa_get_len(rsa)));
  int rc = a.family == Family::rsa_pkcs1
               ? mbedtls_rsa_rsassa_pkcs1_v15_verify(rsa, nullptr, nullptr, MBEDTLS_RSA_PUBLIC, a.md,
                                                     unsigned(a.hash_len), h, u8(sig))
               : mbedtls_rsa_rsassa_pss_verify_ext(rsa, nullptr, nullptr, MBEDTLS_RSA_PUBLIC, a.md,
                                                   unsigned(a.hash_len), h, a.md, int(a.hash_len), u8(sig));
  if (rc != 0) return fail(AuthStatus::bad_signature, reason, "signature does not verify");
  return AuthStatus::ok;
}

AuthStatus verify_ecdsa(const Alg& a, const Key& key, const unsigned char* h, std::string_view sig, std::string* reason) {
  auto* pk = static_cast<mbedtls_pk_context*>(key.pk.get());
  if (!pk || !mbedtls_pk_can_do(pk, MBEDTLS_PK_ECKEY)) return fail(AuthStatus::internal_error, reason, "EC key has no public key");
  const mbedtls_ecp_keypair* ec = mbedtls_pk_ec(*pk);
  mbedtls_ecp_group grp;
  mbedtls_ecp_group_init(&grp);
  if (mbedtls_ecp_group_load(&grp, group_of(key.type)) != 0) {
    mbedtls_ecp_group_free(&grp);
    return fail(AuthStatus::internal_error, reason, "EC group load failed");
  }
  size_t n = (grp.pbits + 7) / 8;
  if (sig.size() != 2 * n) {
    mbedtls_ecp_group_free(&grp);
    return fail(AuthStatus::bad_signature, reason,
                "signature is " + std::to_string(sig.size()) + " bytes, " + a.name + " needs exactly " +
                    std::to_string(2 * n) + " (r||s)");
  }
  mbedtls_mpi r, s;
  mbedtls_mpi_init(&r);
  mbedtls_mpi_init(&s);
  int rc = mbedtls_mpi_read_binary(&r, u8(sig), n);
  if (rc == 0) rc = mbedtls_mpi_read_binary(&s, u8(sig) + n, n);
  if (rc == 0) rc = mbedtls_ecdsa_verify(&grp, h, a.hash_len, &ec->Q, &r, &s);
  mbedtls_mpi_free(&r);
  mbedtls_mpi_free(&s);
  mbedtls_ecp_group_free(&grp);
  if (rc != 0) return fail(AuthStatus::bad_signature, reason, "signature does not verify");
  return AuthStatus::ok;
}

AuthStatus verify_hmac(const Alg& a, const Key& key, std::string_view input, std::string_view sig, std::string* reason) {
  unsigned char mac[64];
  if (mbedtls_md_hmac(mbedtls_md_info_from_type(a.md), u8(key.secret), key.secret.size(), u8(input), input.size(), mac) != 0)
    return fail(AuthStatus::internal_error, reason, "HMAC computation failed");
  if (sig.size() != a.hash_len || !constant_time_equal(sig, std::string_view(reinterpret_cast<char*>(mac), a.hash_len)))
    return fail(AuthStatus::bad_signature, reason, "signature does not verify");
  return AuthStatus::ok;
}

}  // namespace

bool is_supported_alg(std::string_view alg) { return find_alg(alg) != nullptr; }

std::vector<std::string> supported_algorithms() {
  std::vector<std::string> v;
  for (const auto& a : kAlgs) v.push_back(a.name);
  return v;
}

std::string unsupported_alg_reason(std::string_view alg) {
  std::string a = safe_text(alg, 40);
  std::string lower;
  for (char c : a) lower.push_back(char(c >= 'A' && c <= 'Z' ? c + 32 : c));
  if (lower == "none") return "alg '" + a + "' (unsigned token) is never accepted";
  if (a == "EdDSA" || a == "Ed25519" || a == "Ed448") return "alg '" + a + "' is not supported (EdDSA)";
  if (a.empty()) return "alg is empty";
  return "alg '" + a + "' is not a supported JWS signature algorithm";
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  volatile unsigned char d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = d | (static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]));
  return d == 0;
}

AuthStatus check_alg_fits_key(const Key& key, std::string_view alg, std::string* reason) {
  const Alg* a = find_alg(alg);
  if (!a) return fail(AuthStatus::unsupported_alg, reason, unsupported_alg_reason(alg));
  std::string kid = key.kid.empty() ? "" : " '" + safe_text(key.kid) + "'";
  if (!key_family_fits(*a, key.type))
    return fail(AuthStatus::alg_key_mismatch, reason,
                "alg " + safe_text(alg, 40) + " cannot be used with the " + key_type_name(key.type) + " key" + kid);
  if (!key.alg.empty() && key.alg != alg)
    return fail(AuthStatus::alg_key_mismatch, reason,
                "key" + kid + " is restricted to alg " + key.alg + ", token uses " + safe_text(alg, 40));
  if (key.type == KeyType::rsa && key.bits < 2048)
    return fail(AuthStatus::key_too_weak, reason, "RSA key" + kid + " is " + std::to_string(key.bits) + " bits, below 2048");
  if (key.type == KeyType::hmac && size_t(key.bits) < a->hash_len * 8)
    return fail(AuthStatus::key_too_weak, reason,
                "HMAC secret" + kid + " is " + std::to_string(key.bits) + " bits, " + std::string(alg) + " needs at least " +
                    std::to_string(a->hash_len * 8));
  return AuthStatus::ok;
}

AuthStatus verify_signature(const Key& key, std::string_view alg, std::string_view signing_input,
                            std::string_view signature, std::string* reason) {
  AuthStatus fit = check_alg_fits_key(key, alg, reason);
  if (fit != AuthStatus::ok) return fit;
  const Alg& a = *find_alg(alg);
  if (a.family == Family::hmac) return verify_hmac(a, key, signing_input, signature, reason);
  unsigned char h[64];
  if (!hash(a, signing_input, h)) return fail(AuthStatus::internal_error, reason, "hash computation failed");
  if (a.family == Family::ecdsa) return verify_ecdsa(a, key, h, signature, reason);
  return verify_rsa(a, key, h, signature, reason);
}

}  // namespace ef::auth

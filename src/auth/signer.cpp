// auth/signer.cpp — JWS signing and demo key generation (see signer.h).
#include "auth/signer.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>

#include "auth/jwks.h"
#include "util/base64url.h"

namespace ef::auth {
namespace {

struct Rng {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  bool ok = false;
  Rng() {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    static const unsigned char pers[] = "edgefhir-signer";
    ok = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, pers, sizeof pers - 1) == 0;
  }
  ~Rng() {
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
  }
  Rng(const Rng&) = delete;
  Rng& operator=(const Rng&) = delete;
};

struct AlgSpec {
  char family;  // 'R' pkcs1, 'P' pss, 'E' ecdsa, 'H' hmac
  mbedtls_md_type_t md;
  size_t hlen;
};

bool alg_spec(std::string_view alg, AlgSpec* out) {
  if (alg.size() != 5) return false;
  std::string_view bits = alg.substr(2);
  mbedtls_md_type_t md = bits == "256" ? MBEDTLS_MD_SHA256 : bits == "384" ? MBEDTLS_MD_SHA384 : bits == "512" ? MBEDTLS_MD_SHA512 : MBEDTLS_MD_NONE;
  if (md == MBEDTLS_MD_NONE) return false;
  std::string_view fam = alg.substr(0, 2);
  char f = fam == "RS" ? 'R' : fam == "PS" ? 'P' : fam == "ES" ? 'E' : fam == "HS" ? 'H' : 0;
  if (!f) return false;
  *out = AlgSpec{f, md, size_t(mbedtls_md_get_size(mbedtls_md_info_from_type(md)))};
  return true;
}

const unsigned char* u8(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

Status bad(std::string m) { return Status(Err::invalid, std::move(m)); }

}  // namespace

struct Signer::State {
  std::shared_ptr<void> pk;  // mbedtls_pk_context*
  std::string secret;
  Rng rng;
};

Result<Signer> Signer::from_pem(std::string_view pem) {
  Signer s;
  s.st_ = std::make_shared<State>();
  if (!s.st_->rng.ok) return Status(Err::internal, "random generator could not be seeded");
  s.st_->pk = new_pk();
  auto* pk = static_cast<mbedtls_pk_context*>(s.st_->pk.get());
  std::string text(pem);
  if (mbedtls_pk_parse_key(pk, u8(text), text.size() + 1, nullptr, 0) != 0 &&
      mbedtls_pk_parse_key(pk, u8(text), text.size(), nullptr, 0) != 0)
    return bad("not an unencrypted PEM/DER private key");
  auto k = key_from_pk(s.st_->pk);  // type and strength checks
  if (!k.ok()) return k.status();
  s.type_ = k->type;
  return s;
}

Signer Signer::from_secret(std::string secret) {
  Signer s;
  s.st_ = std::make_shared<State>();
  s.st_->secret = std::move(secret);
  s.type_ = KeyType::hmac;
  return s;
}

std::string Signer::default_alg() const {
  switch (type_) {
    case KeyType::rsa: return "RS256";
    case KeyType::ec_p256: return "ES256";
    case KeyType::ec_p384: return "ES384";
    case KeyType::ec_p521: return "ES512";
    case KeyType::hmac: return "HS256";
  }
  return "RS256";
}

Result<std::string> Signer::sign(std::string_view alg, std::string_view input) const {
  AlgSpec a;
  if (!st_ || !alg_spec(alg, &a)) return bad("alg '" + std::string(alg) + "' cannot be used for signing");
  bool fits = a.family == 'H' ? type_ == KeyType::hmac
              : a.family == 'E' ? (alg == "ES256" && type_ == KeyType::ec_p256) || (alg == "ES384" && type_ == KeyType::ec_p384) ||
                                      (alg == "ES512" && type_ == KeyType::ec_p521)
                                : type_ == KeyType::rsa;
  if (!fits) return bad("alg " + std::string(alg) + " does not fit the " + key_type_name(type_) + " key");
  const mbedtls_md_info_t* md = mbedtls_md_info_from_type(a.md);
  if (a.family == 'H') {
    std::string mac(a.hlen, '\0');
    mbedtls_md_hmac(md, u8(st_->secret), st_->secret.size(), u8(input), input.size(), reinterpret_cast<unsigned char*>(&mac[0]));
    return mac;
  }
  if (!st_->rng.ok) return Status(Err::internal, "random generator not seeded");
  unsigned char h[64];
  mbedtls_md(md, u8(input), input.size(), h);
  auto* pk = static_cast<mbedtls_pk_context*>(st_->pk.get());
  auto* rng = &st_->rng.drbg;
  if (a.family == 'E') {
    mbedtls_ecp_keypair* ec = mbedtls_pk_ec(*pk);
    size_t n = (ec->grp.pbits + 7) / 8;
    mbedtls_mpi r, s;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    std::string out(2 * n, '\0');
    auto* o = reinterpret_cast<unsigned char*>(&out[0]);
    int rc = mbedtls_ecdsa_sign(&ec->grp, &r, &s, &ec->d, h, a.hlen, mbedtls_ctr_drbg_random, rng);
    if (rc == 0) rc = mbedtls_mpi_write_binary(&r, o, n);
    if (rc == 0) rc = mbedtls_mpi_write_binary(&s, o + n, n);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    if (rc != 0) return Status(Err::internal, "ECDSA signing failed");
    return out;
  }
  mbedtls_rsa_context* rsa = mbedtls_pk_rsa(*pk);
  std::string out(mbedtls_rsa_get_len(rsa), '\0');
  auto* o = reinterpret_cast<unsigned char*>(&out[0]);
  int rc;
  if (a.family == 'R') {
    mbedtls_rsa_set_padding(rsa, MBEDTLS_RSA_PKCS_V15, MBEDTLS_MD_NONE);
    rc = mbedtls_rsa_rsassa_pkcs1_v15_sign(rsa, mbedtls_ctr_drbg_random, rng, MBEDTLS_RSA_PRIVATE, a.md, unsigned(a.hlen), h, o);
  } else {
    mbedtls_rsa_set_padding(rsa, MBEDTLS_RSA_PKCS_V21, a.md);  // MGF1 hash = ctx hash_id
    rc = mbedtls_rsa_rsassa_pss_sign_ext(rsa, mbedtls_ctr_drbg_random, rng, a.md, unsigned(a.hlen), h, int(a.hlen), o);
  }
  if (rc != 0) return Status(Err::internal, "RSA signing failed");
  return out;
}

Result<std::string> Signer::mint(std::string_view alg, const json::Value& header, const json::Value& payload) const {
  json::Object h = json::as_object(header) ? *json::as_object(header) : json::Object();
  h["alg"] = json::Value(std::string(alg));
  std::string input = b64::url_encode(json::write(json::Value(h))) + "." + b64::url_encode(json::write(payload));
  auto sig = sign(alg, input);
  if (!sig.ok()) return sig.status();
  return input + "." + b64::url_encode(*sig);
}

std::string Signer::public_pem() const {
  if (!st_ || !st_->pk) return {};
  unsigned char buf[4096];
  if (mbedtls_pk_write_pubkey_pem(static_cast<mbedtls_pk_context*>(st_->pk.get()), buf, sizeof buf) != 0) return {};
  return reinterpret_cast<char*>(buf);
}

Result<KeyPairPem> generate_key_pem(KeyType type) {
  Rng rng;
  if (!rng.ok) return Status(Err::internal, "random generator could not be seeded");
  auto holder = new_pk();
  auto* pk = static_cast<mbedtls_pk_context*>(holder.get());
  int rc;
  if (type == KeyType::rsa) {
    rc = mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA));
    if (rc == 0) rc = mbedtls_rsa_gen_key(mbedtls_pk_rsa(*pk), mbedtls_ctr_drbg_random, &rng.drbg, 2048, 65537);
  } else if (type == KeyType::hmac) {
    return bad("HMAC secrets are not key pairs");
  } else {
    mbedtls_ecp_group_id id = type == KeyType::ec_p384 ? MBEDTLS_ECP_DP_SECP384R1
                              : type == KeyType::ec_p521 ? MBEDTLS_ECP_DP_SECP521R1
                                                         : MBEDTLS_ECP_DP_SECP256R1;
    rc = mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    if (rc == 0) rc = mbedtls_ecp_gen_key(id, mbedtls_pk_ec(*pk), mbedtls_ctr_drbg_random, &rng.drbg);
  }
  if (rc != 0) return Status(Err::internal, "key generation failed");
  KeyPairPem out;
  std::string buf(16000, '\0');
  auto* b = reinterpret_cast<unsigned char*>(&buf[0]);
  if (mbedtls_pk_write_key_pem(pk, b, buf.size()) != 0) return Status(Err::internal, "private key PEM write failed");
  out.private_pem = buf.c_str();
  std::fill(buf.begin(), buf.end(), '\0');
  if (mbedtls_pk_write_pubkey_pem(pk, b, buf.size()) != 0) return Status(Err::internal, "public key PEM write failed");
  out.public_pem = buf.c_str();
  std::fill(buf.begin(), buf.end(), '\0');
  return out;
}

}  // namespace ef::auth

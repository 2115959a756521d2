// auth/jwks.cpp — keys from JWK / JWKS / PEM / X.509 (see jwks.h).  Pipeline: decode the
// published form into an mbedtls_pk_context, then key_from_pk() derives the type, size,
// strength check, canonical public JWK and thumbprint the same way for every source.
#include "auth/jwks.h"

#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include <fstream>
#include <sstream>

#include "util/base64url.h"

namespace ef::auth {
namespace {

Status bad(std::string msg) { return Status(Err::invalid, std::move(msg)); }

mbedtls_pk_context* pkc(const std::shared_ptr<void>& p) { return static_cast<mbedtls_pk_context*>(p.get()); }

std::string mpi_b64(const mbedtls_mpi& m, size_t fixed_len = 0) {
  size_t n = fixed_len ? fixed_len : mbedtls_mpi_size(&m);
  std::string buf(n, '\0');
  if (mbedtls_mpi_write_binary(&m, reinterpret_cast<unsigned char*>(&buf[0]), n) != 0) return {};
  return b64::url_encode(buf);
}

struct Curve {
  const char* crv;
  mbedtls_ecp_group_id id;
  KeyType type;
  size_t bytes;
  int bits;
};
const Curve kCurves[] = {
    {"P-256", MBEDTLS_ECP_DP_SECP256R1, KeyType::ec_p256, 32, 256},
    {"P-384", MBEDTLS_ECP_DP_SECP384R1, KeyType::ec_p384, 48, 384},
    {"P-521", MBEDTLS_ECP_DP_SECP521R1, KeyType::ec_p521, 66, 521},
};
const Curve* curve_by_name(const std::string& n) {
  for (const auto& c : kCurves)
    if (n == c.crv) return &c;
  return nullptr;
}
const Curve* curve_by_id(mbedtls_ecp_group_id id) {
  for (const auto& c : kCurves)
    if (id == c.id) return &c;
  return nullptr;
}

std::string sha256_b64(const std::string& s) {
  unsigned char h[32];
  mbedtls_sha256_ret(reinterpret_cast<const unsigned char*>(s.data()), s.size(), h, 0);
  return b64::url_encode(std::string(reinterpret_cast<char*>(h), 32));
}

std::string describe(const json::Value& jwk, size_t i) {
  std::string s = "keys[" + std::to_string(i) + "]";
  if (const std::string* kid = json::get_string(jwk, "kid")) s += " (kid '" + *kid + "')";
  return s;
}

// Checks of the JWK members shared by every key type: use, key_ops, kid, alg types.
Status check_common(const json::Value& jwk) {
  if (const json::Value* use = json::get(jwk, "use")) {
    const std::string* u = json::as_string(*use);
    if (!u) return bad("'use' is not a string");
    if (*u != "sig") return bad("'use' is '" + *u + "', not 'sig'");
  }
  if (const json::Value* ops = json::get(jwk, "key_ops")) {
    const json::Array* a = json::as_array(*ops);
    if (!a) return bad("'key_ops' is not an array");
    bool verify = false;
    for (const auto& o : *a) {
      const std::string* s = json::as_string(o);
      if (!s) return bad("'key_ops' contains a non-string");
      verify = verify || *s == "verify";
    }
    if (!verify) return bad("'key_ops' does not include 'verify'");
  }
  if (const json::Value* kid = json::get(jwk, "kid"); kid && !json::is_string(*kid)) return bad("'kid' is not a string");
  if (const json::Value* alg = json::get(jwk, "alg"); alg && !json::is_string(*alg)) return bad("'alg' is not a string");
  return Status::Ok();
}

Result<std::string> b64_member(const json::Value& jwk, const char* name) {
  const std::string* s = json::get_string(jwk, name);
  if (!s) return bad(std::string("missing or non-string '") + name + "'");
  auto d = b64::url_decode(*s);
  if (!d) return bad(std::string("'") + name + "' is not valid base64url");
  if (d->empty()) return bad(std::string("'") + name + "' is empty");
  return *d;
}

Result<std::shared_ptr<void>> pk_from_rsa_jwk(const json::Value& jwk) {
  auto n = b64_member(jwk, "n");
  if (!n.ok()) return n.status();
  auto e = b64_member(jwk, "e");
  if (!e.ok()) return e.status();
  auto pk = new_pk();
  if (mbedtls_pk_setup(pkc(pk), mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)) != 0) return Status(Err::internal, "pk setup failed");
  mbedtls_rsa_context* rsa = mbedtls_pk_rsa(*pkc(pk));
  const auto* N = reinterpret_cast<const unsigned char*>(n->data());
  const auto* E = reinterpret_cast<const unsigned char*>(e->data());
  if (mbedtls_rsa_import_raw(rsa, N, n->size(), nullptr, 0, nullptr, 0, nullptr, 0, E, e->size()) != 0 ||
      mbedtls_rsa_complete(rsa) != 0 || mbedtls_rsa_check_pubkey(rsa) != 0)
    return bad("RSA modulus/exponent do not form a valid public key");
  return pk;
}

Result<std::shared_ptr<void>> pk_from_ec_jwk(const json::Value& jwk) {
  const std::string* crv = json::get_string(jwk, "crv");
  if (!crv) return bad("missing or non-string 'crv'");
  const Curve* c = curve_by_name(*crv);
  if (!c) return bad("curve '" + *crv + "' is not supported (P-256, P-384, P-521)");
  auto x = b64_member(jwk, "x");
  if (!x.ok()) return x.status();
  auto y = b64_member(jwk, "y");
  if (!y.ok()) return y.status();
  if (x->size() != c->bytes || y->size() != c->bytes)
    return bad("'x'/'y' must be exactly " + std::to_string(c->bytes) + " bytes for " + c->crv);
  auto pk = new_pk();
  if (mbedtls_pk_setup(pkc(pk), mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0) return Status(Err::internal, "pk setup failed");
  mbedtls_ecp_keypair* ec = mbedtls_pk_ec(*pkc(pk));
  if (mbedtls_ecp_group_load(&ec->grp, c->id) != 0 ||
      mbedtls_mpi_read_binary(&ec->Q.X, reinterpret_cast<const unsigned char*>(x->data()), x->size()) != 0 ||
      mbedtls_mpi_read_binary(&ec->Q.Y, reinterpret_cast<const unsigned char*>(y->data()), y->size()) != 0 ||
      mbedtls_mpi_lset(&ec->Q.Z, 1) != 0)
    return Status(Err::internal, "EC key import failed");
  if (mbedtls_ecp_check_pubkey(&ec->grp, &ec->Q) != 0) return bad("EC point is not on curve " + std::string(c->crv));
  return pk;
}

// The key inside the first x5c certificate must be the JWK's own key.
Status check_x5c(const json::Value& jwk, const Key& k) {
  const json::Value* x5c = json::get(jwk, "x5c");
  if (!x5c) return Status::Ok();
  const json::Array* a = json::as_array(*x5c);
  if (!a || a->empty() || !json::as_string((*a)[0])) return bad("'x5c' must be a non-empty array of base64 certificates");
  auto der = b64::std_decode(*json::as_string((*a)[0]));
  if (!der) return bad("'x5c'[0] is not valid base64");
  auto ck = key_from_der(*der);
  if (!ck.ok()) return bad("'x5c'[0]: " + ck.status().message);
  if (ck->thumbprint != k.thumbprint) return bad("the key in 'x5c'[0] is not the key given by the JWK members");
  return Status::Ok();
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  for (const auto& x : v)
    if (x == s) return true;
  return false;
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status(Err::not_found, "cannot open key file '" + path + "'");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

std::shared_ptr<void> new_pk() {
  auto* p = new mbedtls_pk_context;
  mbedtls_pk_init(p);
  return std::shared_ptr<void>(p, [](void* v) {
    auto* c = static_cast<mbedtls_pk_context*>(v);
    mbedtls_pk_free(c);
    delete c;
  });
}

std::string jwk_thumbprint(const json::Value& j) {
  std::string kty = json::string_or(j, "kty");
  std::string canon;
  if (kty == "RSA")
    canon = "{\"e\":\"" + json::string_or(j, "e") + "\",\"kty\":\"RSA\",\"n\":\"" + json::string_or(j, "n") + "\"}";
  else if (kty == "EC")
    canon = "{\"crv\":\"" + json::string_or(j, "crv") + "\",\"kty\":\"EC\",\"x\":\"" + json::string_or(j, "x") +
            "\",\"y\":\"" + json::string_or(j, "y") + "\"}";
  else
    return {};
  return sha256_b64(canon);
}

Result<Key> key_from_pk(std::shared_ptr<void> pk) {
  mbedtls_pk_context* c = pkc(pk);
  Key k;
  json::Object jwk;
  mbedtls_pk_type_t t = mbedtls_pk_get_type(c);
  if (t == MBEDTLS_PK_RSA) {
    mbedtls_rsa_context* rsa = mbedtls_pk_rsa(*c);
    k.type = KeyType::rsa;
    k.bits = int(mbedtls_pk_get_bitlen(c));
    if (k.bits < kMinRsaBits)
      return Status(Err::invalid, "RSA key is " + std::to_string(k.bits) + " bits; at least " +
                                      std::to_string(kMinRsaBits) + " are required");
    mbedtls_mpi N, E;
    mbedtls_mpi_init(&N);
    mbedtls_mpi_init(&E);
    int rc = mbedtls_rsa_export(rsa, &N, nullptr, nullptr, nullptr, &E);
    jwk["kty"] = json::Value("RSA");
    jwk["n"] = json::Value(mpi_b64(N));
    jwk["e"] = json::Value(mpi_b64(E));
    mbedtls_mpi_free(&N);
    mbedtls_mpi_free(&E);
    if (rc != 0) return Status(Err::internal, "RSA export failed");
  } else if (t == MBEDTLS_PK_ECKEY || t == MBEDTLS_PK_ECDSA) {
    mbedtls_ecp_keypair* ec = mbedtls_pk_ec(*c);
    const Curve* cv = curve_by_id(ec->grp.id);
    if (!cv) return bad("EC curve is not supported (P-256, P-384, P-521)");
    if (mbedtls_ecp_check_pubkey(&ec->grp, &ec->Q) != 0) return bad("EC point is not on the curve");
    k.type = cv->type;
    k.bits = cv->bits;
    jwk["kty"] = json::Value("EC");
    jwk["crv"] = json::Value(cv->crv);
    jwk["x"] = json::Value(mpi_b64(ec->Q.X, cv->bytes));
    jwk["y"] = json::Value(mpi_b64(ec->Q.Y, cv->bytes));
  } else {
    return bad("key type is not supported (RSA or EC P-256/P-384/P-521)");
  }
  json::Value v(jwk);
  k.thumbprint = jwk_thumbprint(v);
  k.jwk_json = json::write(v);
  k.pk = std::move(pk);
  return k;
}

Result<Key> key_from_jwk(const json::Value& jwk, const JwkOptions& opt) {
  if (!json::is_object(jwk)) return bad("JWK is not a JSON object");
  const std::string* kty = json::get_string(jwk, "kty");
  if (!kty) return bad("missing or non-string 'kty'");
  Status cs = check_common(jwk);
  if (!cs.ok()) return cs;
  std::string kid = json::string_or(jwk, "kid");
  std::string alg = json::string_or(jwk, "alg");
  Key k;
  if (*kty == "oct") {
    if (!opt.allow_symmetric) return bad("symmetric ('oct') keys are not accepted here");
    auto s = b64_member(jwk, "k");
    if (!s.ok()) return s.status();
    k = make_hmac_key(std::move(*s), kid);
  } else {
    Result<std::shared_ptr<void>> pk = *kty == "RSA"  ? pk_from_rsa_jwk(jwk)
                                       : *kty == "EC" ? pk_from_ec_jwk(jwk)
                                                      : Result<std::shared_ptr<void>>(bad("'kty' '" + *kty + "' is not supported"));
    if (!pk.ok()) return pk.status();
    auto built = key_from_pk(std::move(*pk));
    if (!built.ok()) return built.status();
    k = std::move(*built);
    Status xs = check_x5c(jwk, k);
    if (!xs.ok()) return xs;
  }
  if (!alg.empty() && !contains(algorithms_for(k.type), alg))
    return bad("'alg' '" + alg + "' cannot be used with a " + key_type_name(k.type) + " key");
  k.kid = kid;
  k.alg = alg;
  if (!k.jwk_json.empty()) {
    auto v = json::parse(k.jwk_json);
    json::Object o = v.ok() && json::as_object(*v) ? *json::as_object(*v) : json::Object();
    if (!kid.empty()) o["kid"] = json::Value(kid);
    if (!alg.empty()) o["alg"] = json::Value(alg);
    o["use"] = json::Value("sig");
    k.jwk_json = json::write(json::Value(o));
  }
  return k;
}

Result<Key> key_from_jwk_text(std::string_view text, const JwkOptions& opt) {
  auto v = json::parse(text);
  if (!v.ok()) return bad("JWK is not valid JSON: " + v.status().message);
  return key_from_jwk(*v, opt);
}

Result<KeySet> parse_jwks(std::string_view text, const JwkOptions& opt) {
  auto v = json::parse(text);
  if (!v.ok()) return bad("JWKS is not valid JSON: " + v.status().message);
  const json::Array* keys = json::get_array(*v, "keys");
  if (!json::is_object(*v) || !keys) return bad("JWKS has no 'keys' array");
  KeySet set;
  for (size_t i = 0; i < keys->size(); ++i) {
    const json::Value& j = (*keys)[i];
    if (!opt.allow_symmetric && json::string_or(j, "kty") == "oct") {
      set.skipped.push_back(describe(j, i) + ": symmetric ('oct') keys are refused from a JWKS");
      continue;
    }
    auto k = key_from_jwk(j, opt);
    if (k.ok())
      set.keys.push_back(std::move(*k));
    else
      set.skipped.push_back(describe(j, i) + ": " + k.status().message);
  }
  return set;
}

Result<Key> key_from_der(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  mbedtls_x509_crt crt;
  mbedtls_x509_crt_init(&crt);
  int rc = mbedtls_x509_crt_parse_der(&crt, p, der.size());
  if (rc == 0) {
    // Copy the certificate's public key out through its DER encoding.
    unsigned char buf[4096];
    int n = mbedtls_pk_write_pubkey_der(&crt.pk, buf, sizeof buf);
    mbedtls_x509_crt_free(&crt);
    if (n <= 0) return bad("certificate public key cannot be read");
    return key_from_der(std::string_view(reinterpret_cast<char*>(buf + sizeof buf - n), size_t(n)));
  }
  mbedtls_x509_crt_free(&crt);
  auto pk = new_pk();
  if (mbedtls_pk_parse_public_key(pkc(pk), p, der.size()) != 0)
    return bad("not a DER X.509 certificate or public key");
  return key_from_pk(std::move(pk));
}

Result<Key> key_from_pem(std::string_view pem) {
  std::string text(pem);  // mbedTLS wants the terminating NUL counted for PEM
  if (text.find("PRIVATE KEY-----") != std::string::npos)
    return bad("this is a private key; configure the public key or certificate instead");
  const auto* p = reinterpret_cast<const unsigned char*>(text.c_str());
  if (text.find("-----BEGIN CERTIFICATE-----") != std::string::npos) {
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    int rc = mbedtls_x509_crt_parse(&crt, p, text.size() + 1);
    if (rc < 0) {  // rc > 0 = some certificates of a bundle failed; the first one is what we pin
      mbedtls_x509_crt_free(&crt);
      return bad("PEM certificate cannot be parsed");
    }
    std::string der(reinterpret_cast<const char*>(crt.raw.p), crt.raw.len);
    mbedtls_x509_crt_free(&crt);
    return key_from_der(der);
  }
  if (text.find("PUBLIC KEY-----") == std::string::npos) return bad("no PEM public key or certificate found");
  auto pk = new_pk();
  if (mbedtls_pk_parse_public_key(pkc(pk), p, text.size() + 1) != 0) return bad("PEM public key cannot be parsed");
  return key_from_pk(std::move(pk));
}

Key make_hmac_key(std::string secret, std::string kid) {
  Key k;
  k.type = KeyType::hmac;
  k.bits = int(secret.size() * 8);
  k.kid = std::move(kid);
  k.source = KeySource::config_secret;
  k.secret = std::move(secret);
  return k;
}

Result<KeySet> load_key_file(const std::string& path, const JwkOptions& opt) {
  auto data = read_file(path);
  if (!data.ok()) return data.status();
  const std::string& d = *data;
  auto with_path = [&](const Status& s) { return Status(s.code, "key file '" + path + "': " + s.message); };
  KeySet set;
  size_t first = d.find_first_not_of(" \t\r\n");
  if (d.find("-----BEGIN ") != std::string::npos) {
    auto k = key_from_pem(d);
    if (!k.ok()) return with_path(k.status());
    set.keys.push_back(std::move(*k));
  } else if (first != std::string::npos && d[first] == '{') {
    auto v = json::parse(d);
    if (!v.ok()) return with_path(bad("not valid JSON: " + v.status().message));
    if (json::get(*v, "keys")) {
      auto s = parse_jwks(d, opt);
      if (!s.ok()) return with_path(s.status());
      if (s->keys.empty()) return with_path(bad("JWKS contains no usable key"));
      return std::move(*s);
    }
    auto k = key_from_jwk(*v, opt);
    if (!k.ok()) return with_path(k.status());
    set.keys.push_back(std::move(*k));
  } else {
    auto k = key_from_der(d);
    if (!k.ok()) return with_path(bad("not a PEM, DER, JWK or JWKS key"));
    set.keys.push_back(std::move(*k));
  }
  return set;
}

}  // namespace ef::auth

// auth/validator.cpp — the validation pipeline and verified-token cache (see validator.h).
#include "auth/validator.h"

#include <algorithm>

#include <mbedtls/sha256.h>

#include <mutex>

#include "auth/claims.h"
#include "auth/jwt.h"
#include "auth/verify.h"

namespace ef::auth {
namespace {

// SHA-256 of the token: the cache key.  A keep-alive connection is served by one thread and
// sends the same token again and again, so each thread remembers its last token and digest
// (a byte compare instead of ~1.5 us of SHA-256 per request on this path).
std::string digest(std::string_view token) {
  thread_local std::string last_token, last_digest;
  if (!last_digest.empty() && token == last_token) return last_digest;
  unsigned char h[32];
  mbedtls_sha256_ret(reinterpret_cast<const unsigned char*>(token.data()), token.size(), h, 0);
  last_token.assign(token);
  last_digest.assign(reinterpret_cast<char*>(h), 32);
  return last_digest;
}

std::vector<std::string> string_list(const json::Value& claims, const std::string& name, bool split_spaces) {
  std::vector<std::string> out;
  const json::Value* v = json::get(claims, name);
  if (!v) return out;
  if (const std::string* s = json::as_string(*v)) {
    if (!split_spaces) {
      out.push_back(*s);
      return out;
    }
    size_t i = 0;
    while (i < s->size()) {
      size_t j = s->find(' ', i);
      if (j == std::string::npos) j = s->size();
      if (j > i) out.push_back(s->substr(i, j - i));
      i = j + 1;
    }
  } else if (const json::Array* a = json::as_array(*v)) {
    for (const auto& e : *a)
      if (const std::string* s = json::as_string(e)) out.push_back(*s);
  }
  return out;
}

PrincipalPtr make_principal(const AuthConfig& cfg, const json::Value& claims, int64_t exp) {
  auto p = std::make_shared<Principal>();
  p->authenticated = true;
  p->issuer = json::string_or(claims, "iss");
  p->subject = json::string_or(claims, "sub");
  p->object_id = json::string_or(claims, "oid");
  p->tenant_id = json::string_or(claims, "tid");
  for (const char* c : {"azp", "appid", "client_id"})
    if (p->client_id.empty()) p->client_id = json::string_or(claims, c);
  p->roles = string_list(claims, cfg.roles_claim, false);
  // Both scope claims are read (Entra puts delegated scopes in `scp`, RFC 9068 servers in
  // `scope`; a token may carry both): ignoring one could hide a restriction it states.
  for (const char* name : {"scp", "scope"}) {
    const json::Value* v = json::get(claims, name);
    if (!v) continue;
    bool ok = json::as_string(*v) != nullptr;
    if (const json::Array* a = json::as_array(*v)) {
      ok = true;
      for (const auto& e : *a) ok = ok && json::as_string(e) != nullptr;
    }
    if (!ok && p->claim_problem.empty())
      p->claim_problem = std::string("the '") + name + "' claim is neither a string nor an array of strings";
    for (auto& sc : string_list(claims, name, true))
      if (std::find(p->scopes.begin(), p->scopes.end(), sc) == p->scopes.end()) p->scopes.push_back(std::move(sc));
  }
  p->patient = json::string_or(claims, "patient");
  p->fhir_user = json::string_or(claims, "fhirUser");
  p->expires_at = exp;
  p->claims = claims;
  return p;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = char(x + 32);
    if (y >= 'A' && y <= 'Z') y = char(y + 32);
    if (x != y) return false;
  }
  return true;
}

}  // namespace

Validator::Validator(const AuthConfig& cfg, const KeyProvider& keys, const Clock& clock, size_t cache_capacity)
    : cfg_(cfg), keys_(keys), clock_(clock), capacity_(cache_capacity) {
  cache_generation_ = keys_.generation();
}

size_t Validator::cache_size() const {
  std::shared_lock lk(mu_);
  return cache_.size();
}

AuthOutcome Validator::validate_header(std::string_view v) const {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  AuthOutcome o;
  if (v.empty()) {
    o.status = AuthStatus::missing_token;
    o.reason = "no bearer token: send 'Authorization: Bearer <access token>'";
    o.checks.push_back({"token present", false, o.reason});
    return o;
  }
  size_t sp = v.find(' ');
  std::string_view scheme = v.substr(0, sp);
  std::string_view rest = sp == std::string_view::npos ? std::string_view() : v.substr(sp + 1);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  if (!iequals(scheme, "Bearer")) {
    o.status = AuthStatus::bad_scheme;
    // A header without a space may be a bare (opaque or JWT) token: never echo it.
    if (sp == std::string_view::npos || scheme.find('.') != std::string_view::npos)
      o.reason = "the Authorization header has no 'Bearer' scheme; use 'Bearer <access token>'";
    else
      o.reason = "authorization scheme '" + safe_text(scheme, 20) + "' is not supported; use 'Bearer <access token>'";
  } else if (rest.empty()) {
    o.status = AuthStatus::missing_token;
    o.reason = "'Bearer' is not followed by a token";
  } else if (rest.find_first_of(" \t") != std::string_view::npos) {
    o.status = AuthStatus::bad_scheme;
    o.reason = "the Authorization header has extra parts after the bearer token";
  } else {
    return validate_token(rest);
  }
  o.checks.push_back({"token present", false, o.reason});
  return o;
}

AuthOutcome Validator::validate_token(std::string_view jwt) const {
  if (jwt.empty() || jwt.size() > kMaxTokenBytes) return validate_uncached(jwt);
  uint64_t gen = keys_.generation();
  if (gen != cache_generation_.load()) {
    std::unique_lock lk(mu_);
    if (gen != cache_generation_.load()) {
      cache_.clear();
      cache_generation_ = gen;
    }
  }
  std::string d = digest(jwt);
  PrincipalPtr hit;
  bool in_window = false;
  const int64_t now = clock_.now_s();
  {
    std::shared_lock lk(mu_);
    auto it = cache_.find(d);
    if (it != cache_.end() && it->second.generation == gen) {
      hit = it->second.principal;
      in_window = now >= it->second.verified_at && now <= it->second.exp + cfg_.clock_skew_seconds;
    }
  }
  if (hit) {
    AuthOutcome o;
    o.from_cache = true;
    // Inside [verified_at, exp + skew] every time check still holds (no claim parsing on
    // the hot path); outside it (expired, or the clock went back) the full check gives the reason.
    o.status = in_window ? AuthStatus::ok : check_times(hit->claims, now, cfg_.clock_skew_seconds, &o.reason);
    o.checks.push_back({"lifetime", o.ok(), o.ok() ? "verified earlier (cached); still within exp/nbf" : o.reason});
    if (o.ok()) {
      o.principal = hit;
    } else {
      std::unique_lock lk(mu_);
      cache_.erase(d);
    }
    return o;
  }
  AuthOutcome o = validate_uncached(jwt);
  if (o.ok()) remember(d, o.principal, gen);
  return o;
}

void Validator::remember(const std::string& d, const PrincipalPtr& p, uint64_t gen) const {
  if (capacity_ == 0) return;
  std::unique_lock lk(mu_);
  if (cache_.size() >= capacity_) {
    int64_t now = clock_.now_s();
    for (auto it = cache_.begin(); it != cache_.end();)
      it = it->second.exp + cfg_.clock_skew_seconds < now ? cache_.erase(it) : std::next(it);
    // Still full: drop an arbitrary eighth (cheap, keeps the bound; entries are re-verifiable).
    size_t drop = cache_.size() >= capacity_ ? std::max<size_t>(1, capacity_ / 8) : 0;
    for (auto it = cache_.begin(); drop > 0 && it != cache_.end(); --drop) it = cache_.erase(it);
  }
  if (gen != cache_generation_.load()) return;  // keys changed while we verified
  cache_[d] = Entry{p, p->expires_at, clock_.now_s(), gen};
}

AuthOutcome Validator::validate_uncached(std::string_view token) const {
  AuthOutcome o;
  auto pass = [&](const char* name, std::string detail) { o.checks.push_back({name, true, std::move(detail)}); };
  auto failed = [&](const char* name, AuthStatus s, std::string reason) {
    o.status = s;
    o.reason = std::move(reason);
    o.checks.push_back({name, false, o.reason});
    return o;
  };
  if (token.empty()) return failed("token present", AuthStatus::missing_token, "no bearer token");
  pass("token present", std::to_string(token.size()) + " bytes");

  Jwt jwt;
  std::string reason;
  AuthStatus st = parse_jwt(token, &jwt, &reason);
  if (st != AuthStatus::ok) return failed("parse", st, reason);
  pass("parse", "compact JWS, header and payload are JSON objects");

  const IssuerConfig* ic = match_issuer(cfg_, jwt.claims, &st, &reason);
  if (!ic) return failed("issuer", st, reason);
  pass("issuer", "'" + safe_text(json::string_or(jwt.claims, "iss")) + "' is trusted" +
                     (ic->issuer != json::string_or(jwt.claims, "iss") ? " (matches '" + ic->issuer + "')" : ""));

  if (!is_supported_alg(jwt.alg)) return failed("algorithm", AuthStatus::unsupported_alg, unsupported_alg_reason(jwt.alg));
  bool allowed = false;
  for (const auto& a : ic->algorithms) allowed = allowed || a == jwt.alg;
  if (!allowed) {
    std::string l;
    for (const auto& a : ic->algorithms) l += (l.empty() ? "" : ", ") + a;
    return failed("algorithm", AuthStatus::alg_not_allowed,
                  "alg " + safe_text(jwt.alg, 40) + " is not allowed for issuer '" + ic->issuer + "' (allowed: " + l + ")");
  }
  pass("algorithm", jwt.alg + " is allowed");

  std::vector<KeyPtr> keys = keys_.find(ic->issuer, jwt.kid);
  if (keys.empty()) {
    // The provider may fetch the issuer's keys now (rotation) and wait briefly for them.
    uint64_t before = keys_.generation();
    keys_.unknown_kid(ic->issuer, jwt.kid);
    if (keys_.generation() != before) keys = keys_.find(ic->issuer, jwt.kid);
  }
  if (keys.empty()) {
    return failed("key", AuthStatus::no_key,
                  jwt.kid.empty() ? "no key for issuer '" + ic->issuer + "' (token has no kid)"
                                  : "no key with kid '" + safe_text(jwt.kid) + "' for issuer '" + ic->issuer + "'");
  }
  std::vector<KeyPtr> fitting;
  AuthStatus fit_status = AuthStatus::ok;
  std::string fit_reason;
  for (const auto& k : keys) {
    std::string r;
    AuthStatus f = check_alg_fits_key(*k, jwt.alg, &r);
    if (f == AuthStatus::ok) fitting.push_back(k);
    else if (fit_status == AuthStatus::ok || f == AuthStatus::key_too_weak) fit_status = f, fit_reason = r;
  }
  if (fitting.empty()) return failed("key", fit_status, fit_reason);
  pass("key", std::to_string(fitting.size()) + " candidate key(s)" + (jwt.kid.empty() ? "" : " for kid '" + safe_text(jwt.kid) + "'"));

  const Key* used = nullptr;
  std::string sig_reason;
  for (const auto& k : fitting) {
    ++verifications_;
    std::string r;
    AuthStatus v = verify_jws(jwt, *k, &r);
    if (v == AuthStatus::ok) {
      used = k.get();
      break;
    }
    if (v == AuthStatus::internal_error) return failed("signature", v, r);
    sig_reason = r;
  }
  if (!used) {
    if (fitting.size() > 1) sig_reason += " (tried " + std::to_string(fitting.size()) + " keys)";
    return failed("signature", AuthStatus::bad_signature, "signature is invalid: " + sig_reason);
  }
  std::string used_name = std::string(key_type_name(used->type)) + " key" +
                          (used->kid.empty() ? "" : " '" + safe_text(used->kid) + "'") +
                          (used->thumbprint.empty() ? "" : " (thumbprint " + used->thumbprint + ")");
  pass("signature", "verified with " + used_name);

  st = check_typ(*ic, jwt.has_typ, jwt.typ, &reason);
  if (st != AuthStatus::ok) return failed("typ", st, reason);
  pass("typ", jwt.has_typ ? "'" + safe_text(jwt.typ, 40) + "' is accepted" : "no typ (accepted: token_types not set explicitly)");

  int64_t now = clock_.now_s(), exp = 0;
  st = check_times(jwt.claims, now, cfg_.clock_skew_seconds, &reason, &exp);
  if (st != AuthStatus::ok) return failed("lifetime", st, reason);
  pass("lifetime", "expires at " + iso_time(exp) + ", " + relative_time(exp, now));

  st = check_audience(jwt.claims, cfg_.audiences, &reason);
  if (st != AuthStatus::ok) return failed("audience", st, reason);
  pass("audience", "matches a configured audience");

  o.status = AuthStatus::ok;
  o.principal = make_principal(cfg_, jwt.claims, exp);
  return o;
}

}  // namespace ef::auth

// auth/claims.cpp — issuer, typ, time and audience checks (see claims.h).
#include "auth/claims.h"

#include <cmath>

#include "util/time.h"

namespace ef::auth {
namespace {

AuthStatus fail(AuthStatus s, std::string* reason, std::string msg) {
  if (reason) *reason = std::move(msg);
  return s;
}

std::string lower(std::string_view s) {
  std::string o(s);
  for (char& c : o)
    if (c >= 'A' && c <= 'Z') c = char(c + 32);
  return o;
}

std::string list(const std::vector<std::string>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size() && i < 10; ++i) s += (i ? ", '" : "'") + safe_text(v[i]) + "'";
  if (v.size() > 10) s += ", ...";
  return s + "]";
}

// NumericDate: a JSON number (integer or fraction, RFC 7519 §2).  Returns false when the
// claim is present with another type; *present tells whether it exists.
bool numeric_date(const json::Value& claims, const char* name, int64_t* out, bool* present) {
  const json::Value* v = json::get(claims, name);
  *present = v != nullptr;
  if (!v) return true;
  double d;
  if (!json::is_number(*v) || !json::number_value(*v, &d) || !std::isfinite(d) || d < -1e15 || d > 1e15) return false;
  *out = int64_t(std::floor(d));
  return true;
}

// A tenant id fills "{tenantid}": no '/', no whitespace, not empty.
bool safe_tenant(const std::string& t) {
  if (t.empty() || t.size() > 128) return false;
  for (char c : t)
    if (c == '/' || c == '?' || c == '#' || c <= ' ' || c == 0x7f) return false;
  return true;
}

}  // namespace

std::string iso_time(int64_t s) {
  std::string t = timefmt::format_instant(s * 1000);  // "...:00.000Z"
  return t.size() > 5 ? t.substr(0, t.size() - 5) + "Z" : t;
}

std::string relative_time(int64_t t, int64_t now) {
  if (t == now) return "now";
  std::string d = timefmt::human_duration(t - now);
  return t > now ? "in " + d : d + " ago";
}

const IssuerConfig* match_issuer(const AuthConfig& cfg, const json::Value& claims, AuthStatus* status, std::string* reason) {
  const json::Value* iv = json::get(claims, "iss");
  const std::string* iss = iv ? json::as_string(*iv) : nullptr;
  if (!iss) {
    *status = fail(iv ? AuthStatus::bad_claim : AuthStatus::missing_issuer, reason,
                   iv ? "claim 'iss' is not a string" : "token has no 'iss' claim");
    return nullptr;
  }
  std::string tid = json::string_or(claims, "tid");
  for (const auto& ic : cfg.issuers) {
    if (ic.issuer == *iss) return &ic;
    if (ic.has_tenant_template() && safe_tenant(tid)) {
      std::string expect = ic.issuer;
      expect.replace(expect.find("{tenantid}"), 10, tid);
      if (expect == *iss) return &ic;
    }
  }
  std::vector<std::string> names;
  for (const auto& ic : cfg.issuers) names.push_back(ic.issuer);
  *status = fail(AuthStatus::unknown_issuer, reason,
                 "issuer '" + safe_text(*iss) + "' is not trusted; trusted issuers are " + list(names) +
                     (tid.empty() ? "" : " (token tid '" + safe_text(tid) + "')"));
  return nullptr;
}

bool typ_equal(std::string_view a, std::string_view b) {
  std::string x = lower(a), y = lower(b);
  const std::string p = "application/";
  if (x.rfind(p, 0) == 0 && x.find('/', p.size()) == std::string::npos) x = x.substr(p.size());
  if (y.rfind(p, 0) == 0 && y.find('/', p.size()) == std::string::npos) y = y.substr(p.size());
  return x == y;
}

AuthStatus check_typ(const IssuerConfig& ic, bool has_typ, const std::string& typ, std::string* reason) {
  if (!has_typ) {
    if (!ic.token_types_explicit) return AuthStatus::ok;
    return fail(AuthStatus::typ_not_allowed, reason, "token has no 'typ' header; issuer requires one of " + list(ic.token_types));
  }
  for (const auto& t : ic.token_types)
    if (typ_equal(t, typ)) return AuthStatus::ok;
  return fail(AuthStatus::typ_not_allowed, reason, "token typ '" + safe_text(typ, 40) + "' is not one of " + list(ic.token_types));
}

AuthStatus check_times(const json::Value& claims, int64_t now, int64_t skew, std::string* reason, int64_t* exp_out) {
  int64_t exp = 0, nbf = 0, iat = 0;
  bool has_exp, has_nbf, has_iat;
  if (!numeric_date(claims, "exp", &exp, &has_exp)) return fail(AuthStatus::bad_claim, reason, "claim 'exp' is not a number");
  if (!numeric_date(claims, "nbf", &nbf, &has_nbf)) return fail(AuthStatus::bad_claim, reason, "claim 'nbf' is not a number");
  if (!numeric_date(claims, "iat", &iat, &has_iat)) return fail(AuthStatus::bad_claim, reason, "claim 'iat' is not a number");
  if (!has_exp) return fail(AuthStatus::missing_exp, reason, "token has no 'exp' claim; access tokens must expire");
  if (exp_out) *exp_out = exp;
  if (now > exp + skew)
    return fail(AuthStatus::expired, reason, "token expired at " + iso_time(exp) + ", " + relative_time(exp, now));
  if (has_nbf && now < nbf - skew)
    return fail(AuthStatus::not_yet_valid, reason,
                "token is not valid before " + iso_time(nbf) + ", " + relative_time(nbf, now) + " (clock skew allowed: " +
                    std::to_string(skew) + "s)");
  if (has_iat && iat > now + skew)
    return fail(AuthStatus::issued_in_future, reason,
                "token was issued in the future at " + iso_time(iat) + ", " + relative_time(iat, now) +
                    " (check the clocks; skew allowed: " + std::to_string(skew) + "s)");
  return AuthStatus::ok;
}

AuthStatus check_audience(const json::Value& claims, const std::vector<std::string>& audiences, std::string* reason) {
  const json::Value* av = json::get(claims, "aud");
  if (!av) return fail(AuthStatus::audience_mismatch, reason, "token has no 'aud' claim; expected one of " + list(audiences));
  std::vector<std::string> got;
  if (const std::string* s = json::as_string(*av)) {
    got.push_back(*s);
  } else if (const json::Array* a = json::as_array(*av)) {
    for (const auto& e : *a) {
      const std::string* s = json::as_string(e);
      if (!s) return fail(AuthStatus::bad_claim, reason, "claim 'aud' contains a non-string");
      got.push_back(*s);
    }
  } else {
    return fail(AuthStatus::bad_claim, reason, "claim 'aud' is not a string or an array of strings");
  }
  for (const auto& g : got)
    for (const auto& a : audiences)
      if (g == a) return AuthStatus::ok;
  std::string shown = got.size() == 1 ? "'" + safe_text(got[0]) + "' is" : list(got) + " are";
  if (got.empty()) shown = "[] is";
  return fail(AuthStatus::audience_mismatch, reason, "audience " + shown + " not one of " + list(audiences));
}

}  // namespace ef::auth

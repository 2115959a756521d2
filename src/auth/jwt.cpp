// auth/jwt.cpp — compact JWS/JWT parsing (see jwt.h).  Pipeline: size cap, split into
// exactly three parts, decode each part strictly, parse the header object and check the
// types of the members we use, honour "crit", then (JWT only) parse the payload object.
#include "auth/jwt.h"

#include "util/base64url.h"

namespace ef::auth {
namespace {

AuthStatus fail(AuthStatus s, std::string* reason, std::string msg) {
  if (reason) *reason = std::move(msg);
  return s;
}

// Member `name` of the header must be a string when present.
bool string_member(const json::Value& h, const char* name, std::string* out, bool* present) {
  const json::Value* v = json::get(h, name);
  if (present) *present = v != nullptr;
  if (!v) return true;
  const std::string* s = json::as_string(*v);
  if (!s) return false;
  *out = *s;
  return true;
}

}  // namespace

AuthStatus parse_jws(std::string_view token, Jws* out, std::string* reason) {
  if (token.size() > kMaxTokenBytes)
    return fail(AuthStatus::too_large, reason,
                "token is " + std::to_string(token.size()) + " bytes, more than the limit of " +
                    std::to_string(kMaxTokenBytes));
  size_t d1 = token.find('.');
  size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d1 == std::string_view::npos || d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    size_t parts = 1;
    for (char c : token) parts += c == '.';
    return fail(AuthStatus::malformed, reason,
                "token is not a compact JWS: expected 3 dot-separated parts, found " + std::to_string(parts) +
                    (parts == 5 ? " (an encrypted JWE is not accepted as an access token)" : ""));
  }
  std::string_view h64 = token.substr(0, d1), p64 = token.substr(d1 + 1, d2 - d1 - 1), s64 = token.substr(d2 + 1);
  if (h64.empty()) return fail(AuthStatus::malformed, reason, "token header part is empty");
  if (s64.empty()) return fail(AuthStatus::malformed, reason, "token signature part is empty (unsigned token)");
  auto h = b64::url_decode(h64);
  if (!h) return fail(AuthStatus::bad_base64, reason, "token header is not valid base64url");
  auto p = b64::url_decode(p64);
  if (!p) return fail(AuthStatus::bad_base64, reason, "token payload is not valid base64url");
  auto s = b64::url_decode(s64);
  if (!s) return fail(AuthStatus::bad_base64, reason, "token signature is not valid base64url");

  auto hv = json::parse(*h);
  if (!hv.ok()) return fail(AuthStatus::bad_json, reason, "token header is not valid JSON: " + hv.status().message);
  if (!json::is_object(*hv)) return fail(AuthStatus::bad_json, reason, "token header is not a JSON object");
  Jws j;
  j.header = std::move(*hv);
  bool has_alg = false;
  if (!string_member(j.header, "alg", &j.alg, &has_alg))
    return fail(AuthStatus::bad_header, reason, "header 'alg' is not a string");
  if (!has_alg) return fail(AuthStatus::bad_header, reason, "header has no 'alg'");
  if (!string_member(j.header, "kid", &j.kid, nullptr))
    return fail(AuthStatus::bad_header, reason, "header 'kid' is not a string");
  if (!string_member(j.header, "typ", &j.typ, &j.has_typ))
    return fail(AuthStatus::bad_header, reason, "header 'typ' is not a string");

  if (const json::Value* crit = json::get(j.header, "crit")) {
    const json::Array* a = json::as_array(*crit);
    if (!a || a->empty()) return fail(AuthStatus::bad_header, reason, "header 'crit' must be a non-empty array of names");
    std::string names;
    for (const auto& n : *a) {
      const std::string* sn = json::as_string(n);
      if (!sn) return fail(AuthStatus::bad_header, reason, "header 'crit' must contain only strings");
      names += (names.empty() ? "'" : ", '") + safe_text(*sn, 40) + "'";
    }
    return fail(AuthStatus::crit_unsupported, reason, "header 'crit' lists extensions this server does not understand: " + names);
  }
  if (const json::Value* b64 = json::get(j.header, "b64")) {
    if (!(json::is_bool(*b64) && b64->get<bool>()))
      return fail(AuthStatus::crit_unsupported, reason, "unencoded payload ('b64') is not supported");
  }
  j.payload = std::move(*p);
  j.signature = std::move(*s);
  j.signing_input = std::string(token.substr(0, d2));
  *out = std::move(j);
  return AuthStatus::ok;
}

AuthStatus parse_jwt(std::string_view token, Jwt* out, std::string* reason) {
  Jws jws;
  AuthStatus st = parse_jws(token, &jws, reason);
  if (st != AuthStatus::ok) return st;
  auto pv = json::parse(jws.payload);
  if (!pv.ok()) return fail(AuthStatus::bad_json, reason, "token payload is not valid JSON: " + pv.status().message);
  if (!json::is_object(*pv)) return fail(AuthStatus::bad_json, reason, "token payload is not a JSON object");
  static_cast<Jws&>(*out) = std::move(jws);
  out->claims = std::move(*pv);
  return AuthStatus::ok;
}

}  // namespace ef::auth

// auth/auth_status.cpp — names for AuthStatus values (see auth_status.h).
#include "auth/auth_status.h"

namespace ef::auth {

const char* auth_status_code(AuthStatus s) {
  switch (s) {
    case AuthStatus::ok: return "ok";
    case AuthStatus::missing_token: return "missing_token";
    case AuthStatus::bad_scheme: return "bad_scheme";
    case AuthStatus::too_large: return "too_large";
    case AuthStatus::malformed: return "malformed";
    case AuthStatus::bad_base64: return "bad_base64";
    case AuthStatus::bad_json: return "bad_json";
    case AuthStatus::bad_header: return "bad_header";
    case AuthStatus::crit_unsupported: return "crit_unsupported";
    case AuthStatus::unsupported_alg: return "unsupported_alg";
    case AuthStatus::missing_issuer: return "missing_issuer";
    case AuthStatus::unknown_issuer: return "unknown_issuer";
    case AuthStatus::alg_not_allowed: return "alg_not_allowed";
    case AuthStatus::no_key: return "no_key";
    case AuthStatus::alg_key_mismatch: return "alg_key_mismatch";
    case AuthStatus::key_too_weak: return "key_too_weak";
    case AuthStatus::bad_signature: return "bad_signature";
    case AuthStatus::typ_not_allowed: return "typ_not_allowed";
    case AuthStatus::bad_claim: return "bad_claim";
    case AuthStatus::missing_exp: return "missing_exp";
    case AuthStatus::expired: return "expired";
    case AuthStatus::not_yet_valid: return "not_yet_valid";
    case AuthStatus::issued_in_future: return "issued_in_future";
    case AuthStatus::audience_mismatch: return "audience_mismatch";
    case AuthStatus::internal_error: return "internal_error";
  }
  return "unknown";
}

std::string safe_text(std::string_view s, size_t max) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    out.push_back(c < 0x20 || c == 0x7f ? '?' : char(c));
  }
  if (s.size() > max) out += "...";
  return out;
}

}  // namespace ef::auth

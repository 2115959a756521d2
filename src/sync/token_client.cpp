// sync/token_client.cpp — see token_client.h.
#include "sync/token_client.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <random>
#include <sstream>

#include "auth/signer.h"
#include "util/base64url.h"
#include "util/json.h"

namespace ef::sync {

int64_t renew_at(int64_t now_ms, int64_t lifetime_s) {
  int64_t margin_s = std::min<int64_t>(60, lifetime_s / 10);
  return now_ms + (lifetime_s - margin_s) * 1000;
}

std::string form_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') out.push_back(char(ch));
    else if (ch == ' ') out.push_back('+');
    else {
      out.push_back('%');
      out.push_back(hex[ch >> 4]);
      out.push_back(hex[ch & 15]);
    }
  }
  return out;
}

namespace {

Result<std::string> read_secret_file(const std::string& path, const char* key) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status(Err::invalid, std::string("sync.") + key + " '" + path + "' cannot be read");
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  if (s.empty()) return Status(Err::invalid, std::string("sync.") + key + " '" + path + "' is empty");
  return s;
}

// The payload of a JWT access token (no verification: only to learn exp when the token
// endpoint did not say expires_in).
int64_t jwt_exp(const std::string& tok) {
  size_t a = tok.find('.');
  if (a == std::string::npos) return 0;
  size_t b = tok.find('.', a + 1);
  if (b == std::string::npos) return 0;
  auto payload = b64::url_decode(std::string_view(tok).substr(a + 1, b - a - 1));
  if (!payload) return 0;
  auto v = json::parse(*payload);
  if (!v) return 0;
  const json::Value* exp = json::get(*v, "exp");
  int64_t e = 0;
  if (exp && json::int_value(*exp, &e)) return e;
  return 0;
}

std::string random_id() {
  std::random_device rd;
  std::string bytes;
  for (int i = 0; i < 16; ++i) bytes.push_back(char(rd() & 0xff));
  return b64::url_encode(bytes);
}

// Text safe to show: printable ASCII, bounded.
std::string safe_text(const std::string& s, size_t max = 200) {
  std::string out;
  for (char ch : s) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    out.push_back(static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) > 0x7e ? '?' : ch);
  }
  return out;
}

}  // namespace

TokenClient::TokenClient(const SyncConfig& cfg, const Clock& clock) : cfg_(cfg), clock_(clock) {
  auto ep = parse_endpoint(cfg.token_url);
  if (ep) {
    path_ = ep->base_path.empty() ? "/" : ep->base_path;
    Endpoint origin_only = *ep;
    origin_only.base_path.clear();
    http_ = std::make_unique<HttpClient>(origin_only, cfg.ca_file, cfg.timeout_seconds);
  }
}

TokenClient::~TokenClient() = default;

void TokenClient::abort() {
  if (http_) http_->abort();
}

void TokenClient::invalidate() {
  std::lock_guard<std::mutex> lk(mu_);
  token_.clear();
  info_.has_token = false;
  info_.renew_at_ms = 0;
}

TokenInfo TokenClient::info() const {
  std::lock_guard<std::mutex> lk(mu_);
  return info_;
}

Result<std::string> TokenClient::token() {
  std::lock_guard<std::mutex> single_flight(fetch_mu_);
  int64_t now = clock_.now_ms();
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!token_.empty() && now < info_.renew_at_ms) return token_;
  }
  auto t = fetch(now);
  std::lock_guard<std::mutex> lk(mu_);
  if (!t) {
    info_.last_error = t.status().message;
    // An expired token is useless; one still valid (renewal window) is kept as a fallback.
    if (!token_.empty() && now < info_.expires_at_ms) return token_;
    token_.clear();
    info_.has_token = false;
    return t.status();
  }
  token_ = t->token;
  info_.has_token = true;
  info_.fetched_at_ms = now;
  info_.expires_at_ms = now + t->lifetime_s * 1000;
  info_.renew_at_ms = renew_at(now, t->lifetime_s);
  info_.fetches++;
  info_.last_error.clear();
  return token_;
}

Result<std::string> TokenClient::client_assertion(int64_t now) const {
  auto pem = read_secret_file(cfg_.client_key_file, "client_key_file");
  if (!pem) return pem.status();
  auto signer = auth::Signer::from_pem(*pem);
  if (!signer) return Status(Err::invalid, "sync.client_key_file '" + cfg_.client_key_file + "': " + signer.status().message);
  std::string alg = cfg_.client_key_alg.empty() ? signer->default_alg() : cfg_.client_key_alg;
  json::Object header;
  header["typ"] = json::Value(std::string("JWT"));
  if (!cfg_.client_key_id.empty()) header["kid"] = json::Value(cfg_.client_key_id);
  json::Object claims;
  claims["iss"] = json::Value(cfg_.client_id);
  claims["sub"] = json::Value(cfg_.client_id);
  claims["aud"] = json::Value(cfg_.token_url);
  claims["jti"] = json::Value(random_id());
  claims["iat"] = json::make_number(now / 1000);
  claims["nbf"] = json::make_number(now / 1000 - 5);
  claims["exp"] = json::make_number(now / 1000 + 300);
  auto jwt = signer->mint(alg, json::Value(header), json::Value(claims));
  if (!jwt) return Status(Err::invalid, "sync.client_key_file: cannot sign the client assertion: " + jwt.status().message);
  return *jwt;
}

Result<TokenClient::Fetched> TokenClient::fetch(int64_t now) {
  if (!http_) return Status(Err::invalid, "sync.token_url is not a usable URL");
  std::string form = "grant_type=client_credentials";
  if (!cfg_.scope.empty()) form += "&scope=" + form_encode(cfg_.scope);
  if (!cfg_.resource.empty()) form += "&resource=" + form_encode(cfg_.resource);
  Headers headers = {{"Accept", "application/json"}};
  if (cfg_.client_auth == ClientAuth::private_key_jwt) {
    auto a = client_assertion(now);
    if (!a) return a.status();
    form += "&client_id=" + form_encode(cfg_.client_id);
    form += "&client_assertion_type=" + form_encode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    form += "&client_assertion=" + form_encode(*a);
  } else {
    auto secret = read_secret_file(cfg_.client_secret_file, "client_secret_file");
    if (!secret) return secret.status();
    if (cfg_.client_auth == ClientAuth::secret_basic) {
      headers.push_back(
          {"Authorization", "Basic " + b64::std_encode(form_encode(cfg_.client_id) + ":" + form_encode(*secret))});
    } else {
      form += "&client_id=" + form_encode(cfg_.client_id) + "&client_secret=" + form_encode(*secret);
    }
  }
  HttpResponse r = http_->send("POST", path_, headers, form, "application/x-www-form-urlencoded");
  const std::string where = "token endpoint " + cfg_.token_url;
  if (r.status == 0) return Status(Err::unavailable, where + ": " + r.error);
  auto body = json::parse(r.body);
  if (r.status != 200) {
    std::string detail;
    if (body) {
      std::string e = json::string_or(*body, "error"), d = json::string_or(*body, "error_description");
      if (!e.empty()) detail = ": " + safe_text(e) + (d.empty() ? "" : " (" + safe_text(d) + ")");
    }
    Err code = (r.status == 400 || r.status == 401 || r.status == 403) ? Err::unauthorized : Err::unavailable;
    return Status(code, where + " answered HTTP " + std::to_string(r.status) + detail);
  }
  if (!body || !json::is_object(*body)) return Status(Err::unavailable, where + ": the response is not a JSON object");
  const std::string* tok = json::get_string(*body, "access_token");
  if (!tok || tok->empty()) return Status(Err::unavailable, where + ": the response has no access_token");
  std::string type = json::string_or(*body, "token_type");
  std::string lower = type;
  for (char& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  if (!type.empty() && lower != "bearer")
    return Status(Err::unavailable, where + ": token_type '" + safe_text(type, 40) + "' is not Bearer");
  int64_t lifetime = 0;
  if (const json::Value* ei = json::get(*body, "expires_in")) {
    double d = 0;
    if (json::number_value(*ei, &d)) lifetime = int64_t(d);
    else if (const std::string* s = json::as_string(*ei)) {  // Azure AD v1 sends a string
      try {
        lifetime = std::stoll(*s);
      } catch (...) {
        lifetime = 0;
      }
    }
  }
  if (lifetime <= 0) {
    int64_t exp = jwt_exp(*tok);
    lifetime = exp > 0 ? exp - now / 1000 : 300;
  }
  if (lifetime <= 0) return Status(Err::unavailable, where + ": the token it issued has already expired");
  return Fetched{*tok, lifetime};
}

HttpResponse send_with_token(HttpClient& http, TokenClient* tokens, const std::string& method, const std::string& path,
                             const Headers& headers, Status* err, const std::string& body, size_t max_bytes) {
  for (int attempt = 0;; ++attempt) {
    Headers h = headers;
    if (tokens) {
      auto t = tokens->token();
      if (!t) {
        *err = t.status();
        HttpResponse none;
        none.error = t.status().message;
        return none;
      }
      h.push_back({"Authorization", "Bearer " + *t});
    }
    HttpResponse r = http.send(method, path, h, body, {}, max_bytes);
    if (r.status == 401 && tokens && attempt == 0) {
      tokens->invalidate();  // renew once; a second 401 is the caller's error (backoff)
      continue;
    }
    return r;
  }
}

}  // namespace ef::sync

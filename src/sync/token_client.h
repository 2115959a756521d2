// sync/token_client.h — the edge's own access token for the upstream, obtained with the
// OAuth 2.0 client credentials grant (RFC 6749 §4.4) from sync.token_url.  Client
// authentication: client_secret_basic (RFC 6749 §2.3.1, id and secret form-encoded inside
// HTTP Basic), client_secret_post (in the form body) or private_key_jwt (RFC 7523: a JWT
// assertion signed with the PEM key in client_key_file; auth/signer.h signs).  Parameters
// scope and resource (Azure AD v1 style) are sent when configured.
//
// The token is cached until shortly before it expires (expires_in, or the JWT exp when
// the response has none): renewed when less than min(60 s, a tenth of its lifetime)
// remains.  The secret file is re-read at every renewal, so rotating it needs no restart.
// Neither the secret nor any token is ever put in an error message or log line.
// Thread-safe: renewals are single-flight; info() never waits for the network.
// send_with_token() is the one way push and pull call the upstream with that token.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "sync/sync_config.h"
#include "sync/http.h"
#include "util/clock.h"

namespace ef::sync {

struct TokenInfo {
  bool has_token = false;
  int64_t fetched_at_ms = 0;
  int64_t expires_at_ms = 0;   // as reported by the token endpoint
  int64_t renew_at_ms = 0;     // when the cache stops handing it out
  int64_t fetches = 0;         // successful token requests since start
  std::string last_error;      // of the last failed token request ("" after a success)
};

class TokenClient {
 public:
  TokenClient(const SyncConfig& cfg, const Clock& clock);
  ~TokenClient();
  // A valid access token: the cached one, or a new one from the token endpoint.
  // Errors (Err::unavailable for transport / 5xx, Err::unauthorized when the endpoint
  // refuses the client) describe the cause without secrets.
  Result<std::string> token();
  // Forget the cached token (the upstream answered 401): the next token() fetches anew.
  void invalidate();
  TokenInfo info() const;
  void abort();

 private:
  struct Fetched {
    std::string token;
    int64_t lifetime_s = 0;
  };
  Result<Fetched> fetch(int64_t now);
  Result<std::string> client_assertion(int64_t now) const;
  SyncConfig cfg_;
  const Clock& clock_;
  std::unique_ptr<HttpClient> http_;
  std::string path_;  // token endpoint path
  std::mutex fetch_mu_;   // one token request at a time (held across the network call)
  mutable std::mutex mu_;  // guards token_ and info_ (never held across the network)
  std::string token_;
  TokenInfo info_;
};

// Sends `method path` through `http` with "Authorization: Bearer" from `tokens` added to
// `headers` (no token when `tokens` is null). A 401 renews the token once and sends again; a
// second 401 is returned. When no token can be had, *err is its status and the response has
// no status (its error says why).
HttpResponse send_with_token(HttpClient& http, TokenClient* tokens, const std::string& method, const std::string& path,
                             const Headers& headers, Status* err, const std::string& body = {}, size_t max_bytes = 0);

// For tests and the CLI: renewal instant for a token fetched at `now` living `lifetime_s`.
int64_t renew_at(int64_t now_ms, int64_t lifetime_s);
// application/x-www-form-urlencoded encoding of one value.
std::string form_encode(const std::string& s);

}  // namespace ef::sync

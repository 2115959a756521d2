// http/app.h — everything a request handler can reach: configuration, database, the
// repository, and the auth pieces.  Built once by `serve` (main.cpp) and shared by all
// worker threads; everything in it is thread-safe or read-only after start.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "auth/policy.h"
#include "auth/principal.h"
#include "config.h"
#include "service/repository.h"
#include "service/service.h"
#include "store/db.h"
#include "store/resources.h"
#include "util/clock.h"

namespace ef::store {
class AuditLog;
}
namespace ef::auth {
class KeyStore;
class Validator;
}
namespace ef::sync {
class Pusher;
}

namespace ef::http {

struct CorsConfig;  // http/cors.h

// Result of authenticating one request (filled by the auth middleware's back end).
struct AuthCheck {
  bool ok = false;
  bool missing = false;        // no Authorization header: 401 without error code
  std::string status_code;     // stable reason code for metrics ("token_expired")
  std::string reason;          // operator-readable reason (never the token)
  auth::PrincipalPtr principal;
};

struct App {
  ServerConfig cfg;
  const Clock* clock = &SystemClock::instance();
  std::unique_ptr<store::Database> db;
  std::unique_ptr<store::Resources> resources;
  std::unique_ptr<service::Repository> repo;
  // The interaction layer: every handler reaches resource data through it (service/service.h).
  std::unique_ptr<service::Service> service;
  // Validates the Authorization header value; unset = no authentication configured.
  std::function<AuthCheck(const std::string& authorization)> authenticate;
  std::string base_url;  // without trailing slash
  std::string realm = "edgefhir";
  bool metrics_public = false;  // config metrics.public: GET /metrics without a token
  // Authorization (roles x SMART scopes); used when a principal is authenticated.
  std::unique_ptr<auth::Policy> policy;
  // Audit trail writer (store/audit.h); null = no audit (offline commands).
  std::shared_ptr<store::AuditLog> audit;
  // Owners of the auth pieces behind `authenticate` (type-erased so this header stays light),
  // released last-added first (a refresher stops before the store and config it uses go).
  std::vector<std::shared_ptr<void>> keep_alive;
  // Views of pieces owned by keep_alive, for /metrics and /health (null without auth).
  auth::KeyStore* key_store = nullptr;
  auth::Validator* validator = nullptr;
  // Store-and-forward to an upstream FHIR server (sync/pusher.h); null when not configured.
  std::shared_ptr<sync::Pusher> sync;
  // Config `cors` (http/cors.h); null or disabled = no CORS headers, preflights get 405.
  std::shared_ptr<const CorsConfig> cors;
  // Config `console.enabled` (http/console.h): the web console at /console/.
  bool console_enabled = true;

  App() = default;
  App(const App&) = delete;
  App& operator=(const App&) = delete;
  ~App() {
    while (!keep_alive.empty()) keep_alive.pop_back();
  }
};

}  // namespace ef::http

// http/app.h — everything a request handler can reach: configuration, database, the
// repository, the service, the auth pieces, audit, sync and the export engine.  Built once by
// the server wiring (app/build.h: open_app, then wire_server) and shared by all worker
// threads; everything in it is thread-safe or read-only after start.
//
// Ownership and shutdown order.  App owns every piece; ~App() releases them in this stated
// order (each piece before what it points into):
//   1. exports    the export engine's worker stops (a running job stays queued)
//   2. sync       the puller's and the pusher's threads stop
//   3. audit      the audit writer flushes and stops
//   4. validator, refresher (its threads stop), key store, key cache rows, auth config
//   5. policy, service, repository, resources, and last the database (closed).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "auth/policy.h"
#include "auth/principal.h"
#include "config.h"
#include "service/export_engine.h"
#include "service/repository.h"
#include "service/service.h"
#include "store/db.h"
#include "store/resources.h"
#include "util/clock.h"

namespace ef::store {
class AuditLog;
}
namespace ef::auth {
struct AuthConfig;
class KeyStore;
class Refresher;
class Validator;
}
namespace ef::sync {
class Pusher;
class Puller;
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
  // The auth pieces behind `authenticate` (null without auth; app/build.cpp setup_auth).
  // shared_ptr only so this header needs their declarations, not their definitions.
  std::shared_ptr<const auth::AuthConfig> auth_config;
  std::shared_ptr<void> key_rows;  // store::KeyCache, the key store's persistence
  std::shared_ptr<auth::KeyStore> keys;
  std::shared_ptr<auth::Refresher> refresher;
  std::shared_ptr<auth::Validator> validators;
  // Views of the pieces above, for /metrics and /health (null without auth).
  auth::KeyStore* key_store = nullptr;
  auth::Validator* validator = nullptr;
  // Store-and-forward to an upstream FHIR server (sync/pusher.h); null when not configured.
  std::shared_ptr<sync::Pusher> sync;
  // The pull side (sync/puller.h, config sync.pull); null when nothing is pulled.
  std::shared_ptr<sync::Puller> pull;
  // Config `cors` (http/cors.h); null or disabled = no CORS headers, preflights get 405.
  std::shared_ptr<const CorsConfig> cors;
  // Config `console.enabled` (http/console.h): the web console at /console/.
  bool console_enabled = true;
  // Bulk Data export job engine (service/export_engine.h); null for an in-memory database.
  std::unique_ptr<service::ExportEngine> exports;

  App() = default;
  App(const App&) = delete;
  App& operator=(const App&) = delete;
  ~App() {
    exports.reset();
    pull.reset();
    sync.reset();
    audit.reset();
    authenticate = nullptr;
    validator = nullptr;
    key_store = nullptr;
    validators.reset();
    refresher.reset();
    keys.reset();
    key_rows.reset();
    auth_config.reset();
    policy.reset();
    service.reset();
    repo.reset();
    resources.reset();
    db.reset();
  }
};

}  // namespace ef::http

// cli/auth_setup.cpp — see auth_setup.h.
#include "cli/auth_setup.h"

#include "store/key_cache.h"

#include "auth/config.h"
#include "auth/policy.h"
#include "auth/key_store.h"
#include "auth/refresher.h"
#include "auth/validator.h"

namespace ef::cli {

Status check_auth_config(const ServerConfig& c) {
  if (!c.auth_required()) return Status();
  const std::string where = c.path.empty() ? "no --config given (auth.required defaults to true)" : "config " + c.path;
  auto cfg = auth::parse_auth_config(c.auth);
  if (!cfg) return Status(Err::invalid, where + ": " + cfg.status().message);
  if (cfg->issuers.empty()) return Status(Err::invalid, where + ": auth.required is true but auth.issuers is empty");
  auto policy = auth::Policy::from_config(c.auth);
  if (!policy) return Status(Err::invalid, where + ": " + policy.status().message);
  return Status();
}

Status setup_auth(http::App& app) {
  if (!app.cfg.auth_required()) return Status();
  const std::string where = app.cfg.path.empty() ? "no --config given (auth.required defaults to true)" : "config " + app.cfg.path;
  auto cfg = auth::parse_auth_config(app.cfg.auth);
  if (!cfg) return Status(Err::invalid, where + ": " + cfg.status().message);
  if (cfg->issuers.empty())
    return Status(Err::invalid, where + ": auth.required is true but auth.issuers is empty");
  auto policy = auth::Policy::from_config(app.cfg.auth);
  if (!policy) return Status(Err::invalid, where + ": " + policy.status().message);
  app.policy = std::make_unique<auth::Policy>(std::move(*policy));
  auto acfg = std::make_shared<auth::AuthConfig>(std::move(*cfg));
  // Keys: pins and HMAC secrets from the config, the issuers' keys cached in the database
  // (so a restart works offline), and a refresher following discovery and rotation.
  auto key_rows = std::make_shared<store::KeyCache>(*app.db);
  auto keys = std::make_shared<auth::KeyStore>(*acfg, key_rows.get(), *app.clock);
  Status st = keys->load();
  if (!st) return Status(Err::invalid, where + ": " + st.message);
  auto refresher = std::make_shared<auth::Refresher>(*keys);
  refresher->start();
  auto validator = std::make_shared<auth::Validator>(*acfg, *keys, *app.clock);
  app.key_store = keys.get();
  app.validator = validator.get();
  // Destroyed in reverse: the validator, then the refresher (stops its threads), then the
  // store and the config they point into.
  app.keep_alive.push_back(acfg);
  app.keep_alive.push_back(key_rows);
  app.keep_alive.push_back(keys);
  app.keep_alive.push_back(refresher);
  app.keep_alive.push_back(validator);
  auth::Validator* v = validator.get();
  app.authenticate = [v](const std::string& header) {
    auth::AuthOutcome o = v->validate_header(header);
    http::AuthCheck a;
    a.ok = o.ok();
    a.missing = o.status == auth::AuthStatus::missing_token;
    a.status_code = auth::auth_status_code(o.status);
    a.reason = o.reason;
    a.principal = o.principal;
    return a;
  };
  return Status();
}

}  // namespace ef::cli

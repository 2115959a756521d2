// cli/auth_setup.cpp — see auth_setup.h.
#include "cli/auth_setup.h"

#include "auth/config.h"
#include "auth/policy.h"
#include "auth/static_keys.h"
#include "auth/validator.h"

namespace ef::cli {

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
  auto keys = auth::StaticKeyProvider::from_config(*acfg);
  if (!keys) return Status(Err::invalid, where + ": " + keys.status().message);
  std::shared_ptr<auth::StaticKeyProvider> provider(std::move(*keys));
  auto validator = std::make_shared<auth::Validator>(*acfg, *provider, *app.clock);
  app.keep_alive.push_back(acfg);
  app.keep_alive.push_back(provider);
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

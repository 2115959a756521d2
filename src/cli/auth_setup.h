// cli/auth_setup.h — builds the authentication back end for `serve` from the config's
// `auth` section: key provider (pinned keys now; the persisted key store + refresher when
// configured), the token Validator with its verified-token cache, and App::authenticate.
#pragma once
#include "http/app.h"

namespace ef::cli {

Status setup_auth(http::App& app);
// The checks of setup_auth that need no database (the auth section parses, issuers are
// listed when auth is required, the policy is valid): `serve` runs them before it opens
// (and so creates) the database.
Status check_auth_config(const ServerConfig& cfg);

}  // namespace ef::cli

// cli/keys.cpp — `edgefhir keys ...`: the signing-key cache of the configured issuers
// (cli/keys_cli.h does the work; this file loads the config and opens the database).
#include "auth/config.h"
#include "cli/keys_cli.h"
#include "cli/commands.h"
#include "store/db.h"

namespace ef::cli {

int keys_main(std::vector<std::string> args, std::ostream& out, std::ostream& err) {
  Common common;
  Status st = take_common(args, &common);
  if (!st) { err << "edgefhir keys: " << st.message << "\n"; return 2; }
  if (common.help) args.push_back("--help");
  if (auth::keys_cli_wants_help(args)) return auth::keys_cli_help(args, out, err);
  auto cfg = load(common);
  if (!cfg) { err << "edgefhir: " << cfg.status().message << "\n"; return 2; }
  auto acfg = auth::parse_auth_config(cfg->auth);
  if (!acfg) { err << "edgefhir: config " << cfg->path << ": " << acfg.status().message << "\n"; return 2; }
  auto db = store::Database::open(cfg->database);
  if (!db) { err << "edgefhir: " << db.status().message << "\n"; return 1; }
  return auth::keys_cli(args, *acfg, **db, out, err);
}

}  // namespace ef::cli

// cli/audit.cpp — `edgefhir audit [--since T] [--who X] [--limit N] [--json]`: opens the
// database named by --config/--database and hands over to auth/audit_cli.
#include "auth/audit_cli.h"
#include "cli/commands.h"
#include "store/db.h"

namespace ef::cli {

int audit_main(std::vector<std::string> args, std::ostream& out, std::ostream& err) {
  Common common;
  Status st = take_common(args, &common);
  if (!st) { err << "edgefhir audit: " << st.message << "\n"; return 2; }
  if (common.help) args.push_back("--help");
  auto cfg = load(common);
  if (!cfg) { err << "edgefhir: " << cfg.status().message << "\n"; return 2; }
  auto db = store::Database::open(cfg->database);
  if (!db) { err << "edgefhir: " << db.status().message << "\n"; return 1; }
  return auth::audit_cli(args, **db, out, err);
}

}  // namespace ef::cli

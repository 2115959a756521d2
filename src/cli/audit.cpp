// cli/audit.cpp — `edgefhir audit [--since T] [--who X] [--limit N] [--json]`: opens the
// database named by --config/--database and hands over to auth/audit_cli.
#include <sys/stat.h>

#include <algorithm>

#include "cli/audit_cli.h"
#include "cli/commands.h"
#include "store/db.h"

namespace ef::cli {

int audit_main(std::vector<std::string> args, std::ostream& out, std::ostream& err) {
  Common common;
  Status st = take_common(args, &common);
  if (!st) { err << "edgefhir audit: " << st.message << "\n"; return 2; }
  // --help needs no database (and must not create one).
  if (common.help || std::find(args.begin(), args.end(), "-h") != args.end() ||
      std::find(args.begin(), args.end(), "--help") != args.end()) {
    out << auth::audit_usage();
    return 0;
  }
  auto cfg = load(common);
  if (!cfg) { err << "edgefhir: " << cfg.status().message << "\n"; return 2; }
  struct stat sb;
  if (::stat(cfg->database.c_str(), &sb) != 0) {
    err << "edgefhir audit: no database at '" << cfg->database << "' (give --config FILE or --database PATH)\n";
    return 1;
  }
  auto db = store::Database::open(cfg->database);
  if (!db) { err << "edgefhir: " << db.status().message << "\n"; return 1; }
  return auth::audit_cli(args, **db, out, err);
}

}  // namespace ef::cli

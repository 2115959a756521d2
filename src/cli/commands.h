// cli/commands.h — the `edgefhir` command line: subcommand table, shared flags
// (--config FILE, --database PATH), help texts.  Every subcommand NAME lives in its own file
// cli/NAME.cpp with one entry point `int NAME_main(args, out, err)` declared here; the modules
// it drives (auth, store, service, sync) expose plain functions.
#pragma once
#include <ostream>
#include <string>
#include <vector>

#include "config.h"

namespace ef::cli {

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// Common flags every subcommand accepts.  Parsed flags are removed from `args`.
struct Common {
  std::string config_path;
  std::string database;  // overrides config
  std::string listen;    // serve only
  bool help = false;
};
Status take_common(std::vector<std::string>& args, Common* c);
// Loads the config file named by --config (or defaults) and applies --database/--listen.
Result<ServerConfig> load(const Common& c);

// Progress-line formatting shared by the commands: 1234567 -> "1,234,567"; seconds ->
// "m:ss" or "h:mm:ss" ("--:--" when unknown or beyond 99 hours).
std::string fmt_count(int64_t n);
std::string fmt_duration(double seconds);

int serve_main(std::vector<std::string> args, std::ostream& out, std::ostream& err);
int audit_main(std::vector<std::string> args, std::ostream& out, std::ostream& err);
int keys_main(std::vector<std::string> args, std::ostream& out, std::ostream& err);
int import_main(std::vector<std::string> args, std::ostream& out, std::ostream& err);
int export_main(std::vector<std::string> args, std::ostream& out, std::ostream& err);
int reindex_main(std::vector<std::string> args, std::ostream& out, std::ostream& err);
int validate_main(std::vector<std::string> args, std::ostream& out, std::ostream& err);
int sync_main(std::vector<std::string> args, std::ostream& out, std::ostream& err);
int token_main(std::vector<std::string> args, std::ostream& out, std::ostream& err);

}  // namespace ef::cli

// cli/commands.cpp — see commands.h.
#include "cli/commands.h"

#include <cstdio>
#include <functional>
#include <map>

#include "version.h"

namespace ef::cli {

namespace {

struct Command {
  const char* summary;
  std::function<int(std::vector<std::string>, std::ostream&, std::ostream&)> fn;
};

const std::map<std::string, Command>& commands() {
  static const std::map<std::string, Command> k = {
      {"serve", {"run the FHIR server", serve_main}},
      {"import", {"load resources, Bundles or NDJSON files into the database", import_main}},
      {"export", {"write the current resources as NDJSON, one file per type", export_main}},
      {"reindex", {"rebuild the search index from the stored resources", reindex_main}},
      {"validate", {"validate FHIR JSON files against the R4 definitions (no database)", validate_main}},
      {"keys", {"list, refresh, pin, export and import the issuers' signing keys (keys --help)", keys_main}},
      {"sync", {"store-and-forward to an upstream FHIR server: status, now, conflicts (sync --help)",
                sync_main}},
      {"audit", {"show the audit trail: who did what, when, with which outcome", audit_main}},
      {"token", {"inspect, validate, mint tokens; make demo keys (token --help)",
                 token_main}},
  };
  return k;
}

void usage(std::ostream& out) {
  out << "edgefhir — a single-binary FHIR R4 server on SQLite with OAuth 2.0 bearer-token security\n\n"
         "usage: edgefhir COMMAND [--config FILE] [--database PATH] [options]\n\ncommands:\n";
  for (const auto& kv : commands()) {
    std::string name = kv.first;
    name.resize(10, ' ');
    out << "  " << name << kv.second.summary << "\n";
  }
  out << "\nEvery command takes --config FILE (JSON) and --database PATH (overrides the file).\n"
         "Run 'edgefhir COMMAND --help' for the options of one command.\n";
}

}  // namespace

Status take_common(std::vector<std::string>& args, Common* c) {
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string* out) -> Status {
      if (i + 1 >= args.size()) return Status(Err::invalid, a + " needs a value");
      *out = args[++i];
      return Status();
    };
    Status st;
    if (a == "--config") st = value(&c->config_path);
    else if (a.rfind("--config=", 0) == 0) c->config_path = a.substr(9);
    else if (a == "--database") st = value(&c->database);
    else if (a.rfind("--database=", 0) == 0) c->database = a.substr(11);
    else if (a == "--listen") st = value(&c->listen);
    else if (a.rfind("--listen=", 0) == 0) c->listen = a.substr(9);
    else if (a == "--help" || a == "-h") c->help = true;
    else rest.push_back(a);
    if (!st) return st;
  }
  args = rest;
  return Status();
}

Result<ServerConfig> load(const Common& c) {
  auto cfg = load_config(c.config_path);
  if (!cfg) return cfg;
  if (!c.database.empty()) cfg->database = c.database;
  if (!c.listen.empty()) {
    Status st = apply_listen(*cfg, c.listen);
    if (!st) return st;
  }
  return cfg;
}

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    usage(out);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version" || args[0] == "version") {
    out << "edgefhir " EDGEFHIR_VERSION "\n";
    return 0;
  }
  auto it = commands().find(args[0]);
  if (it == commands().end()) {
    err << "edgefhir: unknown command '" << args[0] << "'\n\n";
    usage(err);
    return 2;
  }
  return it->second.fn(std::vector<std::string>(args.begin() + 1, args.end()), out, err);
}

std::string fmt_count(int64_t n) {
  std::string s = std::to_string(n), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

std::string fmt_duration(double s) {
  if (s < 0 || s > 359999) return "--:--";
  int t = int(s + 0.5);
  char buf[32];
  if (t >= 3600) snprintf(buf, sizeof buf, "%d:%02d:%02d", t / 3600, (t / 60) % 60, t % 60);
  else snprintf(buf, sizeof buf, "%d:%02d", t / 60, t % 60);
  return buf;
}

}  // namespace ef::cli

// cli/open.cpp — see open.h.
#include "cli/open.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "fhir/indexer.h"
#include "fhir/search_params.h"
#include "fhir/validate.h"
#include "fhir/search_query.h"

namespace ef::cli {

// The database's folder must exist: nothing creates folders (a typo in "database" would
// otherwise leave a tree of them behind).  The error names the missing folder.
static Status check_parent_dir(const std::string& path) {
  if (path.empty() || path == ":memory:") return Status();
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return Status();  // the current folder
  std::string dir = slash == 0 ? "/" : path.substr(0, slash);
  struct stat sb;
  if (::stat(dir.c_str(), &sb) != 0)
    return Status(Err::invalid, "the database folder '" + dir + "' does not exist (" + std::strerror(errno) +
                                    "); create it first, or set \"database\" / --database elsewhere");
  if (!S_ISDIR(sb.st_mode)) return Status(Err::invalid, "the database folder '" + dir + "' is not a folder");
  return Status();
}

// Every (type, code) the indexer can emit: each type's parameters (common ones included)
// and, for composites, one "code$k" per component.
static std::vector<std::pair<std::string, std::string>> index_params() {
  std::vector<std::pair<std::string, std::string>> out;
  const auto& reg = fhir::registry();
  for (const std::string& t : reg.all_resource_types()) {
    for (const fhir::SearchParam* p : reg.params_for(t)) {
      out.emplace_back(t, p->code);
      for (size_t k = 0; k < p->components.size(); ++k) out.emplace_back(t, p->code + "$" + std::to_string(k));
    }
  }
  return out;
}

Result<std::unique_ptr<http::App>> open_app(const ServerConfig& cfg) {
  auto app = std::make_unique<http::App>();
  app->cfg = cfg;
  fhir::SearchBudget budget;
  budget.max_query_bytes = cfg.limits.max_url_bytes;
  budget.max_query_params = cfg.limits.max_query_params;
  budget.max_search_params = cfg.limits.max_search_params;
  budget.max_or_values = cfg.limits.max_or_values;
  budget.max_search_values = cfg.limits.max_search_values;
  fhir::set_search_budget(budget);
  app->base_url = cfg.effective_base_url();
  Status st = check_parent_dir(cfg.database);
  if (!st) return st;
  store::DbOptions o;
  o.durability = cfg.durability == "power" ? store::Durability::power : store::Durability::process;
  o.group_commit = cfg.writer.group_commit;
  o.max_group_requests = cfg.writer.max_group_requests;
  o.max_group_bytes = cfg.writer.max_group_bytes;
  o.commit_delay_us = cfg.writer.commit_delay_us;
  auto db = store::Database::open(cfg.database, o);
  if (!db) return db.status();
  app->db = std::move(*db);
  app->resources = std::make_unique<store::Resources>(*app->db);
  if (!fhir::registry_status().ok()) return fhir::registry_status();
  st = app->resources->init(index_params());
  if (!st) return st;
  app->repo = std::make_unique<service::Repository>(
      *app->db, *app->resources, *app->clock,
      [](const json::Value& r, fhir::IndexRows* out) { fhir::extract_index(r, out); });
  fhir::OnWrite mode = cfg.validation_on_write == "off"    ? fhir::OnWrite::off
                       : cfg.validation_on_write == "warn" ? fhir::OnWrite::warn
                                                           : fhir::OnWrite::strict;
  if (mode != fhir::OnWrite::off)
    app->repo->set_check([mode](const json::Value& r, std::vector<fhir::Issue>* kept) {
      return fhir::check_on_write(r, mode, kept);
    });
  app->service = std::make_unique<service::Service>(*app->db, *app->repo, app->base_url);
  return app;
}

}  // namespace ef::cli

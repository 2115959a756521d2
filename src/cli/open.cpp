// cli/open.cpp — see open.h.
#include "cli/open.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "fhir/indexer.h"
#include "fhir/search_params.h"
#include "fhir/search_query.h"

namespace ef::cli {

static Status make_parent_dirs(const std::string& path) {
  for (size_t p = path.find('/', 1); p != std::string::npos; p = path.find('/', p + 1)) {
    std::string dir = path.substr(0, p);
    if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST)
      return Status(Err::internal, "cannot create directory '" + dir + "': " + std::strerror(errno));
  }
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
  Status st = make_parent_dirs(cfg.database);
  if (!st) return st;
  store::DbOptions o;
  o.durability = cfg.durability == "power" ? store::Durability::power : store::Durability::process;
  auto db = store::Database::open(cfg.database, o);
  if (!db) return db.status();
  app->db = std::move(*db);
  app->resources = std::make_unique<store::Resources>(*app->db);
  if (!fhir::registry_status().ok()) return fhir::registry_status();
  st = app->resources->init(index_params());
  if (!st) return st;
  app->repo = std::make_unique<fhir::Repository>(
      *app->db, *app->resources, *app->clock,
      [](const json::Value& r, fhir::IndexRows* out) { fhir::extract_index(r, out); });
  return app;
}

}  // namespace ef::cli

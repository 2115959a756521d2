// cli/open.cpp — see open.h.
#include "cli/open.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace ef::cli {

static Status make_parent_dirs(const std::string& path) {
  for (size_t p = path.find('/', 1); p != std::string::npos; p = path.find('/', p + 1)) {
    std::string dir = path.substr(0, p);
    if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST)
      return Status(Err::internal, "cannot create directory '" + dir + "': " + std::strerror(errno));
  }
  return Status();
}

Result<std::unique_ptr<http::App>> open_app(const ServerConfig& cfg) {
  auto app = std::make_unique<http::App>();
  app->cfg = cfg;
  app->base_url = cfg.effective_base_url();
  Status st = make_parent_dirs(cfg.database);
  if (!st) return st;
  store::DbOptions o;
  o.durability = cfg.durability == "power" ? store::Durability::power : store::Durability::process;
  auto db = store::Database::open(cfg.database, o);
  if (!db) return db.status();
  app->db = std::move(*db);
  app->resources = std::make_unique<store::Resources>(*app->db);
  st = app->resources->init({});
  if (!st) return st;
  app->repo = std::make_unique<fhir::Repository>(*app->db, *app->resources, *app->clock, nullptr);
  return app;
}

}  // namespace ef::cli

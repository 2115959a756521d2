// app/build.cpp — see build.h.
#include "app/build.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "fhir/indexer.h"
#include "fhir/search_params.h"
#include "fhir/validate.h"
#include "fhir/xml_cache.h"
#include "fhir/search_query.h"
#include "auth/config.h"
#include "auth/key_store.h"
#include "auth/policy.h"
#include "auth/refresher.h"
#include "auth/validator.h"
#include "http/metrics.h"
#include "http/sync_observe.h"
#include "service/terminology.h"
#include "store/audit.h"
#include "store/export_jobs.h"
#include "store/key_cache.h"
#include "sync/puller.h"
#include "sync/pusher.h"
#include "util/log.h"
#include "version.h"

namespace ef::app {

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

store::DbOptions db_options(const ServerConfig& cfg) {
  store::DbOptions o;
  o.durability = cfg.durability == "power" ? store::Durability::power : store::Durability::process;
  o.group_commit = cfg.writer.group_commit;
  o.max_group_requests = cfg.writer.max_group_requests;
  o.max_group_bytes = cfg.writer.max_group_bytes;
  o.commit_delay_us = cfg.writer.commit_delay_us;
  return o;
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
  auto db = store::Database::open(cfg.database, db_options(cfg));
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
  app->service->terminology().configure(cfg.limits.max_expansion_concepts, cfg.limits.terminology_cache_entries,
                                        cfg.limits.terminology_cache_bytes);
  // Required bindings to value sets that are not bundled: checked against stored ValueSets.
  fhir::set_stored_binding_lookup(service::Terminology::stored_binding);
  return app;
}
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
  auto acfg = std::make_shared<const auth::AuthConfig>(std::move(*cfg));
  app.auth_config = acfg;
  // Keys: pins and HMAC secrets from the config, the issuers' keys cached in the database
  // (so a restart works offline), and a refresher following discovery and rotation.
  auto key_rows = std::make_shared<store::KeyCache>(*app.db);
  app.key_rows = key_rows;
  app.keys = std::make_shared<auth::KeyStore>(*acfg, key_rows.get(), *app.clock);
  Status st = app.keys->load();
  if (!st) return Status(Err::invalid, where + ": " + st.message);
  app.refresher = std::make_shared<auth::Refresher>(*app.keys);
  app.refresher->start();
  app.validators = std::make_shared<auth::Validator>(*acfg, *app.keys, *app.clock);
  app.key_store = app.keys.get();
  app.validator = app.validators.get();
  auth::Validator* v = app.validators.get();
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

// /metrics: build info, start time, database size, key cache.
static Status setup_metrics(http::App& app) {
  auto& reg = http::metrics();
  reg.set_build_info({{"version", EDGEFHIR_VERSION}, {"auth", app.cfg.auth_required() ? "required" : "off"}});
  reg.set_start_time(double(app.clock->now_ms()) / 1000.0);
  store::Database* db = app.db.get();
  Status st = reg.add_gauge("edgefhir_database_size_bytes", "Size of the SQLite database (main file and WAL).",
                            std::function<double()>([db] { return double(db->size_bytes()); }));
  if (!st) return st;
  st = reg.add_counter("edgefhir_database_checkpoints_total",
                       "WAL checkpoints run by the background checkpointer (store/db.h).",
                       std::function<double()>([db] { return double(db->background_checkpoints()); }));
  if (!st) return st;
  st = reg.add_counter("edgefhir_database_forced_checkpoints_total",
                       "WAL checkpoints a commit had to run itself because the WAL outgrew its limit.",
                       std::function<double()>([db] { return double(db->forced_checkpoints()); }));
  if (!st) return st;
  for (int i = 0; i < 2; ++i) {
    bool hits = i == 0;
    st = reg.add_counter(hits ? "edgefhir_xml_cache_hits_total" : "edgefhir_xml_cache_misses_total",
                         hits ? "XML reads answered from the rendering cache (fhir/xml_cache.h)."
                              : "XML reads converted because the rendering was not cached (cache on).",
                         std::function<double()>([hits] {
                           auto s = fhir::xml::read_cache().stats();
                           return double(hits ? s.hits : s.misses);
                         }));
    if (!st) return st;
  }
  st = reg.add_gauge("edgefhir_xml_cache_bytes", "Bytes held by the XML rendering cache (limits.xml_cache_bytes bounds it).",
                     std::function<double()>([] { return double(fhir::xml::read_cache().stats().bytes); }));
  if (!st) return st;
  service::Terminology* term = &app.service->terminology();
  st = reg.add_gauge("edgefhir_terminology_cache_bytes",
                     "Approximate bytes of the value set expansions cached (limits.terminology_cache_bytes bounds it).",
                     std::function<double()>([term] { return double(term->cache().bytes()); }));
  if (!st) return st;
  st = reg.add_gauge("edgefhir_terminology_cache_entries",
                     "Value set expansions cached (limits.terminology_cache_entries bounds it).",
                     std::function<double()>([term] { return double(term->cache().size()); }));
  if (!st) return st;
  st = reg.add_histogram("edgefhir_database_write_group_size",
                         "Writes committed together in one transaction (group commit, store/db.h); 1 = alone.",
                         [db] {
                           store::WriteStats w = db->write_stats();
                           using W = store::WriteStats;
                           return http::HistogramSample{{W::kGroupBounds.begin(), W::kGroupBounds.end()},
                                                        {w.group_counts.begin(), w.group_counts.end()},
                                                        double(w.requests)};
                         });
  if (!st) return st;
  st = reg.add_histogram("edgefhir_database_commit_seconds",
                         "Duration of the writer's COMMIT (WAL append, and its fsync with durability power).",
                         [db] {
                           store::WriteStats w = db->write_stats();
                           using W = store::WriteStats;
                           return http::HistogramSample{{W::kCommitBounds.begin(), W::kCommitBounds.end()},
                                                        {w.commit_counts.begin(), w.commit_counts.end()},
                                                        w.commit_seconds};
                         });
  if (!st) return st;
  if (app.key_store) {
    auth::KeyStore* ks = app.key_store;
    st = http::add_key_store_metrics(reg, [ks] { return ks->status(); }, *app.clock);
  }
  return st;
}

// Starts one sync worker (the pusher or the puller): init, its metrics (`add_metrics`), then
// its thread. A metrics failure sets the exit code 1; errors are prefixed "sync: ".
template <class Worker, class AddMetrics>
static Status start_sync_worker(const std::shared_ptr<Worker>& w, AddMetrics add_metrics, const Clock& clock,
                                int* exit_code) {
  Status st = w->init();
  if (!st) return Status(st.code, "sync: " + st.message);
  st = add_metrics(http::metrics(), w, clock);
  if (!st) {
    *exit_code = 1;
    return Status(st.code, "sync: " + st.message);
  }
  w->start();
  return Status();
}

Status wire_server(http::App& app, const Sections& sections, int* exit_code) {
  *exit_code = 2;
  Status st = setup_auth(app);
  if (!st) return st;
  if (!app.cfg.auth_required()) {
    log::warn("auth.disabled", {{"message", "auth.required is false: every request is served WITHOUT authentication. "
                                            "Use this only on a trusted loopback or for demos."}});
  }
  app.audit = std::make_shared<store::AuditLog>(*app.db, *app.clock, sections.audit);
  app.audit->start();
  app.metrics_public = sections.metrics_public;
  st = setup_metrics(app);
  if (!st) return Status(st.code, "config " + app.cfg.path + ": " + st.message);
  app.cors = std::make_shared<const http::CorsConfig>(sections.cors);
  app.console_enabled = sections.console_enabled;
  if (sections.sync.enabled) {
    auto pusher = std::make_shared<sync::Pusher>(*app.db, sections.sync, *app.clock);
    st = start_sync_worker(pusher, sync::register_metrics, *app.clock, exit_code);
    if (!st) return st;
    app.sync = pusher;
    if (!sections.sync.pull.empty()) {
      auto puller = std::make_shared<sync::Puller>(*app.db, *app.repo, sections.sync, *app.clock);
      st = start_sync_worker(puller, sync::register_pull_metrics, *app.clock, exit_code);
      if (!st) return st;
      app.pull = puller;
    }
  }
  if (!app.db->path().empty() && app.db->path() != ":memory:")
    app.exports = std::make_unique<service::ExportEngine>(*app.db, *app.resources, *app.clock, app.base_url,
                                                          sections.exports);
  // Export jobs queued or interrupted before this start resume now, not at the first poll.
  // (Asked on the writer connection: a reader here would keep a SQLite connection open on
  // the main thread, which serves no requests, for the whole run.)
  int64_t active_exports = 0;
  app.db->write([&](store::Conn& c) -> Status {
    auto n = store::count_active_export_jobs(c);
    if (n) active_exports = *n;
    return n.status();
  });
  if (active_exports > 0 && app.exports) {
    Status es = app.exports->ensure_started();
    if (!es) log::warn("export.resume_failed", {{"error", es.message}});
  }
  *exit_code = 0;
  return Status();
}

void stop_server(http::App& app) {
  if (app.exports) app.exports->stop();
  if (app.pull) app.pull->stop();
  if (app.sync) app.sync->stop();
  if (app.audit) app.audit->stop();
  if (app.refresher) app.refresher->stop();
  app.db->checkpoint();
}

}  // namespace ef::app

// cli/serve.cpp — `edgefhir serve`: check the configuration and the listen address, open the
// database, wire authentication, bind, serve HTTP until SIGTERM/SIGINT, then stop accepting,
// finish in-flight requests and checkpoint.  A refused start creates no file or folder.
#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "util/pages.h"
#include "cli/auth_setup.h"
#include "cli/commands.h"
#include "cli/open.h"
#include "auth/key_store.h"
#include "http/console.h"
#include "http/cors.h"
#include "http/conventions.h"
#include "http/export.h"
#include "http/metrics.h"
#include "http/server.h"
#include "sync/sync_config.h"
#include "http/sync_observe.h"
#include "sync/pusher.h"
#include "store/audit.h"
#include "store/export_jobs.h"
#include "util/log.h"
#include "version.h"

namespace ef::cli {

static const char* kServeHelp =
    "usage: edgefhir serve [--config FILE] [--listen HOST:PORT] [--database PATH]\n\n"
    "Serves the FHIR R4 REST API at the root of the listen address.\n"
    "  --config FILE      JSON configuration (see README: Configuration)\n"
    "  --listen HOST:PORT overrides \"listen\" (port 0 picks a free port and prints it)\n"
    "  --database PATH    overrides \"database\" (the file is created when missing, its folder never)\n";

// /metrics: build info, start time, database size, key cache; metrics.public from the config.
static Status setup_metrics(http::App& app) {
  const json::Value* m = json::get(app.cfg.raw, "metrics");
  if (m && !m->is<json::Object>()) return Status(Err::invalid, "\"metrics\" must be an object like {\"public\": false}");
  if (m) {
    for (const auto& kv : m->get<json::Object>())
      if (kv.first != "public") return Status(Err::invalid, "metrics: unknown key '" + kv.first + "' (known: public)");
    const json::Value* p = json::get(*m, "public");
    if (p && !p->is<bool>()) return Status(Err::invalid, "metrics.public must be true or false");
    app.metrics_public = p && p->get<bool>();
  }
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

// Removes the database files (main, -wal, -shm, -journal) on destruction when they did not
// exist at construction, unless keep() was called (the server bound its address).
namespace {
struct DbCleanup {
  std::string path;
  bool remove = false;
  explicit DbCleanup(std::string p) : path(std::move(p)) {
    struct stat sb;
    remove = !path.empty() && path != ":memory:" && ::lstat(path.c_str(), &sb) != 0 && errno == ENOENT;
  }
  void keep() { remove = false; }
  ~DbCleanup() {
    if (!remove) return;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) ::unlink((path + suffix).c_str());
  }
};
}  // namespace

int serve_main(std::vector<std::string> args, std::ostream& out, std::ostream& err) {
  Common common;
  Status st = take_common(args, &common);
  if (!st) { err << "edgefhir serve: " << st.message << "\n"; return 2; }
  if (common.help) { out << kServeHelp; return 0; }
  if (!args.empty()) { err << "edgefhir serve: unexpected argument '" << args[0] << "'\n" << kServeHelp; return 2; }
  auto cfg = load(common);
  if (!cfg) { err << "edgefhir: " << cfg.status().message << "\n"; return 2; }
  if (cfg->log_level == "debug") log::set_min_level(log::Level::debug);
  else if (cfg->log_level == "warn") log::set_min_level(log::Level::warn);
  else if (cfg->log_level == "error") log::set_min_level(log::Level::error);

  // Block termination signals in every thread; one thread waits for them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR2);  // internal: wakes the signal thread when start-up fails
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // A refused start leaves nothing behind: the checks that need no database run first (the
  // configuration, the listen address), and a database file this start created is removed
  // again when start-up fails later (DbCleanup, declared before `app` so it runs after the
  // database is closed).
  if (Status pre = check_auth_config(*cfg); !pre) { err << "edgefhir: " << pre.message << "\n"; return 2; }
  if (Status pre = http::probe_listen(cfg->listen_host, cfg->listen_port); !pre) {
    err << "edgefhir: " << pre.message << "\n";
    return 1;
  }
  DbCleanup cleanup(cfg->database);
  auto app = open_app(*cfg);
  if (!app) { err << "edgefhir: " << app.status().message << "\n"; return 1; }
  // while serving only (offline commands read trusted files: no write or JSON value budget)
  (*app)->db->set_write_budget_ms(cfg->limits.max_write_ms);
  json::set_default_max_values(cfg->limits.max_json_values);
  // Bound first: with port 0, App::base_url then names the port actually bound, before the
  // CapabilityStatement, export jobs or anything else reads it.
  http::Server server(**app);
  st = server.bind();
  if (!st) { err << "edgefhir: " << st.message << "\n"; return 1; }
  st = setup_auth(**app);
  if (!st) { err << "edgefhir: " << st.message << "\n"; return 2; }
  if (!cfg->auth_required()) {
    log::warn("auth.disabled", {{"message", "auth.required is false: every request is served WITHOUT authentication. "
                                            "Use this only on a trusted loopback or for demos."}});
  }
  auto audit_opt = store::audit_options_from_config(json::get(cfg->raw, "audit") ? *json::get(cfg->raw, "audit") : json::Value());
  if (!audit_opt) { err << "edgefhir: config " << cfg->path << ": " << audit_opt.status().message << "\n"; return 2; }
  (*app)->audit = std::make_shared<store::AuditLog>(*(*app)->db, *(*app)->clock, *audit_opt);
  (*app)->audit->start();
  st = setup_metrics(**app);
  if (!st) { err << "edgefhir: config " << cfg->path << ": " << st.message << "\n"; return 2; }
  {
    const json::Value* cs = json::get(cfg->raw, "cors");
    auto cors = http::parse_cors_config(cs ? *cs : json::Value(), cfg->auth_required());
    if (!cors) { err << "edgefhir: config " << cfg->path << ": " << cors.status().message << "\n"; return 2; }
    (*app)->cors = std::make_shared<const http::CorsConfig>(std::move(*cors));
    st = http::configure_console(**app);
    if (!st) { err << "edgefhir: config " << cfg->path << ": " << st.message << "\n"; return 2; }
  }
  auto sync_cfg = sync::sync_config_of(*cfg);
  if (!sync_cfg) { err << "edgefhir: " << sync_cfg.status().message << "\n"; return 2; }
  if (sync_cfg->enabled) {
    auto pusher = std::make_shared<sync::Pusher>(*(*app)->db, *sync_cfg, *(*app)->clock);
    st = pusher->init();
    if (!st) { err << "edgefhir: sync: " << st.message << "\n"; return 2; }
    st = sync::register_metrics(http::metrics(), pusher, *(*app)->clock);
    if (!st) { err << "edgefhir: sync: " << st.message << "\n"; return 1; }
    pusher->start();
    (*app)->sync = pusher;
  }
  // Export jobs queued or interrupted before this start resume now, not at the first poll.
  // (Asked on the writer connection: a reader here would keep a SQLite connection open on
  // the main thread, which serves no requests, for the whole run.)
  int64_t active_exports = 0;
  (*app)->db->write([&](store::Conn& c) -> Status {
    auto n = store::count_active_export_jobs(c);
    if (n) active_exports = *n;
    return n.status();
  });
  if (active_exports > 0) {
    auto runner = http::export_runner(**app);
    if (!runner) log::warn("export.resume_failed", {{"error", runner.status().message}});
  }
  cleanup.keep();  // started: from here on the database stays
  // The CapabilityStatement is built once, here on the main thread, so that its temporaries
  // (a JSON tree of every type and search parameter) are freed and trimmed below instead of
  // staying in a worker thread's malloc arena (~9 MB of RSS after the first GET /metadata).
  http::metadata_json(**app);
  (*app)->db->release_memory();
  malloc_trim(0);  // hand start-up temporaries (definition tables, migrations) back to the OS
  pages::release_own_code();  // and the start-up code's pages: serving faults back what it runs
  // Shutdown: stop accepting, let in-flight requests finish within a bound (a request
  // gets read_timeout to arrive and keep_alive to follow), checkpoint, exit 0.  A client
  // that trickles bytes forever would hold cpp-httplib's pool join; past the bound we
  // checkpoint and exit anyway (committed writes are durable in the WAL regardless).
  std::mutex done_mu;
  std::condition_variable done_cv;
  bool done = false;
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig == SIGUSR2) return;  // start-up failed: nothing to stop
    log::info("server.stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    server.stop();
    const auto& L = cfg->limits;
    std::unique_lock lk(done_mu);
    if (!done_cv.wait_for(lk, std::chrono::seconds(L.read_timeout_seconds + L.keep_alive_seconds), [&] { return done; })) {
      log::warn("server.drain_timeout", {{"message", "connections still open after the shutdown bound; exiting anyway"},
                                          {"seconds", L.read_timeout_seconds + L.keep_alive_seconds}});
      if ((*app)->sync) (*app)->sync->stop();
      (*app)->audit->stop();
      (*app)->db->checkpoint();
      log::info("server.stopped");
      std::_Exit(0);
    }
  });
  st = server.run();
  {
    std::lock_guard lk(done_mu);
    done = true;
  }
  done_cv.notify_all();
  if (!st) {
    err << "edgefhir: " << st.message << "\n";
    pthread_kill(waiter.native_handle(), SIGUSR2);
    waiter.join();
    return 1;
  }
  waiter.join();
  if ((*app)->sync) (*app)->sync->stop();
  (*app)->audit->stop();
  (*app)->db->checkpoint();
  log::info("server.stopped");
  return 0;
}

}  // namespace ef::cli

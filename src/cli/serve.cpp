// cli/serve.cpp — `edgefhir serve`: check the configuration (every section: app/sections.h)
// and the listen address, open the database, bind, wire the server (app/build.h), serve HTTP
// until SIGTERM/SIGINT, then stop accepting, finish in-flight requests and checkpoint.  A
// refused start creates no file or folder.
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
#include "cli/commands.h"
#include "app/build.h"
#include "http/conventions.h"
#include "http/metrics.h"
#include "http/server.h"
#include "sync/pusher.h"
#include "store/audit.h"
#include "util/log.h"

namespace ef::cli {

static const char* kServeHelp =
    "usage: edgefhir serve [--config FILE] [--listen HOST:PORT] [--database PATH]\n\n"
    "Serves the FHIR R4 REST API at the root of the listen address.\n"
    "  --config FILE      JSON configuration (see README: Configuration)\n"
    "  --listen HOST:PORT overrides \"listen\" (port 0 picks a free port and prints it)\n"
    "  --database PATH    overrides \"database\" (the file is created when missing, its folder never)\n";

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
  auto sections = ef::app::check_sections(*cfg);
  if (!sections) { err << "edgefhir: " << sections.status().message << "\n"; return 2; }
  if (Status pre = http::probe_listen(cfg->listen_host, cfg->listen_port); !pre) {
    err << "edgefhir: " << pre.message << "\n";
    return 1;
  }
  DbCleanup cleanup(cfg->database);
  auto app = ef::app::open_app(*cfg);
  if (!app) { err << "edgefhir: " << app.status().message << "\n"; return 1; }
  // while serving only (offline commands read trusted files: no write or JSON value budget)
  (*app)->db->set_write_budget_ms(cfg->limits.max_write_ms);
  json::set_default_max_values(cfg->limits.max_json_values);
  // Bound first: with port 0, App::base_url then names the port actually bound, before the
  // CapabilityStatement, export jobs or anything else reads it.
  http::Server server(**app);
  st = server.bind();
  if (!st) { err << "edgefhir: " << st.message << "\n"; return 1; }
  int code = 0;
  st = ef::app::wire_server(**app, *sections, &code);
  if (!st) { err << "edgefhir: " << st.message << "\n"; return code; }
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
      ef::app::stop_server(**app);
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
  ef::app::stop_server(**app);
  log::info("server.stopped");
  return 0;
}

}  // namespace ef::cli

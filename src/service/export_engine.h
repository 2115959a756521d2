// service/export_engine.h — the Bulk Data export job engine
// (https://hl7.org/fhir/uv/bulkdata/export.html): the `export` config section and the
// background worker that turns a queued export job (store/export_jobs.h) into NDJSON files.
// No HTTP here: http/export.cpp queues jobs and serves status, manifests and files.
// One ExportEngine per running server, built by the server wiring (app/) and owned by
// http::App; it is started on first use (or at start-up when jobs are pending), so a server
// that never exports creates no export directory.
//
// Storage.  A job's files are written to <directory>/<job id>/<Type>-<n>.ndjson (directory:
// config export.directory, default "<database>.export" next to the SQLite file), at most
// max_resources_per_file lines each.  Files rather than SQLite rows: they are streamed to the
// client straight from disk, never double the database, and removing a job is one directory.
// The job row (state, manifest) is in SQLite, so jobs and their manifests survive a restart.
//
// Consistency.  One job is exported inside one read transaction (a WAL snapshot), and its
// transactionTime is taken after the snapshot is established, so the files hold exactly the
// resources current at transactionTime (lastUpdated <= transactionTime).
//
// Restart.  A job that was running when the process stopped is queued again on start (its
// partial files removed) and re-run from the beginning with a new transactionTime.
//
// Worker.  One thread, jobs run one at a time in kick-off order; stop() interrupts a running
// job between batches (the job stays queued for the next start); cancel() (DELETE on the poll
// URL) abandons it and removes its files.  Finished jobs and their files are removed
// retention_seconds after they finish.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "store/db.h"
#include "store/export_jobs.h"
#include "store/resources.h"
#include "util/clock.h"
#include "util/json.h"

namespace ef::service {

struct ExportOptions {
  std::string directory;                  // "" = "<database>.export"
  int64_t retention_seconds = 24 * 3600;  // finished jobs removed after this; 0 = kept
  int64_t max_resources_per_file = 100000;
  int max_active_jobs = 8;                // queued + running; more kick-offs get 429
  int retry_after_seconds = 2;            // Retry-After on 202 status responses
};

// The `export` config section: {"directory": "...", "retention_seconds": 86400,
// "max_resources_per_file": 100000, "max_active_jobs": 8, "retry_after_seconds": 2}.
// Missing/null gives the defaults; errors name the key.
Result<ExportOptions> export_options_from_config(const json::Value& export_section);

class ExportEngine {
 public:
  // db, resources and clock must outlive the engine; base_url prefixes the file URLs of a
  // manifest and is stripped from Group member references.
  ExportEngine(store::Database& db, store::Resources& resources, const Clock& clock, std::string base_url,
               ExportOptions opt);
  ~ExportEngine();  // stop()
  ExportEngine(const ExportEngine&) = delete;
  ExportEngine& operator=(const ExportEngine&) = delete;

  // Queues interrupted (running) jobs again and starts the worker thread.
  Status start();
  // start() once (thread-safe); later calls return the first call's result.  Refuses an
  // in-memory database (the NDJSON files are written next to the database file).
  Status ensure_started();
  // Stops the worker (a running job is left queued for the next start).  Idempotent.
  void stop();
  // A job was queued.
  void wake();
  // Abandons job `id` if it is running (its row is already gone); files are removed.
  void cancel(const std::string& id);
  // "Observation: 1200 resources in 2 files" while running; "" otherwise.
  std::string progress(const std::string& id);

  const ExportOptions& options() const { return opt_; }
  std::string job_dir(const std::string& id) const;
  // Runs every queued job now on the calling thread (tests); the worker must not be running.
  void run_pending_for_test();

 private:
  void loop();
  void expire();
  // false: interrupted by stop() or cancel() (nothing recorded).
  bool run_job(store::ExportJob j);
  store::Database& db_;
  store::Resources& resources_;
  const Clock& clock_;
  std::string base_url_;
  std::mutex start_mu_;
  bool start_tried_ = false;
  Status start_status_;
  ExportOptions opt_;
  std::string dir_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool started_ = false;
  bool woken_ = false;
  std::set<std::string> cancelled_;
  std::map<std::string, std::string> progress_;
  std::string running_;
  std::thread thread_;
};

// A new random job id (32 lower-case hex digits) and its check.
std::string new_export_job_id();
bool valid_export_job_id(const std::string& id);

}  // namespace ef::service

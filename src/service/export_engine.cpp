// service/export_engine.cpp — see export_engine.h.
#include "service/export_engine.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

#include "fhir/search_params.h"
#include "util/log.h"
#include "util/time.h"

namespace fs = std::filesystem;

namespace ef::service {

// ---------------------------------------------------------------- configuration

Result<ExportOptions> export_options_from_config(const json::Value& sec) {
  ExportOptions o;
  if (sec.is<picojson::null>()) return o;
  if (!json::is_object(sec)) return Status(Err::invalid, "export: must be an object");
  for (const auto& kv : *json::as_object(sec)) {
    const std::string& k = kv.first;
    const json::Value& v = kv.second;
    auto whole = [&](int64_t lo, int64_t hi, int64_t* out) -> Status {
      int64_t n = 0;
      if (!json::int_value(v, &n) || n < lo || n > hi)
        return Status(Err::invalid, "export." + k + ": must be a whole number from " + std::to_string(lo) + " to " +
                                        std::to_string(hi));
      *out = n;
      return Status();
    };
    Status st;
    int64_t n = 0;
    if (k == "directory") {
      const std::string* s = json::as_string(v);
      if (!s || s->empty()) return Status(Err::invalid, "export.directory: must be a non-empty string");
      o.directory = *s;
    } else if (k == "retention_seconds") {
      st = whole(0, int64_t(10) * 365 * 86400, &o.retention_seconds);
    } else if (k == "max_resources_per_file") {
      st = whole(1, int64_t(1) << 40, &o.max_resources_per_file);
    } else if (k == "max_active_jobs") {
      st = whole(1, 1000, &n);
      o.max_active_jobs = int(n);
    } else if (k == "retry_after_seconds") {
      st = whole(1, 3600, &n);
      o.retry_after_seconds = int(n);
    } else if (k != "$comment" && k != "comment") {
      return Status(Err::invalid, "export." + k +
                                      ": unknown key (known: directory, retention_seconds, max_resources_per_file, "
                                      "max_active_jobs, retry_after_seconds)");
    }
    if (!st) return st;
  }
  return o;
}

// ---------------------------------------------------------------- runner

namespace {

}  // namespace

std::string new_export_job_id() {
  static std::mutex mu;
  static std::random_device rd;
  std::lock_guard<std::mutex> lock(mu);
  static const char* hex = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 4; ++i) {
    uint32_t x = rd();
    for (int j = 0; j < 8; ++j) id.push_back(hex[(x >> (j * 4)) & 15]);
  }
  return id;
}

bool valid_export_job_id(const std::string& id) {
  return id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

namespace {


std::vector<std::string> default_types(const std::string& level) {
  const auto& reg = fhir::registry();
  std::vector<std::string> out;
  for (const auto& t : reg.all_resource_types())
    if (level == "system" || t == "Patient" || !reg.compartment_params(t).empty()) out.push_back(t);
  return out;
}

// Patient ids of a Group's members (Group.member.entity references to Patients; inactive
// members left out).
std::vector<std::string> group_patients(const json::Value& group, const std::string& base_url) {
  std::vector<std::string> out;
  const json::Array* members = json::get_array(group, "member");
  if (!members) return out;
  for (const auto& m : *members) {
    const json::Value* inactive = json::get(m, "inactive");
    if (inactive && inactive->is<bool>() && inactive->get<bool>()) continue;
    const json::Value* entity = json::get(m, "entity");
    if (!entity) continue;
    std::string ref = json::string_or(*entity, "reference");
    if (!base_url.empty() && ref.rfind(base_url + "/", 0) == 0) ref = ref.substr(base_url.size() + 1);
    if (ref.rfind("Patient/", 0) != 0) continue;
    std::string id = ref.substr(8);
    size_t h = id.find("/_history");
    if (h != std::string::npos) id = id.substr(0, h);
    if (!id.empty() && id.find('/') == std::string::npos && std::find(out.begin(), out.end(), id) == out.end())
      out.push_back(id);
  }
  return out;
}

}  // namespace

ExportEngine::ExportEngine(store::Database& db, store::Resources& resources, const Clock& clock, std::string base_url,
                           ExportOptions opt)
    : db_(db), resources_(resources), clock_(clock), base_url_(std::move(base_url)), opt_(std::move(opt)) {
  dir_ = opt_.directory.empty() ? db_.path() + ".export" : opt_.directory;
}

ExportEngine::~ExportEngine() { stop(); }

std::string ExportEngine::job_dir(const std::string& id) const { return dir_ + "/" + id; }

Status ExportEngine::start() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Status(Err::internal, "export directory '" + dir_ + "' cannot be created: " + ec.message());
  // Jobs interrupted by a stop or crash run again from the start.  Their partial files are
  // removed once the requeue committed (the callback may be rolled back: store/db.h).
  std::vector<std::string> requeued;
  Status st = db_.write([&](store::Conn& c) -> Status {
    requeued.clear();
    auto running = store::export_jobs_with_status(c, "running");
    if (!running) return running.status();
    for (auto& j : *running) {
      j.status = "queued";
      j.started_ms = 0;
      Status s = store::update_export_job(c, j);
      if (!s) return s;
      requeued.push_back(j.id);
    }
    return Status();
  });
  if (!st) return st;
  for (const std::string& id : requeued) {
    fs::remove_all(job_dir(id), ec);
    log::info("export.requeued", {{"job", id}});
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (started_) return Status();
  started_ = true;
  stop_ = false;
  thread_ = std::thread([this] { loop(); });
  return Status();
}

void ExportEngine::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  started_ = false;
}

void ExportEngine::wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void ExportEngine::cancel(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (running_ == id) cancelled_.insert(id);
}

std::string ExportEngine::progress(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = progress_.find(id);
  return it == progress_.end() ? std::string() : it->second;
}

void ExportEngine::expire() {
  int64_t now = clock_.now_ms();
  auto jobs = store::expired_export_jobs(db_.reader(), now);
  if (!jobs) return;
  for (const auto& j : *jobs) {
    std::error_code ec;
    fs::remove_all(job_dir(j.id), ec);
    db_.write([&](store::Conn& c) { return store::delete_export_job(c, j.id); });
    log::info("export.expired", {{"job", j.id}});
  }
}

void ExportEngine::loop() {
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      woken_ = false;
    }
    expire();
    auto queued = store::export_jobs_with_status(db_.reader(), "queued");
    if (queued && !queued->empty()) {
      run_job(queued->front());
      continue;
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(30), [this] { return stop_ || woken_; });
  }
}

void ExportEngine::run_pending_for_test() {
  for (;;) {
    auto queued = store::export_jobs_with_status(db_.reader(), "queued");
    if (!queued || queued->empty()) return;
    if (!run_job(queued->front())) return;
  }
}

bool ExportEngine::run_job(store::ExportJob j) {
  const std::string id = j.id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_ = id;
    progress_[id] = "starting";
  }
  auto finish_state = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    running_.clear();
    cancelled_.erase(id);
    progress_.erase(id);
  };
  j.status = "running";
  j.started_ms = clock_.now_ms();
  Status st = db_.write([&](store::Conn& c) { return store::update_export_job(c, j); });
  if (!st) {  // deleted (cancelled) meanwhile, or the database failed
    finish_state();
    return true;
  }
  std::error_code ec;
  const std::string dir = job_dir(id);
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);

  enum class End { done, failed, interrupted };
  End end = End::done;
  std::string failure;
  json::Array output;
  int64_t total = 0;
  auto interrupted = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    return stop_ || cancelled_.count(id) > 0;
  };

  if (ec) {
    end = End::failed;
    failure = "cannot create the export directory: " + ec.message();
  }
  if (end == End::done) {
    st = db_.read([&](store::Conn& c) -> Status {
      // The first read fixes the snapshot; transactionTime is taken after it.
      auto active = store::count_active_export_jobs(c);
      if (!active) return active.status();
      j.transaction_ms = clock_.now_ms();
      store::ExportScan base;
      base.since_ms = j.since_ms;
      base.until_ms = j.transaction_ms;
      base.compartment = j.level != "system";
      if (j.level == "group") {
        auto g = resources_.read(c, "Group", j.group_id);
        if (!g) return Status(Err::not_found, "Group/" + j.group_id + " is not available: " + g.status().message);
        json::ParseOptions po;
        po.preserve_numbers = true;
        po.max_depth = 1000;
        auto gv = json::parse(g->body, po);
        if (!gv) return gv.status();
        base.patients = group_patients(*gv, base_url_);
        if (base.patients.empty()) return Status();  // no members: no output
      }
      std::vector<std::string> types = j.types.empty() ? default_types(j.level) : j.types;
      for (const std::string& type : types) {
        store::ExportScan scan = base;
        scan.type = type;
        scan.limit = 1000;
        int file_no = 0;
        int64_t in_file = 0;
        std::ofstream out;
        std::string name;
        auto close_file = [&]() -> Status {
          if (!out.is_open()) return Status();
          out.close();
          if (!out) return Status(Err::internal, "writing " + name + " failed");
          json::Object o;
          o["type"] = json::Value(type);
          o["url"] = json::Value(base_url_ + "/$export-file/" + id + "/" + name);
          o["count"] = json::make_number(in_file);
          output.emplace_back(o);
          return Status();
        };
        for (;;) {
          if (interrupted()) return Status(Err::unavailable, "interrupted");
          auto rows = store::scan_export(c, scan);
          if (!rows) return rows.status();
          for (const auto& r : *rows) {
            if (!out.is_open() || in_file >= opt_.max_resources_per_file) {
              Status s = close_file();
              if (!s) return s;
              name = type + "-" + std::to_string(++file_no) + ".ndjson";
              out.open(dir + "/" + name, std::ios::binary | std::ios::trunc);
              if (!out) return Status(Err::internal, "cannot write " + name + " in the export directory");
              in_file = 0;
            }
            out.write(r.body.data(), std::streamsize(r.body.size()));
            out.put('\n');
            ++in_file;
            ++total;
          }
          if (!rows->empty()) scan.after_rid = rows->back().rid;
          {
            std::lock_guard<std::mutex> lock(mu_);
            progress_[id] = type + ": " + std::to_string(total) + " resources exported";
          }
          if (rows->size() < size_t(scan.limit)) break;
        }
        Status s = close_file();
        if (!s) return s;
      }
      return Status();
    });
    if (!st) {
      if (st.code == Err::unavailable && st.message == "interrupted") {
        end = End::interrupted;
      } else {
        end = End::failed;
        failure = st.message;
      }
    }
  }

  if (end == End::interrupted) {
    fs::remove_all(dir, ec);
    bool was_cancel;
    {
      std::lock_guard<std::mutex> lock(mu_);
      was_cancel = cancelled_.count(id) > 0;
    }
    if (!was_cancel) {  // stopping: queue it again for the next start
      j.status = "queued";
      db_.write([&](store::Conn& c) { return store::update_export_job(c, j); });
    }
    log::info("export.interrupted", {{"job", id}, {"reason", was_cancel ? "cancelled" : "stopping"}});
    finish_state();
    return false;
  }
  j.finished_ms = clock_.now_ms();
  j.expires_ms = opt_.retention_seconds > 0 ? j.finished_ms + opt_.retention_seconds * 1000 : 0;
  if (end == End::done) {
    j.status = "done";
    j.output_json = json::write(json::Value(output));
  } else {
    j.status = "failed";
    j.error = failure;
    fs::remove_all(dir, ec);
  }
  st = db_.write([&](store::Conn& c) { return store::update_export_job(c, j); });
  if (!st) fs::remove_all(dir, ec);  // cancelled while finishing
  log::info("export.finished", {{"job", id}, {"status", j.status}, {"resources", total},
                                {"error", failure}});
  finish_state();
  return true;
}

Status ExportEngine::ensure_started() {
  std::lock_guard<std::mutex> lock(start_mu_);
  if (start_tried_) return start_status_;
  start_tried_ = true;
  if (db_.path().empty() || db_.path() == ":memory:")
    start_status_ = Status(Err::not_supported, "$export needs a database file (the NDJSON files are written next to it)");
  else
    start_status_ = start();
  return start_status_;
}

}  // namespace ef::service

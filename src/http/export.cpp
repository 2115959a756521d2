// http/export.cpp — see export.h.  The kick-off, status, manifest, file and cancel requests
// of the Bulk Data async pattern, and the ExportRunner worker.
//   GET [base]/$export | /Patient/$export | /Group/[id]/$export    (Prefer: respond-async)
//       -> 202, Content-Location: [base]/$export-poll/[job]
//   GET    [base]/$export-poll/[job]   202 + X-Progress + Retry-After | 200 manifest | 500 OperationOutcome
//   DELETE [base]/$export-poll/[job]   202: cancelled, files removed
//   GET    [base]/$export-file/[job]/[Type-n.ndjson]   application/fhir+ndjson
// With authentication on, only the caller that started a job (same issuer, subject and
// client id) may poll it, download its files or cancel it.
#include "http/export.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

#include "fhir/outcome.h"
#include "fhir/search_params.h"
#include "http/operations.h"
#include "util/log.h"
#include "util/time.h"

namespace fs = std::filesystem;

namespace ef::http {

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

std::string new_job_id() {
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

bool valid_job_id(const std::string& id) {
  return id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

std::vector<std::string> default_types(const std::string& level) {
  const auto& reg = fhir::registry();
  std::vector<std::string> out;
  for (const auto& t : reg.all_resource_types())
    if (level == "system" || patient_compartment_type(t)) out.push_back(t);
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

std::mutex g_runners_mu;
std::map<App*, ExportRunner*> g_runners;

}  // namespace

ExportRunner::ExportRunner(App& app, ExportOptions opt) : app_(app), opt_(std::move(opt)) {
  dir_ = opt_.directory.empty() ? app_.db->path() + ".export" : opt_.directory;
}

ExportRunner::~ExportRunner() { stop(); }

std::string ExportRunner::job_dir(const std::string& id) const { return dir_ + "/" + id; }

Status ExportRunner::start() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Status(Err::internal, "export directory '" + dir_ + "' cannot be created: " + ec.message());
  // Jobs interrupted by a stop or crash run again from the start.  Their partial files are
  // removed once the requeue committed (the callback may be rolled back: store/db.h).
  std::vector<std::string> requeued;
  Status st = app_.db->write([&](store::Conn& c) -> Status {
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

void ExportRunner::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  started_ = false;
}

void ExportRunner::wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void ExportRunner::cancel(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (running_ == id) cancelled_.insert(id);
}

std::string ExportRunner::progress(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = progress_.find(id);
  return it == progress_.end() ? std::string() : it->second;
}

void ExportRunner::expire() {
  int64_t now = app_.clock->now_ms();
  auto jobs = store::expired_export_jobs(app_.db->reader(), now);
  if (!jobs) return;
  for (const auto& j : *jobs) {
    std::error_code ec;
    fs::remove_all(job_dir(j.id), ec);
    app_.db->write([&](store::Conn& c) { return store::delete_export_job(c, j.id); });
    log::info("export.expired", {{"job", j.id}});
  }
}

void ExportRunner::loop() {
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      woken_ = false;
    }
    expire();
    auto queued = store::export_jobs_with_status(app_.db->reader(), "queued");
    if (queued && !queued->empty()) {
      run_job(queued->front());
      continue;
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(30), [this] { return stop_ || woken_; });
  }
}

void ExportRunner::run_pending_for_test() {
  for (;;) {
    auto queued = store::export_jobs_with_status(app_.db->reader(), "queued");
    if (!queued || queued->empty()) return;
    if (!run_job(queued->front())) return;
  }
}

bool ExportRunner::run_job(store::ExportJob j) {
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
  j.started_ms = app_.clock->now_ms();
  Status st = app_.db->write([&](store::Conn& c) { return store::update_export_job(c, j); });
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
    st = app_.db->read([&](store::Conn& c) -> Status {
      // The first read fixes the snapshot; transactionTime is taken after it.
      auto active = store::count_active_export_jobs(c);
      if (!active) return active.status();
      j.transaction_ms = app_.clock->now_ms();
      store::ExportScan base;
      base.since_ms = j.since_ms;
      base.until_ms = j.transaction_ms;
      base.compartment = j.level != "system";
      if (j.level == "group") {
        auto g = app_.resources->read(c, "Group", j.group_id);
        if (!g) return Status(Err::not_found, "Group/" + j.group_id + " is not available: " + g.status().message);
        json::ParseOptions po;
        po.preserve_numbers = true;
        po.max_depth = 1000;
        auto gv = json::parse(g->body, po);
        if (!gv) return gv.status();
        base.patients = group_patients(*gv, app_.base_url);
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
          o["url"] = json::Value(app_.base_url + "/$export-file/" + id + "/" + name);
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
      app_.db->write([&](store::Conn& c) { return store::update_export_job(c, j); });
    }
    log::info("export.interrupted", {{"job", id}, {"reason", was_cancel ? "cancelled" : "stopping"}});
    finish_state();
    return false;
  }
  j.finished_ms = app_.clock->now_ms();
  j.expires_ms = opt_.retention_seconds > 0 ? j.finished_ms + opt_.retention_seconds * 1000 : 0;
  if (end == End::done) {
    j.status = "done";
    j.output_json = json::write(json::Value(output));
  } else {
    j.status = "failed";
    j.error = failure;
    fs::remove_all(dir, ec);
  }
  st = app_.db->write([&](store::Conn& c) { return store::update_export_job(c, j); });
  if (!st) fs::remove_all(dir, ec);  // cancelled while finishing
  log::info("export.finished", {{"job", id}, {"status", j.status}, {"resources", total},
                                {"error", failure}});
  finish_state();
  return true;
}

Result<ExportRunner*> export_runner(App& app) {
  std::lock_guard<std::mutex> lock(g_runners_mu);
  auto it = g_runners.find(&app);
  if (it != g_runners.end()) return it->second;
  const json::Value* sec = json::get(app.cfg.raw, "export");
  auto opt = export_options_from_config(sec ? *sec : json::Value());
  if (!opt) return Status(Err::internal, "config: " + opt.status().message);
  if (app.db->path().empty() || app.db->path() == ":memory:")
    return Status(Err::not_supported, "$export needs a database file (the NDJSON files are written next to it)");
  struct Owner {
    App* app;
    std::unique_ptr<ExportRunner> runner;
    ~Owner() {
      runner->stop();
      std::lock_guard<std::mutex> lock(g_runners_mu);
      g_runners.erase(app);
    }
  };
  auto owner = std::make_shared<Owner>();
  owner->app = &app;
  owner->runner = std::make_unique<ExportRunner>(app, *opt);
  Status st = owner->runner->start();
  if (!st) return st;
  ExportRunner* r = owner->runner.get();
  g_runners[&app] = r;
  app.keep_alive.push_back(owner);
  return r;
}

// The owner key: a JSON array [issuer, subject, client] (unambiguous whatever the claims
// contain: "a|b" cannot collide with "a" + "b|").  A token without `sub` is keyed by its client
// (azp / client_id) alone; one with neither cannot own a job (export_owner is "" and the kick-off
// refuses it).
std::string export_owner(const Ctx& c) {
  if (!c.principal || !c.principal->authenticated) return "";
  const auth::Principal& p = *c.principal;
  if (p.subject.empty() && p.client_id.empty()) return "";
  json::Array a{json::Value(p.issuer), json::Value(p.subject), json::Value(p.client_id)};
  return json::write(json::Value(a));
}

// ---------------------------------------------------------------- HTTP

namespace {

void send_outcome(Ctx& c, int status, const std::string& severity, const std::string& code, const std::string& msg) {
  fhir::Issue i;
  i.severity = severity;
  i.code = code;
  i.diagnostics = msg;
  send_json(c, status, json::write(fhir::operation_outcome(i)));
}

// The job named in the URL, if this caller may see it (else the response is sent).
std::optional<store::ExportJob> caller_job(Ctx& c, const std::string& id) {
  if (!valid_job_id(id)) {
    send_error(c, Status(Err::not_found, "no export job '" + id + "'"));
    return std::nullopt;
  }
  auto j = store::get_export_job(c.app.db->reader(), id);
  if (!j) {
    send_error(c, j.status());
    return std::nullopt;
  }
  if (!j->has_value()) {
    send_error(c, Status(Err::not_found, "no export job '" + id + "' (finished jobs expire; cancelled ones are removed)"));
    return std::nullopt;
  }
  if ((*j)->owner != export_owner(c) || ((*j)->owner.empty() && c.principal && c.principal->authenticated)) {
    send_error(c, Status(Err::forbidden, "forbidden: export job " + id +
                                             " belongs to another caller (only the client that started it may use it)"));
    return std::nullopt;
  }
  return **j;
}

void send_manifest(Ctx& c, const store::ExportJob& j) {
  json::Object m;
  m["transactionTime"] = json::Value(timefmt::format_instant(j.transaction_ms));
  m["request"] = json::Value(j.request);
  m["requiresAccessToken"] = json::Value(c.app.cfg.auth_required());
  json::ParseOptions po;
  auto out = json::parse(j.output_json.empty() ? "[]" : j.output_json, po);
  m["output"] = out ? *out : json::Value(json::Array());
  m["error"] = json::Value(json::Array());
  if (j.expires_ms > 0) c.res.set_header("Expires", timefmt::format_http_date(j.expires_ms));
  c.res.status = 200;
  c.res.set_content(json::write(json::Value(m), c.pretty), "application/json");
}

void send_file(Ctx& c, const store::ExportJob& j, const std::string& dir, const std::string& name) {
  bool listed = false;
  auto out = json::parse(j.output_json.empty() ? "[]" : j.output_json);
  if (out && json::is_array(*out))
    for (const auto& o : *json::as_array(*out)) {
      std::string url = json::string_or(o, "url");
      if (url == c.app.base_url + "/$export-file/" + j.id + "/" + name) listed = true;
    }
  if (!listed) return send_error(c, Status(Err::not_found, "export job " + j.id + " has no file '" + name + "'"));
  std::string path = dir + "/" + name;
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) return send_error(c, Status(Err::not_found, "the file '" + name + "' of export job " + j.id + " is gone"));
  auto in = std::make_shared<std::ifstream>(path, std::ios::binary);
  if (!*in) return send_error(c, Status(Err::internal, "cannot read the file '" + name + "'"));
  c.res.status = 200;
  c.res.set_content_provider(
      size_t(size), "application/fhir+ndjson",
      [in](size_t offset, size_t length, httplib::DataSink& sink) {
        char buf[65536];
        in->seekg(std::streamoff(offset));
        size_t n = std::min(length, sizeof buf);
        in->read(buf, std::streamsize(n));
        std::streamsize got = in->gcount();
        if (got <= 0) return false;
        return sink.write(buf, size_t(got));
      });
}

bool valid_output_format(const std::string& f) {
  return f == "application/fhir+ndjson" || f == "application/ndjson" || f == "ndjson";
}

}  // namespace

void handle_export(Ctx& c, const std::string& type, const std::string& id) {
  if (c.req.method != "GET")
    return send_error(c, Status(Err::method_not_allowed, "$export is started with GET (Prefer: respond-async)"));
  if (!prefer_has(c, "respond-async"))
    return send_error(c, Status(Err::invalid, "$export runs asynchronously: send the header 'Prefer: respond-async'"));
  if (!c.decision.unrestricted())
    return send_error(c, Status(Err::forbidden, "forbidden: $export cannot apply the token's restrictions (" +
                                                    c.decision.reason + ")"));
  auto params = operation_params(c);
  if (!params) return send_error(c, params.status());
  store::ExportJob j;
  j.level = type.empty() ? "system" : type == "Patient" ? "patient" : "group";
  j.group_id = id;
  bool lenient = prefer_has(c, "handling=lenient");
  for (const auto& kv : *params) {
    const std::string& n = kv.first;
    const std::string& v = kv.second;
    if (n == "_outputFormat") {
      if (!valid_output_format(v))
        return send_error(c, Status(Err::invalid, "_outputFormat '" + v +
                                                      "' is not supported (application/fhir+ndjson, application/ndjson or ndjson)",
                                    "_outputFormat"));
    } else if (n == "_since") {
      auto r = timefmt::parse_fhir_time(v);
      if (!r || r->precision < 5 || !r->has_tz)
        return send_error(c, Status(Err::invalid, "_since: '" + v + "' is not a FHIR instant (e.g. 2024-01-01T00:00:00Z)", "_since"));
      j.since_ms = r->lo_ms;
    } else if (n == "_type") {
      auto ts = type_list(v);
      if (!ts) return send_error(c, ts.status());
      for (const std::string& t : *ts) {
        if (j.level != "system" && !patient_compartment_type(t))
          return send_error(c, Status(Err::invalid, "_type: " + t + " resources are not in the Patient compartment; "
                                                                      "export them with the system-level /$export",
                                      "_type"));
        if (std::find(j.types.begin(), j.types.end(), t) == j.types.end()) j.types.push_back(t);
      }
    } else if (n == "_format" || n == "_pretty") {
    } else if (!lenient) {
      return send_error(c, Status(Err::invalid, "'" + n + "' is not supported by this server's $export (_type, _since, "
                                                          "_outputFormat); send 'Prefer: handling=lenient' to ignore it",
                                  n));
    }
  }
  auto runner = export_runner(c.app);
  if (!runner) return send_error(c, runner.status());
  if (j.level == "group") {
    auto group = c.app.service->read(*c.access, "Group", id);  // the caller must be able to read it
    if (!group) return send_error(c, group.status());
  }
  j.id = new_job_id();
  j.request = c.app.base_url + c.req.target;
  j.owner = export_owner(c);
  if (j.owner.empty() && c.principal && c.principal->authenticated)
    return send_error(c, Status(Err::forbidden, "forbidden: a token without 'sub' and without a client id (azp, "
                                                "client_id) cannot own an export job"));
  j.created_ms = c.app.clock->now_ms();
  int max_active = (*runner)->options().max_active_jobs;
  bool busy = false;
  Status st = c.app.db->write([&](store::Conn& conn) -> Status {
    auto n = store::count_active_export_jobs(conn);
    if (!n) return n.status();
    if (*n >= max_active) {
      busy = true;
      return Status(Err::too_many, "too many export jobs are queued or running (" + std::to_string(*n) +
                                       "); try again later");
    }
    return store::insert_export_job(conn, j);
  });
  if (busy) c.res.set_header("Retry-After", std::to_string((*runner)->options().retry_after_seconds * 10));
  if (!st) return send_error(c, st);
  (*runner)->wake();
  log::info("export.queued", {{"job", j.id}, {"level", j.level}, {"request_id", c.request_id}});
  c.res.set_header("Content-Location", c.app.base_url + "/$export-poll/" + j.id);
  send_outcome(c, 202, "information", "informational",
               "export job " + j.id + " accepted; poll " + c.app.base_url + "/$export-poll/" + j.id);
}

void handle_export_job(Ctx& c) {
  const auto& s = c.seg;
  auto runner = export_runner(c.app);
  if (!runner) return send_error(c, runner.status());
  const std::string& m = c.req.method;
  if (s[0] == "$export-poll") {
    if (s.size() != 2) return send_error(c, Status(Err::not_found, "expected /$export-poll/[job]"));
    if (m != "GET" && m != "HEAD" && m != "DELETE")
      return send_error(c, Status(Err::method_not_allowed, "the export status URL takes GET or DELETE"));
    auto j = caller_job(c, s[1]);
    if (!j) return;
    if (m == "DELETE") {
      Status st = c.app.db->write([&](store::Conn& conn) { return store::delete_export_job(conn, j->id); });
      if (!st) return send_error(c, st);
      (*runner)->cancel(j->id);
      if (j->status != "running") {
        std::error_code ec;
        fs::remove_all((*runner)->job_dir(j->id), ec);
      }
      log::info("export.cancelled", {{"job", j->id}, {"request_id", c.request_id}});
      return send_outcome(c, 202, "information", "informational", "export job " + j->id + " cancelled and removed");
    }
    if (j->status == "queued" || j->status == "running") {
      std::string p = (*runner)->progress(j->id);
      c.res.set_header("X-Progress", p.empty() ? j->status : p);
      c.res.set_header("Retry-After", std::to_string((*runner)->options().retry_after_seconds));
      c.res.status = 202;
      return;
    }
    if (j->status == "failed") return send_error(c, Status(Err::internal, "export job " + j->id + " failed: " + j->error));
    return send_manifest(c, *j);
  }
  // $export-file/[job]/[file]
  if (s.size() != 3) return send_error(c, Status(Err::not_found, "expected /$export-file/[job]/[file]"));
  if (m != "GET" && m != "HEAD") return send_error(c, Status(Err::method_not_allowed, "export files are read with GET"));
  auto j = caller_job(c, s[1]);
  if (!j) return;
  if (j->status != "done") return send_error(c, Status(Err::not_found, "export job " + j->id + " has no files yet"));
  send_file(c, *j, (*runner)->job_dir(j->id), s[2]);
}

}  // namespace ef::http

// http/export.cpp — see export.h.  The kick-off, status, manifest, file and cancel requests
// of the Bulk Data async pattern (the worker is service/export_engine.h).
//   GET [base]/$export | /Patient/$export | /Group/[id]/$export    (Prefer: respond-async)
//       -> 202, Content-Location: [base]/$export-poll/[job]
//   GET    [base]/$export-poll/[job]   202 + X-Progress + Retry-After | 200 manifest | 500 OperationOutcome
//   DELETE [base]/$export-poll/[job]   202: cancelled, files removed
//   GET    [base]/$export-file/[job]/[Type-n.ndjson]   application/fhir+ndjson
// With authentication on, only the caller that started a job (same issuer, subject and
// client id) may poll it, download its files or cancel it.
#include "http/export.h"

#include <filesystem>
#include <fstream>

#include "fhir/outcome.h"
#include "fhir/search_params.h"
#include "http/operations.h"
#include "service/export_engine.h"
#include "util/log.h"
#include "util/time.h"

namespace fs = std::filesystem;

namespace ef::http {

namespace {

// The server's export engine, started on first use; errors (in-memory database, unusable
// directory) are returned.
Result<service::ExportEngine*> export_runner(App& app) {
  if (!app.exports) return Status(Err::not_supported, "$export needs a database file (the NDJSON files are written next to it)");
  Status st = app.exports->ensure_started();
  if (!st) return st;
  return app.exports.get();
}

}  // namespace


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
  if (!service::valid_export_job_id(id)) {
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
  j.id = service::new_export_job_id();
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

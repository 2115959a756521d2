// store/export_jobs.cpp — see export_jobs.h.  Rows of export_job (migration 8) and the
// export scan over resource / resource_version / idx_reference.
#include "store/export_jobs.h"

#include "fhir/search_params.h"
#include "util/json.h"

namespace ef::store {

namespace {

const char* kCols =
    "id, status, request, level, group_id, types, since_ms, owner, created_ms, started_ms, finished_ms, "
    "transaction_ms, output, error, expires_ms";

std::string join_types(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& t : v) out += (out.empty() ? "" : ",") + t;
  return out;
}

std::vector<std::string> split_types(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string_view::npos) j = s.size();
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

ExportJob read_job(Stmt& s) {
  ExportJob j;
  j.id = std::string(s.text(0));
  j.status = std::string(s.text(1));
  j.request = std::string(s.text(2));
  j.level = std::string(s.text(3));
  j.group_id = std::string(s.text(4));
  j.types = split_types(s.text(5));
  j.since_ms = s.is_null(6) ? -1 : s.int64(6);
  j.owner = std::string(s.text(7));
  j.created_ms = s.int64(8);
  j.started_ms = s.int64(9);
  j.finished_ms = s.int64(10);
  j.transaction_ms = s.int64(11);
  j.output_json = std::string(s.text(12));
  j.error = std::string(s.text(13));
  j.expires_ms = s.int64(14);
  return j;
}

Result<std::vector<ExportJob>> read_jobs(Stmt& s) {
  std::vector<ExportJob> out;
  while (s.step()) out.push_back(read_job(s));
  Status st = s.status();
  s.reset();
  if (!st) return st;
  return out;
}

std::string json_strings(const std::vector<std::string>& v) {
  json::Array a;
  for (const auto& s : v) a.emplace_back(s);
  return json::write(json::Value(a));
}

std::string json_ints(const std::vector<int64_t>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + std::to_string(v[i]);
  return out + "]";
}

}  // namespace

Status insert_export_job(Conn& c, const ExportJob& j) {
  Stmt& s = c.prepare(std::string("INSERT INTO export_job(") + kCols +
                      ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)");
  s.bind(1, j.id).bind(2, j.status).bind(3, j.request).bind(4, j.level).bind(5, j.group_id).bind(6, join_types(j.types));
  if (j.since_ms >= 0) s.bind(7, j.since_ms); else s.bind_null(7);
  s.bind(8, j.owner).bind(9, j.created_ms).bind(10, j.started_ms).bind(11, j.finished_ms).bind(12, j.transaction_ms);
  s.bind(13, j.output_json).bind(14, j.error).bind(15, j.expires_ms);
  return s.run();
}

Result<std::optional<ExportJob>> get_export_job(Conn& c, const std::string& id) {
  Stmt& s = c.prepare(std::string("SELECT ") + kCols + " FROM export_job WHERE id=?1");
  s.bind(1, id);
  auto rows = read_jobs(s);
  if (!rows) return rows.status();
  if (rows->empty()) return std::optional<ExportJob>();
  return std::optional<ExportJob>(std::move(rows->front()));
}

Status update_export_job(Conn& c, const ExportJob& j) {
  Stmt& s = c.prepare(
      "UPDATE export_job SET status=?2, request=?3, level=?4, group_id=?5, types=?6, since_ms=?7, owner=?8, "
      "started_ms=?9, finished_ms=?10, transaction_ms=?11, output=?12, error=?13, expires_ms=?14 WHERE id=?1");
  s.bind(1, j.id).bind(2, j.status).bind(3, j.request).bind(4, j.level).bind(5, j.group_id).bind(6, join_types(j.types));
  if (j.since_ms >= 0) s.bind(7, j.since_ms); else s.bind_null(7);
  s.bind(8, j.owner).bind(9, j.started_ms).bind(10, j.finished_ms).bind(11, j.transaction_ms);
  s.bind(12, j.output_json).bind(13, j.error).bind(14, j.expires_ms);
  Status st = s.run();
  if (!st) return st;
  if (c.changes() == 0) return Status(Err::not_found, "export job " + j.id + " does not exist");
  return Status();
}

Status delete_export_job(Conn& c, const std::string& id) {
  Stmt& s = c.prepare("DELETE FROM export_job WHERE id=?1");
  s.bind(1, id);
  return s.run();
}

Result<std::vector<ExportJob>> export_jobs_with_status(Conn& c, const std::string& status) {
  Stmt& s = c.prepare(std::string("SELECT ") + kCols + " FROM export_job WHERE status=?1 ORDER BY created_ms, id");
  s.bind(1, status);
  return read_jobs(s);
}

Result<std::vector<ExportJob>> expired_export_jobs(Conn& c, int64_t now_ms) {
  Stmt& s = c.prepare(std::string("SELECT ") + kCols +
                      " FROM export_job WHERE status IN ('done','failed') AND expires_ms > 0 AND expires_ms <= ?1");
  s.bind(1, now_ms);
  return read_jobs(s);
}

Result<int64_t> count_active_export_jobs(Conn& c) {
  Stmt& s = c.prepare("SELECT COUNT(*) FROM export_job WHERE status IN ('queued','running')");
  int64_t n = s.step() ? s.int64(0) : 0;
  Status st = s.status();
  s.reset();
  if (!st) return st;
  return n;
}

Result<std::vector<ExportRow>> scan_export(Conn& c, const ExportScan& scan) {
  std::vector<ExportRow> out;
  std::string sql =
      "SELECT r.rid, r.id, v.body FROM resource r JOIN resource_version v ON v.seq = r.seq "
      "WHERE r.type=?1 AND r.deleted=0 AND r.rid>?2 AND r.last_updated>=?3 AND r.last_updated<=?4";
  std::string pids_json, patients_json = json_strings(scan.patients);
  if (scan.compartment) {
    if (scan.type == "Patient") {
      if (!scan.patients.empty()) sql += " AND r.id IN (SELECT value FROM json_each(?5))";
    } else {
      const auto& codes = fhir::registry().compartment_params(scan.type);
      if (codes.empty()) return out;
      std::vector<int64_t> pids;
      Stmt& p = c.prepare("SELECT pid FROM search_param WHERE type=?1 AND code=?2");
      for (const auto& code : codes) {
        p.bind(1, scan.type).bind(2, code);
        if (p.step()) pids.push_back(p.int64(0));
        Status st = p.status();
        p.reset();
        if (!st) return st;
      }
      if (pids.empty()) return out;
      pids_json = json_ints(pids);
      sql += " AND r.rid IN (SELECT x.rid FROM idx_reference x WHERE x.ref_type='Patient' AND "
             "x.pid IN (SELECT value FROM json_each(?6))";
      if (!scan.patients.empty()) sql += " AND x.ref_id IN (SELECT value FROM json_each(?5))";
      sql += ")";
    }
  }
  sql += " ORDER BY r.rid LIMIT ?7";
  Stmt& s = c.prepare(sql);
  s.bind(1, scan.type).bind(2, scan.after_rid).bind(3, scan.since_ms < 0 ? INT64_MIN : scan.since_ms);
  s.bind(4, scan.until_ms < 0 ? INT64_MAX : scan.until_ms);
  if (sql.find("?5") != std::string::npos) s.bind(5, patients_json);
  if (sql.find("?6") != std::string::npos) s.bind(6, pids_json);
  s.bind(7, int64_t(scan.limit));
  while (s.step()) {
    ExportRow r;
    r.rid = s.int64(0);
    r.id = std::string(s.text(1));
    r.body = std::string(s.text(2));
    out.push_back(std::move(r));
  }
  Status st = s.status();
  s.reset();
  if (!st) return st;
  return out;
}

}  // namespace ef::store

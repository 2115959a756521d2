// http/restrict.cpp — see restrict.h.
#include "http/restrict.h"

#include "fhir/resource.h"
#include "fhir/search_params.h"

namespace ef::http {

static bool params_free(const auth::Decision& d) {
  for (const auto& k : d.constraints)
    if (!k.params.empty()) return false;
  return true;
}

bool restriction_supported(const Ctx& c, auth::Interaction i) {
  using I = auth::Interaction;
  if (c.decision.unrestricted()) return true;
  switch (i) {
    case I::read: case I::vread: case I::history_instance:
    case I::create: case I::update: case I::patch: case I::del:
      return params_free(c.decision);
    case I::search_type: case I::search_system: case I::search_compartment: case I::everything:
      // Search limits matches (and included resources) to the one patient's compartment;
      // $everything answers only for that patient (http/everything.cpp).
      return params_free(c.decision) && !c.decision.compartment_patient.empty();
    default:
      return false;
  }
}

static Status refused(const Ctx& c, const std::string& what) {
  return Status(Err::forbidden, "forbidden: " + what + " is outside what the token's scopes allow (" +
                                    c.decision.reason + ")");
}

// Membership of a stored resource in Patient/{patient}'s compartment, from its index rows.
static Result<bool> stored_in_compartment(Ctx& c, const std::string& type, const std::string& id,
                                          const std::string& patient) {
  if (type == "Patient") return id == patient;
  const auto& params = fhir::registry().compartment_params(type);
  if (params.empty()) return false;
  store::Conn& conn = c.app.db->reader();
  std::string sql =
      "SELECT 1 FROM resource r JOIN idx_reference x ON x.rid = r.rid JOIN search_param p ON p.pid = x.pid "
      "WHERE r.type = ?1 AND r.id = ?2 AND x.ref_type = 'Patient' AND x.ref_id = ?3 AND p.code IN (";
  for (size_t i = 0; i < params.size(); ++i) sql += (i ? ",?" : "?") + std::to_string(i + 4);
  sql += ") LIMIT 1";
  store::Stmt& q = conn.prepare(sql);
  q.bind(1, type).bind(2, id).bind(3, patient);
  for (size_t i = 0; i < params.size(); ++i) q.bind(int(i + 4), params[i]);
  bool found = q.step();
  Status st = q.status();
  q.reset();
  if (!st) return st;
  return found;
}

static bool proposed_in_compartment(Ctx& c, const json::Value& res, const std::string& patient) {
  const std::string& type = fhir::resource_type_of(res);
  if (type == "Patient") return json::string_or(res, "id") == patient;
  const auto& params = fhir::registry().compartment_params(type);
  fhir::IndexRows rows;
  c.app.repo->index(res, &rows);
  for (const auto& r : rows) {
    if (r.type != fhir::ParamType::reference || r.ref_type != "Patient" || r.ref_id != patient) continue;
    for (const auto& p : params)
      if (p == r.param) return true;
  }
  return false;
}

Status enforce_stored(Ctx& c, const std::string& type, const std::string& id) {
  if (c.decision.unrestricted()) return Status();
  for (const auto& k : c.decision.constraints) {
    if (!k.params.empty()) continue;  // not evaluable here: does not match
    if (k.compartment_patient.empty()) return Status();
    auto in = stored_in_compartment(c, type, id, k.compartment_patient);
    if (!in) return in.status();
    if (*in) return Status();
  }
  return refused(c, type + "/" + id);
}

Status enforce_proposed(Ctx& c, const json::Value& resource) {
  if (c.decision.unrestricted()) return Status();
  for (const auto& k : c.decision.constraints) {
    if (!k.params.empty()) continue;
    if (k.compartment_patient.empty() || proposed_in_compartment(c, resource, k.compartment_patient)) return Status();
  }
  return refused(c, "this " + fhir::resource_type_of(resource));
}

}  // namespace ef::http

// http/operations.cpp — see operations.h.  Maps operation names to their handlers and
// holds the parameter helpers the operation files share.
#include "http/operations.h"

#include <algorithm>
#include <cctype>

#include "fhir/search_params.h"

namespace ef::http {

auth::Interaction operation_interaction(const std::string& op) {
  using I = auth::Interaction;
  if (op == "$everything") return I::everything;
  if (op == "$export") return I::export_;
  if (op == "$validate") return I::validate;
  return I::admin;
}

static std::string lower(std::string s) {
  for (auto& ch : s) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// The parts of s between any of `seps`, each trimmed of spaces (empty parts kept).
static std::vector<std::string> split_trimmed(const std::string& s, const char* seps) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find_first_of(seps, i);
    if (j == std::string::npos) j = s.size();
    std::string part = s.substr(i, j - i);
    while (!part.empty() && part.front() == ' ') part.erase(0, 1);
    while (!part.empty() && part.back() == ' ') part.pop_back();
    out.push_back(std::move(part));
    i = j + 1;
  }
  return out;
}

bool prefer_has(const Ctx& c, const std::string& token) {
  const std::string t = lower(token);
  for (const std::string& part : split_trimmed(lower(c.header("Prefer")), ",;"))
    if (part == t) return true;
  return false;
}

Result<std::vector<std::string>> type_list(const std::string& v) {
  std::vector<std::string> out;
  for (const std::string& t : split_trimmed(v, ",")) {
    if (t.empty() || !fhir::registry().is_resource_type(t))
      return Status(Err::invalid, "_type: '" + t + "' is not a FHIR R4 resource type", "_type");
    if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  }
  return out;
}

bool patient_compartment_type(const std::string& t) {
  return t == "Patient" || !fhir::registry().compartment_params(t).empty();
}

bool prefer_strict(const Ctx& c) { return prefer_has(c, "handling=strict"); }

Result<fhir::QueryParams> operation_params(const Ctx& c) {
  const std::string& target = c.req.target;
  size_t q = target.find('?');
  fhir::QueryParams out;
  if (q != std::string::npos) {
    auto p = fhir::parse_query_string(std::string_view(target).substr(q + 1), false);
    if (!p) return p.status();
    out = std::move(*p);
  }
  if (c.req.method == "POST") {
    if (media_type(c.header("Content-Type")) == "application/x-www-form-urlencoded") {
      auto p = fhir::parse_query_string(c.req.body, true);
      if (!p) return p.status();
      for (auto& kv : *p) out.push_back(std::move(kv));
    }
  }
  return out;
}

static void unsupported(Ctx& c, const std::string& op, const std::string& where) {
  send_error(c, Status(Err::not_supported, "operation '" + op + "' is not supported" + where));
}

void handle_type_operation(Ctx& c, const std::string& type, const std::string& op) {
  if (op == "$validate") return handle_validate(c, type, "");
  if (op == "$everything" && type == "Patient") return handle_everything(c, "");
  if (op == "$export" && type == "Patient") return handle_export(c, type, "");
  if (op == "$everything" || op == "$export")
    return unsupported(c, op, " on " + type + (op == "$export" ? " (use /$export, /Patient/$export or /Group/[id]/$export)"
                                                               : " (only Patient/$everything)"));
  unsupported(c, op, "");
}

void handle_instance_operation(Ctx& c, const std::string& type, const std::string& id, const std::string& op) {
  if (op == "$validate") return handle_validate(c, type, id);
  if (op == "$everything" && type == "Patient") return handle_everything(c, id);
  if (op == "$export" && type == "Group") return handle_export(c, type, id);
  if (op == "$everything" || op == "$export")
    return unsupported(c, op, " on " + type + "/[id]" + (op == "$export" ? " (only Group/[id]/$export)" : " (only Patient/[id]/$everything)"));
  unsupported(c, op, "");
}

}  // namespace ef::http

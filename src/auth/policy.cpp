// auth/policy.cpp — see policy.h for the rules.  Owns the default role table, the
// interaction -> requirement tables and the wording of every refusal.
#include "auth/policy.h"

#include <algorithm>


namespace ef::auth {

namespace {

struct NamedPerm {
  const char* name;
  unsigned bits;
};
constexpr NamedPerm kPermNames[] = {
    {"read", kPermRead},     {"write", kPermWrite}, {"delete", kPermDelete},
    {"export", kPermExport}, {"import", kPermImport}, {"validate", kPermValidate},
    {"admin", kPermAdmin},   {"smart", kPermSmart},
};

struct NamedInteraction {
  Interaction i;
  const char* name;
};
constexpr NamedInteraction kInteractions[] = {
    {Interaction::read, "read"},
    {Interaction::vread, "vread"},
    {Interaction::search_type, "search-type"},
    {Interaction::search_system, "search-system"},
    {Interaction::search_compartment, "search-compartment"},
    {Interaction::history_instance, "history-instance"},
    {Interaction::history_type, "history-type"},
    {Interaction::history_system, "history-system"},
    {Interaction::create, "create"},
    {Interaction::update, "update"},
    {Interaction::patch, "patch"},
    {Interaction::del, "delete"},
    {Interaction::transaction, "transaction"},
    {Interaction::batch, "batch"},
    {Interaction::capabilities, "capabilities"},
    {Interaction::everything, "everything"},
    {Interaction::export_, "export"},
    {Interaction::import_, "import"},
    {Interaction::validate, "validate"},
    {Interaction::admin, "admin"},
};

const std::map<std::string, unsigned>& default_roles() {
  static const std::map<std::string, unsigned> k = {
      {"FHIR Data Reader", kPermRead},
      {"FHIR Data Writer", kPermRead | kPermWrite | kPermDelete},
      {"FHIR Data Contributor", kPermAll},
      {"FHIR Data Exporter", kPermRead | kPermExport},
      {"FHIR Data Importer", kPermRead | kPermImport},
      {"FHIR SMART User", kPermSmart},
      {"globalReader", kPermRead},
      {"globalWriter", kPermRead | kPermWrite | kPermDelete},
      {"globalAdmin", kPermAll},
      {"globalExporter", kPermRead | kPermExport},
      {"globalImporter", kPermRead | kPermImport},
  };
  return k;
}

// What an interaction needs from roles and from scopes.
struct Need {
  unsigned perm = 0;          // role permission bits, all required
  bool any_perm = false;      // instead: any data permission (bundle itself)
  unsigned letters = 0;       // scope letters, all on one scope
  bool any_scope = false;     // instead: any clinical scope (bundle itself)
  bool wildcard_type = false; // scope type must be "*"
  bool system_only = false;   // scope level must be system/
};

Need need_for(const Request& r) {
  Need n;
  switch (r.interaction) {
    case Interaction::read:
    case Interaction::vread:
    case Interaction::history_instance:
      n.perm = kPermRead, n.letters = kScopeRead;
      break;
    case Interaction::search_type:
    case Interaction::search_compartment:
    case Interaction::history_type:
      n.perm = kPermRead, n.letters = kScopeSearch;
      break;
    case Interaction::search_system:
    case Interaction::history_system:
      n.perm = kPermRead, n.letters = kScopeSearch, n.wildcard_type = true;
      break;
    case Interaction::create: n.perm = kPermWrite, n.letters = kScopeCreate; break;
    case Interaction::update:
    case Interaction::patch: n.perm = kPermWrite, n.letters = kScopeUpdate; break;
    case Interaction::del: n.perm = kPermDelete, n.letters = kScopeDelete; break;
    case Interaction::transaction:
    case Interaction::batch: n.any_perm = true, n.any_scope = true; break;
    case Interaction::capabilities: break;
    case Interaction::everything:
      n.perm = kPermRead, n.letters = kScopeRead | kScopeSearch, n.wildcard_type = true;
      break;
    case Interaction::validate: n.perm = kPermValidate, n.letters = kScopeRead; break;
    case Interaction::export_:
      n.perm = kPermExport, n.letters = kScopeRead | kScopeSearch, n.system_only = true;
      break;
    case Interaction::import_:
      n.perm = kPermImport, n.letters = kScopeAll, n.wildcard_type = true, n.system_only = true;
      break;
    case Interaction::admin:
      n.perm = kPermAdmin, n.letters = kScopeAll, n.wildcard_type = true, n.system_only = true;
      break;
  }
  if (r.type.empty()) n.wildcard_type = true;
  return n;
}

std::string target(const Request& r) {
  if (r.type.empty()) return r.id;
  return r.id.empty() ? r.type : r.type + "/" + r.id;
}

std::string action_text(const Request& r) {
  const std::string t = target(r);
  auto with = [&](const char* verb) { return t.empty() ? std::string(verb) : std::string(verb) + " " + t; };
  switch (r.interaction) {
    case Interaction::read: return with("read");
    case Interaction::vread: return with("vread");
    case Interaction::search_type: return with("search");
    case Interaction::search_system: return "system-wide search";
    case Interaction::search_compartment: return with("compartment search of");
    case Interaction::history_instance:
    case Interaction::history_type: return with("history of");
    case Interaction::history_system: return "system history";
    case Interaction::create: return with("create");
    case Interaction::update: return with("update");
    case Interaction::patch: return with("patch");
    case Interaction::del: return with("delete");
    case Interaction::transaction: return "transaction";
    case Interaction::batch: return "batch";
    case Interaction::capabilities: return "capabilities";
    case Interaction::everything: return t.empty() ? "$everything" : "$everything on " + t;
    case Interaction::export_: return t.empty() ? "$export" : "$export of " + t;
    case Interaction::import_: return "$import";
    case Interaction::validate: return t.empty() ? "$validate" : "$validate of " + t;
    case Interaction::admin: return r.operation.empty() ? "administrative operation" : r.operation;
  }
  return "request";
}

std::string join_limited(const std::vector<std::string>& v, size_t max = 8) {
  std::string out;
  for (size_t i = 0; i < v.size() && i < max; ++i) {
    if (i) out += ", ";
    out += v[i];
  }
  if (v.size() > max) out += ", ... (" + std::to_string(v.size() - max) + " more)";
  return out;
}

std::string role_text(const Need& n) {
  if (n.any_perm) return "a role with any data permission";
  return "role permission '" + permission_names(n.perm) + "'";
}

// The scope that would allow the request, in v2 form, and with the v1 spelling.
std::string suggest_scope(const Need& n, const Request& r, const ScopeSet& ss) {
  if (n.any_scope) return "";
  const char* level = "user";
  if (n.system_only) level = "system";
  else {
    auto has = [&](ScopeLevel l) {
      return std::any_of(ss.clinical.begin(), ss.clinical.end(), [&](const ClinicalScope& c) { return c.level == l; });
    };
    if (has(ScopeLevel::patient)) level = "patient";
    else if (has(ScopeLevel::user)) level = "user";
    else if (has(ScopeLevel::system)) level = "system";
  }
  return std::string(level) + "/" + (n.wildcard_type ? std::string("*") : r.type) + "." + scope_perm_letters(n.letters);
}

std::string scope_text(const Need& n, const std::string& v2) {
  if (n.any_scope) return "any SMART clinical scope";
  unsigned v1 = (n.letters & ~(kScopeRead | kScopeSearch)) == 0 ? (kScopeRead | kScopeSearch)
              : (n.letters & ~(kScopeCreate | kScopeUpdate | kScopeDelete)) == 0 ? (kScopeCreate | kScopeUpdate | kScopeDelete)
              : kScopeAll;
  std::string head = v2.substr(0, v2.rfind('.') + 1);
  return "scope " + v2 + " (v1: " + head + scope_perm_v1(v1) + ")";
}

std::string roles_summary(const Principal& who, unsigned perms, const std::map<std::string, unsigned>& table) {
  if (who.roles.empty()) return "the token carries no roles";
  std::vector<std::string> known;
  for (const auto& r : who.roles)
    if (table.count(r)) known.push_back(r);
  if (known.empty()) return "the token's roles (" + join_limited(who.roles) + ") are not FHIR roles";
  return "the token's roles (" + join_limited(known) + ") grant: " + permission_names(perms);
}

std::string scopes_summary(const ScopeSet& ss) {
  std::vector<std::string> texts;
  for (const auto& c : ss.clinical) texts.push_back(c.text);
  std::string out = texts.empty() ? "the token carries no SMART clinical scopes"
                                  : "the token's SMART scopes (" + join_limited(texts) + ") do not cover it";
  return out;
}

bool params_subset(const std::vector<ScopeParam>& a, const std::vector<ScopeParam>& b) {
  for (const auto& p : a)
    if (std::find(b.begin(), b.end(), p) == b.end()) return false;
  return true;
}

// a permits everything b permits.
bool subsumes(const ScopeConstraint& a, const ScopeConstraint& b) {
  return (a.compartment_patient.empty() || a.compartment_patient == b.compartment_patient) &&
         params_subset(a.params, b.params);
}

struct ScopeOutcome {
  bool ok = false;
  bool missing_context = false;  // a patient/ scope would match but there is no patient
  std::string context_scope;     // that scope
  std::vector<ScopeConstraint> alts;
  std::string unrestricted_by;   // the scope that allows without restriction, if any
};

ScopeOutcome eval_scopes(const Principal& who, const Request& r, const Need& n, const ScopeSet& ss) {
  ScopeOutcome out;
  const std::string patient = patient_context(who);
  const std::string user_patient = fhir_user_patient(who.fhir_user);
  for (const ClinicalScope& c : ss.clinical) {
    if (n.any_scope) {
      out.ok = true;
      if (out.unrestricted_by.empty()) out.unrestricted_by = c.text;
      continue;
    }
    if (n.system_only && c.level != ScopeLevel::system) continue;
    if (n.wildcard_type ? c.type != "*" : !c.covers_type(r.type)) continue;
    if ((c.perms & n.letters) != n.letters) continue;
    ScopeConstraint alt{{}, c.params, c.text};
    if (c.level == ScopeLevel::patient) {
      if (patient.empty()) {
        out.missing_context = true;
        if (out.context_scope.empty()) out.context_scope = c.text;
        continue;
      }
      alt.compartment_patient = patient;
    } else if (c.level == ScopeLevel::user) {
      alt.compartment_patient = user_patient;
    }
    out.ok = true;
    out.alts.push_back(std::move(alt));
  }
  // Drop alternatives another one already covers; one unrestricted alternative clears all.
  std::vector<ScopeConstraint> kept;
  for (size_t i = 0; i < out.alts.size(); ++i) {
    bool covered = false;
    for (size_t j = 0; j < out.alts.size() && !covered; ++j) {
      if (i == j || !subsumes(out.alts[j], out.alts[i])) continue;
      // Equal alternatives: keep the first only.
      covered = !subsumes(out.alts[i], out.alts[j]) || j < i;
    }
    if (!covered) kept.push_back(out.alts[i]);
  }
  if (kept.size() == 1 && kept[0].compartment_patient.empty() && kept[0].params.empty()) {
    out.unrestricted_by = kept[0].scope;
    kept.clear();
  }
  out.alts = std::move(kept);
  return out;
}

std::string granted_by_roles(const Principal& who, const Need& n, const std::map<std::string, unsigned>& table) {
  std::vector<std::string> names;
  for (const auto& r : who.roles) {
    auto it = table.find(r);
    if (it == table.end()) continue;
    if (n.any_perm ? (it->second & kPermData) != 0 : (it->second & n.perm) != 0) names.push_back(r);
  }
  return (names.size() == 1 ? "role " : "roles ") + join_limited(names);
}

}  // namespace

const char* interaction_name(Interaction i) {
  for (const auto& e : kInteractions)
    if (e.i == i) return e.name;
  return "?";
}

bool parse_interaction(const std::string& name, Interaction* out) {
  for (const auto& e : kInteractions)
    if (name == e.name) {
      *out = e.i;
      return true;
    }
  return false;
}

bool parse_permission(const std::string& word, unsigned* out) {
  if (word == "*") {
    *out = kPermAll;
    return true;
  }
  for (const auto& p : kPermNames)
    if (word == p.name) {
      *out = p.bits;
      return true;
    }
  return false;
}

std::string permission_names(unsigned perms) {
  if (perms == kPermAll) return "*";
  std::string out;
  for (const auto& p : kPermNames)
    if (perms & p.bits) out += (out.empty() ? "" : " ") + std::string(p.name);
  return out.empty() ? "none" : out;
}

Policy::Policy() : roles_(default_roles()) {}

Result<Policy> Policy::from_config(const json::Value& auth) {
  Policy p;
  if (auth.is<picojson::null>()) return p;
  if (!json::is_object(auth)) return Status(Err::invalid, "config: 'auth' must be an object");
  if (const json::Value* rp = json::get(auth, "role_permissions")) {
    const json::Object* obj = json::as_object(*rp);
    if (!obj) return Status(Err::invalid, "config: auth.role_permissions must be an object mapping role names to arrays of permissions");
    for (const auto& [role, words] : *obj) {
      const json::Array* arr = json::as_array(words);
      if (!arr) return Status(Err::invalid, "config: auth.role_permissions[\"" + role + "\"] must be an array of permissions");
      unsigned bits = 0;
      for (const json::Value& w : *arr) {
        const std::string* s = json::as_string(w);
        unsigned b = 0;
        if (!s || !parse_permission(*s, &b))
          return Status(Err::invalid, "config: auth.role_permissions[\"" + role + "\"]: unknown permission " +
                                          (s ? "'" + *s + "'" : std::string("(not a string)")) +
                                          " (expected read, write, delete, export, import, validate, admin, smart or *)");
        bits |= b;
      }
      p.roles_[role] = bits;
    }
  }
  if (const json::Value* v = json::get(auth, "scopes_require_role")) {
    if (!json::is_bool(*v)) return Status(Err::invalid, "config: auth.scopes_require_role must be true or false");
    p.scopes_require_role_ = v->get<bool>();
  }
  return p;
}

unsigned Policy::role_permissions(const std::vector<std::string>& roles) const {
  unsigned bits = 0;
  for (const auto& r : roles) {
    auto it = roles_.find(r);
    if (it != roles_.end()) bits |= it->second;
  }
  return bits;
}

std::string Policy::unreadable_claims(const Principal& who) {
  if (!who.claim_problem.empty()) return who.claim_problem;
  const ScopeSet ss = parse_scopes(who.scopes);
  if (!ss.invalid.empty()) return "the token carries the malformed SMART scope '" + ss.invalid[0] + "' (" + ss.invalid_why[0] + ")";
  if (!ss.clinical.empty() && !who.fhir_user.empty() && !parse_fhir_user(who.fhir_user, nullptr, nullptr))
    return "the token's fhirUser is not a reference of the form [base/]Type/id";
  return {};
}

Decision Policy::decide(const Principal& who, const Request& req) const {
  Decision d;
  if (req.interaction == Interaction::capabilities) {
    d.allowed = true;
    d.reason = "capabilities are public";
    return d;
  }
  if (!who.authenticated) {
    d.missing_permission = "authentication";
    d.reason = action_text(req) + " requires an authenticated caller";
    return d;
  }
  // Fail closed on what cannot be read: a scope claim of the wrong type, a malformed clinical
  // scope, or a fhirUser that does not parse never leaves the roles to decide alone.
  if (!who.claim_problem.empty()) {
    d.missing_permission = "a readable scope claim";
    d.reason = action_text(req) + " requires a readable scope claim; " + who.claim_problem;
    return d;
  }
  const ScopeSet ss = parse_scopes(who.scopes);
  if (!ss.invalid.empty()) {
    d.missing_permission = "well-formed SMART scopes";
    d.reason = action_text(req) + " requires well-formed SMART scopes; the token carries the malformed SMART scope '" + ss.invalid[0] + "' (" +
               ss.invalid_why[0] + "); a token with a malformed scope is refused rather than partly honoured";
    return d;
  }
  if (!ss.clinical.empty() && !who.fhir_user.empty() && !parse_fhir_user(who.fhir_user, nullptr, nullptr)) {
    d.missing_permission = "a well-formed fhirUser";
    d.reason = action_text(req) + " requires a well-formed fhirUser; the token's fhirUser is not a reference of the form [base/]Type/id";
    return d;
  }
  const Need n = need_for(req);
  const unsigned perms = role_permissions(who.roles);
  const unsigned data = perms & kPermData;
  const bool roles_ok = n.any_perm ? data != 0 : (data & n.perm) == n.perm;
  // Texts for refusals only: an allowed request (the common case) builds none of them.
  auto want_scope = [&] { return suggest_scope(n, req, ss); };

  auto refuse = [&](std::string missing, const std::string& why) {
    d.allowed = false;
    d.missing_permission = std::move(missing);
    d.reason = action_text(req) + " requires " + d.missing_permission + "; " + why;
    return d;
  };

  // Rule 2: no clinical scopes — the roles decide alone.
  if (ss.clinical.empty()) {
    if (roles_ok) {
      d.allowed = true;
      d.reason = granted_by_roles(who, n, roles_);
      return d;
    }
    std::string missing = role_text(n);
    std::string why = roles_summary(who, perms, roles_);
    if (data == 0) {  // nothing grants data yet: a SMART scope would be an alternative
      missing += " or " + scope_text(n, want_scope());
      why += "; " + scopes_summary(ss);
      d.required_scope = want_scope();
    }
    return refuse(std::move(missing), why);
  }

  // Rule 3 (with scopes_require_role) / rule 4 (roles are the ceiling).
  if (data == 0 && scopes_require_role_ && !(perms & kPermSmart))
    return refuse("a role granting 'smart' (such as 'FHIR SMART User') to use SMART scopes",
                  roles_summary(who, perms, roles_) + " and auth.scopes_require_role is on");

  ScopeOutcome so = eval_scopes(who, req, n, ss);
  const bool ceiling = data != 0;
  if (ceiling && !roles_ok) {
    if (!so.ok) d.required_scope = want_scope();
    std::string missing = role_text(n) + (so.ok ? "" : " and " + scope_text(n, want_scope()));
    return refuse(std::move(missing), roles_summary(who, perms, roles_) + (so.ok ? "" : "; " + scopes_summary(ss)));
  }
  if (!so.ok) {
    if (so.missing_context)
      return refuse("a patient context ('patient' claim or a Patient fhirUser) for scope " + so.context_scope,
                    "the token has no 'patient' claim and its fhirUser is not a Patient");
    d.required_scope = want_scope();
    return refuse(scope_text(n, want_scope()), scopes_summary(ss));
  }
  d.allowed = true;
  d.constraints = std::move(so.alts);
  if (!d.constraints.empty()) {
    d.compartment_patient = d.constraints[0].compartment_patient;
    for (const auto& c : d.constraints)
      if (c.compartment_patient != d.compartment_patient) d.compartment_patient.clear();
  }
  std::vector<std::string> by;
  for (const auto& c : d.constraints) by.push_back(c.scope);
  if (by.empty()) by.push_back(so.unrestricted_by);
  d.reason = (ceiling ? granted_by_roles(who, n, roles_) + " and " : std::string()) +
             (by.size() == 1 ? "scope " : "scopes ") + join_limited(by);
  return d;
}

bool parse_fhir_user(const std::string& fhir_user, std::string* type, std::string* id) {
  // "Type/id" or "<base URL>/Type/id", optionally followed by "/_history/<vid>"; nothing else
  // (no query, fragment, trailing slash or empty segment).
  auto id_ok = [](const std::string& v) {
    if (v.empty() || v.size() > 64) return false;
    for (char c : v)
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
    return v != "." && v != "..";
  };
  std::string s = fhir_user;
  if (s.empty() || s.find_first_of("?# \t") != std::string::npos) return false;
  size_t h = s.rfind("/_history/");
  if (h != std::string::npos) {
    if (!id_ok(s.substr(h + 10))) return false;
    s.resize(h);
  }
  size_t slash = s.rfind('/');
  if (slash == std::string::npos || slash == 0) return false;
  std::string i = s.substr(slash + 1);
  std::string head = s.substr(0, slash);
  size_t prev = head.rfind('/');
  std::string t = prev == std::string::npos ? head : head.substr(prev + 1);
  if (prev != std::string::npos && head.find("://") == std::string::npos) return false;  // a/b/Type/id without a base URL
  if (t.empty() || !(t[0] >= 'A' && t[0] <= 'Z') || !id_ok(i)) return false;
  for (char c : t)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  if (type) *type = t;
  if (id) *id = i;
  return true;
}

std::string fhir_user_patient(const std::string& fhir_user) {
  std::string type, id;
  if (!parse_fhir_user(fhir_user, &type, &id) || type != "Patient") return "";
  return id;
}

std::string patient_context(const Principal& who) {
  if (!who.patient.empty())
    return who.patient.find('/') == std::string::npos ? who.patient : fhir_user_patient(who.patient);
  return fhir_user_patient(who.fhir_user);
}

CallerNames caller_names(const Principal& who) {
  return CallerNames{!who.object_id.empty() ? who.object_id : who.subject, who.client_id, who.tenant_id, who.issuer};
}

}  // namespace ef::auth

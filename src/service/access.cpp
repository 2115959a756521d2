// service/access.cpp — see access.h.
#include "service/access.h"

#include <algorithm>

#include "fhir/match.h"
#include "fhir/search_params.h"
#include "fhir/search_query.h"

namespace ef::service {

// One (interaction, type): the decision and, when restricted, its alternatives as parsed
// search criteria (store::TypeView).
struct Access::Grant {
  auth::Decision decision;
  store::TypeView tv;
};

class Access::InteractionView : public store::View {
 public:
  InteractionView(const Access& a, auth::Interaction i) : a_(a), i_(i) {}
  const store::TypeView& type_view(const std::string& type) const override { return a_.grant(i_, type).tv; }

 private:
  const Access& a_;
  auth::Interaction i_;
};

const Access& Access::unrestricted() {
  static const Access a;
  return a;
}

Access::Access(const auth::Policy* policy, auth::PrincipalPtr who) : policy_(policy), who_(std::move(who)) {
  if (!policy_ || !who_) policy_ = nullptr;  // nothing to decide with: behaves as unrestricted
}

Access::~Access() = default;

// The resource type a scope text names ("patient/Observation.rs?x=y" -> "Observation").
static std::string scope_type(const std::string& scope) {
  size_t slash = scope.find('/'), dot = scope.find('.', slash == std::string::npos ? 0 : slash);
  if (slash == std::string::npos || dot == std::string::npos) return "*";
  return scope.substr(slash + 1, dot - slash - 1);
}

const Access::Grant& Access::grant(auth::Interaction i, const std::string& type) const {
  if (!policy_) {
    // Unrestricted: one immutable answer, no cache (Access::unrestricted() is shared by every
    // thread of a server without authentication, so it must never be written to).
    static const Grant everything = [] {
      Grant g;
      g.decision.allowed = true;
      g.tv.visible = true;
      return g;
    }();
    return everything;
  }
  auto key = std::make_pair(int(i), type);
  auto it = grants_.find(key);
  if (it != grants_.end()) return *it->second;
  auto g = std::make_unique<Grant>();
  {
    auth::Request r;
    r.interaction = i;
    r.type = type;
    g->decision = policy_->decide(*who_, r);
    g->tv.visible = g->decision.allowed;
    std::vector<auth::ScopeConstraint> kept;
    for (const auth::ScopeConstraint& k : g->decision.constraints) {
      store::ViewAlt alt;
      alt.patient = k.compartment_patient;
      if (!k.params.empty()) {
        fhir::SearchParseOptions po;
        po.strict = true;
        auto q = fhir::parse_search(type, k.params, po);
        bool usable = q.ok() && q->includes.empty() && q->sort.empty();
        if (!usable) {
          if (scope_type(k.scope) != "*") {  // the scope names this type: it is malformed for it
            g->decision.allowed = false;
            g->decision.constraints.clear();
            g->decision.missing_permission = "usable scope constraints";
            g->decision.reason = "the token's scope " + k.scope + " has a constraint that is not a search on " + type +
                                 (q.ok() ? "" : " (" + q.status().message + ")") + "; the scope is refused";
            g->tv = store::TypeView();
            break;
          }
          continue;  // a wildcard scope's constraint does not apply to this type
        }
        alt.criteria = std::move(q->criteria);
      }
      kept.push_back(k);
      g->tv.alts.push_back(std::move(alt));
    }
    if (g->decision.allowed && !g->decision.constraints.empty()) {
      if (kept.empty()) {  // every alternative was a wildcard constraint this type cannot meet
        g->decision.allowed = false;
        g->decision.missing_permission = "a scope whose constraints apply to " + type;
        g->decision.reason = "no scope of the token can be applied to " + type + " (their constraints name search "
                             "parameters " + type + " does not have)";
        g->tv = store::TypeView();
      } else {
        g->decision.constraints = std::move(kept);
      }
    }
  }
  const Grant& out = *g;
  grants_.emplace(key, std::move(g));
  return out;
}

const auth::Decision& Access::decide(auth::Interaction i, const std::string& type, const std::string&) const {
  return grant(i, type).decision;
}

Status Access::require(auth::Interaction i, const std::string& type, const std::string& id) const {
  const auth::Decision& d = decide(i, type, id);
  if (d.allowed) return Status();
  return Status(Err::forbidden, "forbidden: " + d.reason);
}

bool Access::restricted(auth::Interaction i, const std::string& type) const {
  const auth::Decision& d = decide(i, type);
  return d.allowed && !d.constraints.empty();
}

const store::View* Access::view(auth::Interaction i) const {
  if (!policy_) return nullptr;
  auto& v = views_[int(i)];
  if (!v) v = std::make_unique<InteractionView>(*this, i);
  return v.get();
}

std::string Access::only_patient(auth::Interaction i, const std::string& type) const {
  const Grant& g = grant(i, type);
  if (!g.decision.allowed || g.tv.alts.empty()) return "";
  std::string p = g.tv.alts[0].patient;
  for (const auto& a : g.tv.alts)
    if (a.patient != p) return "";
  return p;
}

static bool alt_permits(const store::ViewAlt& alt, const std::string& type, const std::string& id,
                        const fhir::IndexRows& rows) {
  if (!alt.patient.empty() && !fhir::in_patient_compartment(type, id, rows, alt.patient)) return false;
  for (const auto& cr : alt.criteria)
    if (!fhir::matches(cr, type, id, rows)) return false;
  return true;
}

bool Access::permits(auth::Interaction i, const std::string& type, const std::string& id,
                     const fhir::IndexRows& rows) const {
  const Grant& g = grant(i, type);
  if (!g.tv.visible) return false;
  if (g.tv.alts.empty()) return true;
  for (const auto& alt : g.tv.alts)
    if (alt_permits(alt, type, id, rows)) return true;
  return false;
}

Status Access::check_write(auth::Interaction i, const std::string& type, const std::string& id,
                           const fhir::IndexRows& rows, bool creating) const {
  const Grant& g = grant(i, type);
  if (!g.decision.allowed) return Status(Err::forbidden, "forbidden: " + g.decision.reason);
  if (g.tv.alts.empty()) return Status();
  const auto& params = fhir::registry().compartment_params(type);
  for (const auto& alt : g.tv.alts) {
    if (!alt.patient.empty()) {
      if (type == "Patient") {
        if (creating || id != alt.patient) continue;  // only the patient's own record, never a new one
      } else {
        // Every Patient reference of a compartment parameter must be this patient (an untyped
        // reference there could be one: refused too).
        bool foreign = false;
        for (const auto& r : rows)
          if (r.type == fhir::ParamType::reference && std::find(params.begin(), params.end(), r.param) != params.end() &&
              (r.ref_type == "Patient" || (r.ref_type.empty() && !r.ref_id.empty())) && r.ref_id != alt.patient)
            foreign = true;
        if (foreign) continue;
      }
    }
    if (alt_permits(alt, type, id, rows)) return Status();
  }
  std::string scopes;
  for (const auto& k : g.decision.constraints) scopes += (scopes.empty() ? "" : ", ") + k.scope;
  if (type == "Patient" && !only_patient(i, type).empty())
    return Status(Err::forbidden, "forbidden: a token limited to one patient's record (" + scopes +
                                      ") can only update that patient's own Patient resource, not create or change another");
  return Status(Err::forbidden, "forbidden: the " + type + " is outside what the token's scopes allow (" + scopes +
                                    "): it must belong to the token's patient's compartment, every Patient reference "
                                    "of its compartment elements must be that patient, and it must meet the scopes' "
                                    "constraints");
}

}  // namespace ef::service

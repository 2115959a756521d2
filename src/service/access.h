// service/access.h — the caller's authorization as the interaction layer applies it.
//
// Every function of the interaction layer (service/service.h, service/bundle_processor.h) takes
// an Access: there is no overload without one.  It wraps the policy's decisions for one
// caller (auth/policy.h: roles x SMART scopes) and turns them into what the data paths need:
//   - require(): the interaction is allowed at all (else Err::forbidden with the policy's
//     reason, which names permissions and scopes, never a resource);
//   - view(): the resources the caller may see for an interaction, as a store::View that the
//     store ANDs into every statement (matches, totals, includes, chains, _has, conditional
//     matches) — outside it, a resource behaves exactly as if it did not exist;
//   - permits(): the same question in memory for content that is not a stored current
//     resource (an earlier or deleted version; fhir/match.h);
//   - check_write(): the content a write proposes is allowed — for a caller limited to a
//     patient's compartment every Patient reference of its compartment parameters must be
//     that patient, and a Patient can only be the patient's own (never created).
// Decisions and views are computed once per (interaction, type) and cached: an Access of a
// caller lives for one request on one thread.  Access::unrestricted() keeps no cache and is
// safe to share between threads.  Access::unrestricted() is the caller of the CLI, import,
// sync, and of a server configured without authentication.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "auth/policy.h"
#include "fhir/index_row.h"
#include "store/search.h"
#include "util/json.h"
#include "util/status.h"

namespace ef::service {

class Access {
 public:
  // Everything allowed (no authentication configured, offline commands).
  static const Access& unrestricted();
  // An authenticated caller under `policy` (both non-null).
  Access(const auth::Policy* policy, auth::PrincipalPtr who);
  Access(const Access&) = delete;
  Access& operator=(const Access&) = delete;
  ~Access();

  bool is_unrestricted() const { return !policy_; }
  const auth::Principal* principal() const { return who_.get(); }

  // The decision for an interaction on a type (id only for messages).  With ?param
  // constraints that cannot be read as search criteria of `type`, a scope naming the type
  // explicitly makes the decision a refusal; a wildcard scope's constraint just does not
  // apply to types without the parameter.
  const auth::Decision& decide(auth::Interaction i, const std::string& type, const std::string& id = {}) const;
  // OK when allowed; Err::forbidden "forbidden: <reason>" otherwise.
  Status require(auth::Interaction i, const std::string& type, const std::string& id = {}) const;
  // Allowed and limited by scopes (compartment or constraints) for this type.
  bool restricted(auth::Interaction i, const std::string& type) const;

  // What the caller may see for interaction `i` (per type: decide(i, type)); null when the
  // caller is unrestricted.
  const store::View* view(auth::Interaction i) const;

  // In memory: `resource` of `type`/`id` with index rows `rows` is inside decide(i, type).
  bool permits(auth::Interaction i, const std::string& type, const std::string& id, const fhir::IndexRows& rows) const;
  // Proposed content of a write (create/update/patch result) is allowed; `creating`: no stored
  // resource is replaced.  Err::forbidden with a message naming no resource.
  Status check_write(auth::Interaction i, const std::string& type, const std::string& id, const fhir::IndexRows& rows,
                     bool creating) const;
  // The one patient every alternative of decide(i, type) is limited to ("" when none).
  std::string only_patient(auth::Interaction i, const std::string& type) const;

 private:
  Access() = default;
  struct Grant;
  class InteractionView;
  const Grant& grant(auth::Interaction i, const std::string& type) const;

  const auth::Policy* policy_ = nullptr;
  auth::PrincipalPtr who_;
  mutable std::map<std::pair<int, std::string>, std::unique_ptr<Grant>> grants_;
  mutable std::map<int, std::unique_ptr<InteractionView>> views_;
};

}  // namespace ef::service

// http/bundle.h — POST [base] with a transaction or batch Bundle
// (https://hl7.org/fhir/R4/http.html#transaction), and the pieces the conditional
// interactions share with it: the match resolver (store::resolve_matches on our base URL)
// and the per-entry authorizer (policy decision per entry + scope restrictions).
// The work is service/bundle_processor.h; this file maps results to a transaction-response /
// batch-response Bundle (status, location, etag, lastModified per entry, request order) or,
// for a failed transaction, to one OperationOutcome naming the failing entry.
// Response entries carry the resource only with `Prefer: return=representation` and an
// OperationOutcome with `Prefer: return=OperationOutcome` (failed batch entries always carry
// their OperationOutcome).
#pragma once
#include <functional>
#include <string>

#include "service/bundle_processor.h"
#include "http/context.h"

namespace ef::http {

void handle_bundle(Ctx& c);

// store::resolve_matches bound to the app's base URL.
service::MatchResolver match_resolver(App& app);
// Decides each entry for the caller of `c` (no-op when no principal / no policy).
std::function<Status(store::Conn&, const service::EntryAccess&)> entry_authorizer(Ctx& c);
// "201 Created" etc.
std::string status_line(int status);

}  // namespace ef::http

// http/bundle.h — POST [base] with a transaction or batch Bundle
// (https://hl7.org/fhir/R4/http.html#transaction).
// The work, including each entry's authorization, is the interaction layer's
// (service/service.h, service/bundle_processor.h); this file maps results to a transaction-response /
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


}  // namespace ef::http

// http/operations.h — FHIR operations ($name) routed by server.cpp:
//   [type]/$op and [type]/[id]/$op          handle_type_operation / handle_instance_operation
//     Patient/$everything, Patient/[id]/$everything   https://hl7.org/fhir/R4/patient-operation-everything.html
//     [type]/$validate, [type]/[id]/$validate         https://hl7.org/fhir/R4/resource-operation-validate.html
//     Patient/$export, Group/[id]/$export             https://hl7.org/fhir/uv/bulkdata/export.html
//   $export (system level)                  handle_export
//   $export-poll/[job], $export-file/[job]/[file]   handle_export_job (status, manifest,
//                                           NDJSON files, DELETE to cancel)
// Unknown operations answer 501 with an OperationOutcome naming the operation.
#pragma once
#include <string>

#include "auth/policy.h"
#include "http/context.h"

namespace ef::http {

// The interaction the policy decides for an operation name ("$everything" -> everything).
auth::Interaction operation_interaction(const std::string& op);
void handle_type_operation(Ctx& c, const std::string& type, const std::string& op);
void handle_instance_operation(Ctx& c, const std::string& type, const std::string& id, const std::string& op);
// type: "" (system), "Patient" or "Group"; id: the Group id.
void handle_export(Ctx& c, const std::string& type, const std::string& id);
void handle_export_job(Ctx& c);

}  // namespace ef::http

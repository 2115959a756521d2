// http/operations.h — FHIR operations ($name) routed by server.cpp:
//   [type]/$op and [type]/[id]/$op          handle_type_operation / handle_instance_operation
//     Patient/$everything, Patient/[id]/$everything   https://hl7.org/fhir/R4/patient-operation-everything.html
//     [type]/$validate, [type]/[id]/$validate         https://hl7.org/fhir/R4/resource-operation-validate.html
//     Patient/$export, Group/[id]/$export             https://hl7.org/fhir/uv/bulkdata/export.html
//   $export (system level)                  handle_export
//   $export-poll/[job], $export-file/[job]/[file]   handle_export_job (status, manifest,
//                                           NDJSON files, DELETE to cancel)
// Unknown operations answer 501 with an OperationOutcome naming the operation.
// The handlers live in everything.cpp, export.cpp (with http/export.h: the worker) and
// validate.cpp; operations.cpp dispatches and holds the helpers they share.
#pragma once
#include <string>
#include <vector>

#include "auth/policy.h"
#include "fhir/search_query.h"
#include "http/context.h"

namespace ef::http {

// The interaction the policy decides for an operation name ("$everything" -> everything).
auth::Interaction operation_interaction(const std::string& op);
void handle_type_operation(Ctx& c, const std::string& type, const std::string& op);
void handle_instance_operation(Ctx& c, const std::string& type, const std::string& id, const std::string& op);
// type: "" (system), "Patient" or "Group"; id: the Group id.
void handle_export(Ctx& c, const std::string& type, const std::string& id);
void handle_export_job(Ctx& c);

// ---- shared by the operation files ----
// everything.cpp: patient_id "" = Patient/$everything (every patient).
void handle_everything(Ctx& c, const std::string& patient_id);
// validate.cpp: id "" = type level (the resource comes in the body).
void handle_validate(Ctx& c, const std::string& type, const std::string& id);
// POST /$validate: the type comes from the body (http/validate.cpp).  system_validate_type is
// that type ("" when the body is not JSON naming a validatable type): the router decides on it.
std::string system_validate_type(const Ctx& c);
void handle_system_validate(Ctx& c);
// The operation's parameters: the URL query, then (POST) an
// application/x-www-form-urlencoded body's.  Other POST bodies are left to the operation.
Result<fhir::QueryParams> operation_params(const Ctx& c);
// A _type value: comma-separated R4 resource types, trimmed, each named once (400 naming
// the first that is not a type).
Result<std::vector<std::string>> type_list(const std::string& value);
// Patient, or a type with resources in the Patient compartment (CompartmentDefinition-patient).
bool patient_compartment_type(const std::string& type);
// Prefer: handling=strict
bool prefer_strict(const Ctx& c);
// The Prefer header contains this token (case-insensitive), e.g. "respond-async".
bool prefer_has(const Ctx& c, const std::string& token);

}  // namespace ef::http

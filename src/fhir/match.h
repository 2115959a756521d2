// fhir/match.h — evaluates search criteria (fhir/search_query.h) against the index rows of ONE
// resource in memory, without the database.  The authorization layer uses it where a
// resource is not (or no longer) in the search index: an earlier or deleted version being
// read, and the content a write proposes.  store/search.cpp stays the authority for stored
// current resources; this evaluator covers the criteria SMART v2 scope constraints use
// (token, string, reference, uri, _id; no modifier, or :exact / :not on tokens) and answers
// "no match" for anything else, so an unsupported constraint fails closed.
#pragma once
#include <string>

#include "fhir/index_row.h"
#include "fhir/search_query.h"

namespace ef::fhir {

// Whether the resource `type`/`id` with index rows `rows` satisfies criterion `cr`.
bool matches(const Criterion& cr, const std::string& type, const std::string& id, const IndexRows& rows);

// Whether it is in Patient/{patient}'s compartment (the Patient itself, or a compartment
// reference parameter of its type pointing at that Patient).
bool in_patient_compartment(const std::string& type, const std::string& id, const IndexRows& rows,
                            const std::string& patient);

// The ids of every Patient its compartment reference parameters point at.
std::vector<std::string> compartment_patients(const std::string& type, const IndexRows& rows);

}  // namespace ef::fhir

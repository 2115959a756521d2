// fhir/fhirpath_patch.h — FHIRPath Patch (https://hl7.org/fhir/R4/fhirpatch.html) and the
// meta changes of $meta-add / $meta-delete (https://hl7.org/fhir/R4/resource-operations.html),
// applied to a parsed resource in place.  Used by the patch interaction
// (service/repository.cpp), next to JSON Patch (fhir/json_patch.h).
//
// Owns: reading a Parameters resource into operations (type add | insert | delete | replace |
// move; path; name; value as value[x], a nested `part` list for anonymous/backbone types, or a
// `resource`; index; source; destination), finding the nodes a path selects, and editing them.
//
// Paths are FHIRPath expressions compiled by fhir/fhirpath.h (the search-parameter engine,
// unchanged): its results are pointers into the resource, and this file turns each pointer
// back into a location (the chain of member names and array indexes from the root) by one walk
// of the resource, so the engine needs no knowledge of patching.  The R4 type model
// (fhir/type_model.h) tells, from that chain, the type of the node an `add` writes into:
// whether the named element repeats (array or single value), which JSON member a choice
// element takes (name + the value's type suffix: deceased + Boolean), and the element types
// of the parts of an anonymous value.
//
// Semantics (where the specification leaves room, the choice made here):
//   add      path selects exactly one element; `name` is added to it (appended when the
//            element repeats; an error when a single-valued element already has a value)
//   insert   path selects a list (all results items of one array; an absent list of
//            `<parent path>.<name>` is created when index is 0); value inserted at index
//            (0..size)
//   delete   path selects at most one element (none: nothing to do); the element goes, and
//            objects left empty by that go too (FHIR has no empty elements)
//   replace  path selects exactly one element; its value (and, for a primitive, its
//            id/extensions in the `_name` member) is replaced; a choice element takes the
//            member of the new value's type
//   move     path selects a list; the item at source moves to destination (both 0..size-1)
// Primitive extension members (`_given`) stay aligned with their values when list items are
// inserted, deleted or moved.
// Limits (hostile input): at most kMaxPatchOperations operations, paths of at most 1,000
// characters, and at most kMaxPatchWork units of work over the whole patch: path evaluation
// (FhirPath::evaluate_bounded: nested where() would otherwise cost size^depth) plus the
// element visits of locating results (each operation walks the resource once), so a patch
// cannot make the server walk a large resource millions of times.
// Errors name the operation as Parameters.parameter[i] with its type and path; a malformed
// Parameters is Err::invalid, an operation that cannot apply (no such element, several
// elements, index out of range, unknown element name) Err::unprocessable.
#pragma once
#include <string>
#include <vector>

#include "util/json.h"
#include "util/status.h"

namespace ef::fhir {

constexpr size_t kMaxPatchOperations = 200;
constexpr size_t kMaxPatchWork = 5'000'000;

// True for a JSON object whose resourceType is Parameters (a FHIRPath Patch document).
bool is_fhirpath_patch(const json::Value& v);

class FhirPathPatch {
 public:
  struct Op;
  FhirPathPatch();
  ~FhirPathPatch();
  FhirPathPatch(FhirPathPatch&&) noexcept;
  FhirPathPatch& operator=(FhirPathPatch&&) noexcept;

  // Reads and checks the operations of `params` (a Parameters resource); compiles each path.
  static Result<FhirPathPatch> parse(const json::Value& params);

  size_t size() const;
  // Applies operation i to `doc` (a resource).  On failure `doc` is unspecified.
  Status apply(json::Value& doc, size_t i) const;
  // Applies every operation in order.
  Status apply(json::Value& doc) const;
  // "Parameters.parameter[i] (replace at 'Patient.birthDate')" — how messages name op i.
  std::string describe(size_t i) const;

 private:
  std::vector<Op> ops_;
  mutable size_t work_ = 0;
};

// Parses and applies in one step (tests, simple callers).
Status apply_fhirpath_patch(json::Value& doc, const json::Value& params);

// $meta-add (add = true) / $meta-delete: merges `meta` (a Meta: profile, tag, security) into
// resource.meta.  Profiles match by URL, tags and security labels by system + code (version
// and display ignored, as R4 says).  Other Meta members are refused (Err::invalid).  An empty
// meta.profile/tag/security list is removed; an empty meta too.
Status apply_meta_change(json::Value& resource, const json::Value& meta, bool add);

// The profile/tag/security part of a resource's meta (and versionId/lastUpdated when
// `with_version`), as the Meta $meta returns.
json::Value meta_of(const json::Value& resource, bool with_version);

}  // namespace ef::fhir

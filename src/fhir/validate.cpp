// fhir/validate.cpp — see validate.h.  One recursive walk over the resource collects the
// issues; the required-element table is the only per-resource knowledge.
#include "fhir/validate.h"

#include <cctype>
#include <map>

#include "fhir/resource.h"
#include "fhir/resource_types.h"
#include "util/time.h"

namespace ef::fhir {

namespace {

// Required elements (min cardinality 1) of common core resources, from the R4 resource
// definitions (https://hl7.org/fhir/R4/<type>.html).  "x[x]" = a choice element: any
// member starting with "x" followed by a type name.  Patient, Practitioner, Organization,
// Location, Device have no required elements.
const std::map<std::string, std::vector<std::string>>& required() {
  static const std::map<std::string, std::vector<std::string>> k = {
      {"AllergyIntolerance", {"patient"}},
      {"Bundle", {"type"}},
      {"CarePlan", {"status", "intent", "subject"}},
      {"CareTeam", {}},
      {"Claim", {"status", "type", "use", "patient", "created", "provider", "priority", "insurance"}},
      {"Composition", {"status", "type", "date", "author", "title"}},
      {"Condition", {"subject"}},
      {"Coverage", {"status", "beneficiary", "payor"}},
      {"DiagnosticReport", {"status", "code"}},
      {"DocumentReference", {"status", "content"}},
      {"Encounter", {"status", "class"}},
      {"ExplanationOfBenefit",
       {"status", "type", "use", "patient", "created", "insurer", "provider", "outcome", "insurance"}},
      {"Goal", {"lifecycleStatus", "description", "subject"}},
      {"Group", {"type", "actual"}},
      {"ImagingStudy", {"status", "subject"}},
      {"Immunization", {"status", "vaccineCode", "patient", "occurrence[x]"}},
      {"MedicationAdministration", {"status", "medication[x]", "subject", "effective[x]"}},
      {"MedicationRequest", {"status", "intent", "medication[x]", "subject"}},
      {"Observation", {"status", "code"}},
      {"Procedure", {"status", "subject"}},
      {"Provenance", {"target", "recorded", "agent"}},
      {"ServiceRequest", {"status", "intent", "subject"}},
  };
  return k;
}

// Required bindings on a few status-like codes (R4 value sets).
const std::map<std::string, std::vector<std::string>>& codes() {
  static const std::map<std::string, std::vector<std::string>> k = {
      {"Observation.status",
       {"registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"}},
      {"Encounter.status",
       {"planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled", "entered-in-error", "unknown"}},
      {"Patient.gender", {"male", "female", "other", "unknown"}},
      {"Practitioner.gender", {"male", "female", "other", "unknown"}},
      {"Condition.clinicalStatus", {}},
      {"Bundle.type",
       {"document", "message", "transaction", "transaction-response", "batch", "batch-response", "history",
        "searchset", "collection"}},
      {"DiagnosticReport.status",
       {"registered", "partial", "preliminary", "final", "amended", "corrected", "appended", "cancelled",
        "entered-in-error", "unknown"}},
      {"Procedure.status",
       {"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed", "entered-in-error", "unknown"}},
  };
  return k;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

enum class Prim { none, date, date_time, instant, uri, boolean, integer, code, xhtml };

// The primitive type an element name identifies (parent: the enclosing member name).
Prim prim_of(const std::string& name, const std::string& parent) {
  if (name == "birthDate" || name == "valueDate" || name == "servicedDate" || name == "timingDate")
    return Prim::date;
  if (ends_with(name, "DateTime") || name == "authoredOn" || name == "recordedDate" || name == "assertedDate" ||
      name == "date")
    return Prim::date_time;
  if ((name == "start" || name == "end") && (parent == "period" || ends_with(parent, "Period")))
    return Prim::date_time;
  if (name == "issued" || name == "lastUpdated" || ends_with(name, "Instant")) return Prim::instant;
  if (name == "system" || name == "url" || ends_with(name, "Uri") || ends_with(name, "Url") ||
      ends_with(name, "Canonical") || name == "profile")
    return Prim::uri;
  if (name == "active" || ends_with(name, "Boolean") || name == "deceasedBoolean") return Prim::boolean;
  if (ends_with(name, "Integer") || ends_with(name, "PositiveInt") || ends_with(name, "UnsignedInt"))
    return Prim::integer;
  if (name == "status" || name == "gender" || name == "intent" || name == "use" ||
      (ends_with(name, "Code") && name.rfind("value", 0) == 0))
    return Prim::code;
  if (name == "div" && parent == "text") return Prim::xhtml;
  return Prim::none;
}

struct Walker {
  std::vector<Issue> issues;
  void add(const std::string& path, const std::string& msg, const std::string& code = "structure",
           const std::string& severity = "error") {
    Issue i;
    i.severity = severity;
    i.code = code;
    i.diagnostics = msg;
    i.expression = path;
    issues.push_back(i);
  }

  void primitive(const json::Value& v, Prim p, const std::string& path) {
    if (p == Prim::none) return;
    if (p == Prim::boolean) {
      if (!v.is<bool>()) add(path, "must be a JSON boolean (true or false)", "value");
      return;
    }
    if (p == Prim::integer) {
      int64_t n = 0;
      if (!json::is_number(v) || !json::int_value(v, &n)) add(path, "must be a JSON integer number", "value");
      else if ((ends_with(path, "PositiveInt") && n < 1) || (ends_with(path, "UnsignedInt") && n < 0))
        add(path, "is out of range for its type", "value");
      return;
    }
    const std::string* s = json::as_string(v);
    if (!s) {
      add(path, "must be a JSON string", "value");
      return;
    }
    if (s->empty()) return;  // reported by the JSON rules
    switch (p) {
      case Prim::date: {
        auto r = timefmt::parse_fhir_time(*s);
        if (!r || r->precision > 3) add(path, "'" + *s + "' is not a valid FHIR date (YYYY, YYYY-MM or YYYY-MM-DD)", "value");
        break;
      }
      case Prim::date_time: {
        auto r = timefmt::parse_fhir_time(*s);
        if (!r) add(path, "'" + *s + "' is not a valid FHIR dateTime", "value");
        else if (r->precision > 3 && !r->has_tz)
          add(path, "'" + *s + "': a dateTime with a time must have a time zone (Z or +hh:mm)", "value");
        break;
      }
      case Prim::instant: {
        auto r = timefmt::parse_fhir_time(*s);
        if (!r || r->precision < 5 || !r->has_tz)
          add(path, "'" + *s + "' is not a valid FHIR instant (YYYY-MM-DDThh:mm:ss[.sss]Z or with an offset)", "value");
        break;
      }
      case Prim::uri:
        for (unsigned char ch : *s)
          if (std::isspace(ch) || ch < 0x20) {
            add(path, "'" + *s + "' is not a valid uri (whitespace)", "value");
            break;
          }
        break;
      case Prim::code:
        if (s->front() == ' ' || s->back() == ' ' || s->find("  ") != std::string::npos ||
            s->find_first_of("\t\r\n") != std::string::npos)
          add(path, "'" + *s + "' is not a valid code (leading, trailing or repeated whitespace)", "value");
        break;
      case Prim::xhtml:
        if (s->rfind("<div", 0) != 0 || s->find("http://www.w3.org/1999/xhtml") == std::string::npos)
          add(path, "the narrative must be an XHTML <div> in the namespace http://www.w3.org/1999/xhtml", "value");
        break;
      default:
        break;
    }
  }

  void reference(const json::Value& v, const std::string& path) {
    const std::string* s = json::as_string(v);
    if (!s) {
      add(path, "Reference.reference must be a string", "value");
      return;
    }
    const std::string& r = *s;
    if (r.empty()) return;
    if (r[0] == '#' || r.rfind("urn:uuid:", 0) == 0 || r.rfind("urn:oid:", 0) == 0 || r.rfind("http://", 0) == 0 ||
        r.rfind("https://", 0) == 0) {
      if (r.find(' ') != std::string::npos) add(path, "reference '" + r + "' contains a space", "value");
      return;
    }
    // relative: Type/id or Type/id/_history/vid (or a search URL in a transaction: Type?params)
    size_t slash = r.find('/');
    size_t q = r.find('?');
    std::string type = r.substr(0, std::min(slash, q));
    if (!is_resource_type(type)) {
      add(path, "reference '" + r + "': '" + type + "' is not a FHIR R4 resource type", "value");
      return;
    }
    if (q != std::string::npos && q < slash) return;  // conditional reference
    if (slash == std::string::npos) {
      add(path, "reference '" + r + "' has no id (expected Type/id)", "value");
      return;
    }
    std::string rest = r.substr(slash + 1);
    std::string id = rest.substr(0, rest.find('/'));
    if (!valid_id(id)) add(path, "reference '" + r + "': '" + id + "' is not a valid FHIR id", "value");
    if (rest.size() > id.size()) {
      std::string tail = rest.substr(id.size());
      if (tail.rfind("/_history/", 0) != 0 || !valid_id(tail.substr(10)))
        add(path, "reference '" + r + "' is not Type/id or Type/id/_history/version", "value");
    }
  }

  void walk(const json::Value& v, const std::string& name, const std::string& parent, const std::string& path,
            bool in_array) {
    if (v.is<picojson::null>()) {
      if (!in_array) add(path, "null is not allowed in FHIR JSON");
      return;
    }
    if (const json::Array* a = json::as_array(v)) {
      if (in_array) {
        add(path, "arrays of arrays are not allowed in FHIR JSON");
        return;
      }
      if (a->empty()) add(path, "empty arrays are not allowed in FHIR JSON");
      if (name == "reference") add(path, "Reference.reference is a single value, not an array");
      for (size_t i = 0; i < a->size(); ++i)
        walk((*a)[i], name, parent, path + "[" + std::to_string(i) + "]", true);
      return;
    }
    if (!in_array && (name == "coding" || name == "extension" || name == "modifierExtension" || name == "contained" ||
                      (parent == "meta" && (name == "profile" || name == "tag" || name == "security"))))
      add(path, "'" + name + "' repeats in FHIR: it must be an array");
    if (const json::Object* o = json::as_object(v)) {
      if (o->empty()) add(path, "empty objects are not allowed in FHIR JSON");
      if (name == "contained") {
        const std::string* rt = json::get_string(v, "resourceType");
        if (!rt || !is_resource_type(*rt)) add(path + ".resourceType", "a contained resource needs a known resourceType");
      }
      for (const auto& kv : *o) {
        if (kv.first == "resourceType" && name == "contained") continue;
        if (kv.first.empty()) {
          add(path, "empty member name");
          continue;
        }
        walk(kv.second, kv.first, name, path + "." + kv.first, false);
      }
      return;
    }
    if (json::is_string(v) && v.get<std::string>().empty()) {
      add(path, "empty strings are not allowed in FHIR JSON");
      return;
    }
    if (name == "reference") return reference(v, path);
    if (!name.empty() && name[0] == '_') return;  // primitive extension holders are objects; nothing else
    primitive(v, prim_of(name, parent), path);
  }
};

bool has_choice(const json::Object& o, const std::string& prefix) {
  for (const auto& kv : o)
    if (kv.first.size() > prefix.size() && kv.first.compare(0, prefix.size(), prefix) == 0 &&
        std::isupper(static_cast<unsigned char>(kv.first[prefix.size()])))
      return true;
  return false;
}

}  // namespace

std::vector<Issue> validate_resource(const json::Value& res, const ValidateOptions& opt) {
  Walker w;
  const json::Object* o = json::as_object(res);
  if (!o) {
    w.add("", "a resource must be a JSON object");
    return w.issues;
  }
  const json::Value* rtv = json::get(res, "resourceType");
  const std::string* rt = rtv ? json::as_string(*rtv) : nullptr;
  if (!rt) {
    w.add("resourceType", "resourceType is missing or not a string", "required");
    return w.issues;
  }
  if (!is_resource_type(*rt)) {
    w.add("resourceType", "'" + *rt + "' is not a FHIR R4 resource type", "value");
    return w.issues;
  }
  const std::string& type = *rt;
  if (!opt.expected_type.empty() && type != opt.expected_type)
    w.add("resourceType", "resourceType '" + type + "' does not match the URL's type '" + opt.expected_type + "'",
          "invalid");
  // id
  const json::Value* idv = json::get(res, "id");
  if (idv) {
    const std::string* id = json::as_string(*idv);
    if (!id) w.add(type + ".id", "id must be a string", "value");
    else if (!valid_id(*id)) w.add(type + ".id", "'" + *id + "' is not a valid FHIR id ([A-Za-z0-9-.]{1,64})", "value");
    else if (!opt.expected_id.empty() && *id != opt.expected_id)
      w.add(type + ".id", "the resource id '" + *id + "' does not match the id in the URL ('" + opt.expected_id + "')",
            "invalid");
  } else if (opt.require_id) {
    w.add(type + ".id", "the resource must have an id" + (opt.expected_id.empty() ? std::string() : " ('" + opt.expected_id + "')"),
          "required");
  }
  // meta.versionId is an id
  if (const json::Value* meta = json::get(res, "meta")) {
    if (!json::is_object(*meta)) {
      w.add(type + ".meta", "meta must be an object");
    } else if (const json::Value* vid = json::get(*meta, "versionId")) {
      const std::string* s = json::as_string(*vid);
      if (!s || !valid_id(*s)) w.add(type + ".meta.versionId", "meta.versionId must be a FHIR id", "value");
    }
  }
  // every member
  for (const auto& kv : *o) {
    if (kv.first == "resourceType") continue;
    if (kv.first == "id" || kv.first.empty()) continue;
    w.walk(kv.second, kv.first, type, type + "." + kv.first, false);
  }
  // required elements
  auto req = required().find(type);
  if (req != required().end()) {
    for (const std::string& e : req->second) {
      bool present;
      std::string shown = e;
      if (ends_with(e, "[x]")) present = has_choice(*o, e.substr(0, e.size() - 3));
      else present = o->count(e) > 0;
      if (!present)
        w.add(type + "." + shown, type + "." + shown + " is required (minimum cardinality 1 in FHIR R4)", "required");
    }
  }
  // required code bindings
  for (const auto& kv : codes()) {
    if (kv.second.empty() || kv.first.compare(0, type.size() + 1, type + ".") != 0) continue;
    std::string el = kv.first.substr(type.size() + 1);
    const std::string* s = json::get_string(res, el);
    if (!s || s->empty()) continue;
    bool ok = false;
    for (const auto& c : kv.second) ok = ok || c == *s;
    if (!ok) {
      std::string allowed;
      for (const auto& c : kv.second) allowed += (allowed.empty() ? "" : ", ") + c;
      w.add(kv.first, "'" + *s + "' is not a code of the required value set (" + allowed + ")", "code-invalid");
    }
  }
  return w.issues;
}

}  // namespace ef::fhir

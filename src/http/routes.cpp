// http/routes.cpp — see routes.h.  Routing is a split of the path into segments and a
// switch on their count: cheaper and clearer than a list of regexes.
#include "http/routes.h"

#include "auth/smart_config.h"
#include "fhir/resource_types.h"
#include "fhir/validate.h"
#include "http/bundle.h"
#include "http/conditional.h"
#include "http/console.h"
#include "http/handlers.h"
#include "http/meta.h"
#include "http/operations.h"
#include "http/search.h"
#include "http/terminology.h"

namespace ef::http {

namespace {

std::string url_decode(const std::string& s, bool* ok) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size() || !isxdigit(static_cast<unsigned char>(s[i + 1])) ||
          !isxdigit(static_cast<unsigned char>(s[i + 2]))) {
        *ok = false;
        return {};
      }
      out.push_back(char(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

bool split_path(const std::string& path, std::vector<std::string>* seg) {
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    if (i >= path.size()) break;
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    bool ok = true;
    seg->push_back(url_decode(path.substr(i, j - i), &ok));
    if (!ok) return false;
    i = j;
  }
  return true;
}

Plan error_plan(Status st) {
  Plan p;
  p.label = "invalid";
  p.public_ = true;  // nothing is disclosed: the request is refused anyway
  p.run = [st](Ctx& c) { send_error(c, st); };
  return p;
}

Plan plan_route(Ctx& c) {
  using I = auth::Interaction;
  const std::string& m = c.req.method;
  const auto& s = c.seg;
  bool get = m == "GET" || m == "HEAD";
  auto bad_method = [&] {
    return error_plan(Status(Err::method_not_allowed, "method " + m + " is not allowed on " + c.req.path));
  };
  auto plan = [](I i, std::function<void(Ctx&)> f) {
    Plan p;
    p.interaction = i;
    p.run = std::move(f);
    return p;
  };
  if (s.empty()) {
    // The policy decides each Bundle entry on its own; the Bundle itself needs a token.
    if (m == "POST") return plan(I::transaction, handle_bundle);
    return get ? plan(I::search_system, handle_system_search) : bad_method();
  }
  if (s.size() == 1 && s[0] == "_search")
    return m == "POST" ? plan(I::search_system, handle_system_search) : bad_method();
  if (s.size() == 1 && s[0] == "$export")
    return get ? plan(I::export_, [](Ctx& c) { handle_export(c, "", ""); }) : bad_method();
  if (!s.empty() && (s[0] == "$export-poll" || s[0] == "$export-file"))
    return plan(I::export_, handle_export_job);
  if (s.size() == 1 && s[0] == "metadata") {
    if (!get) return bad_method();
    Plan p = plan(I::capabilities, handle_metadata);
    p.public_ = true;
    return p;
  }
  if (s.size() == 2 && s[0] == ".well-known" && s[1] == "smart-configuration") {
    if (!get) return bad_method();
    Plan p = plan(I::capabilities, handle_smart_configuration);
    p.public_ = true;
    return p;
  }
  if (s.size() == 1 && s[0] == "health") {
    if (!get) return bad_method();
    Plan p = plan(I::capabilities, handle_health);
    p.label = "health";
    p.public_ = true;
    return p;
  }
  if (s.size() == 1 && s[0] == "metrics") {
    if (!get) return bad_method();
    Plan p = plan(I::admin, handle_metrics);
    p.label = "metrics";
    // Operational data: behind a token with the admin permission unless configured public.
    p.public_ = c.app.metrics_public;
    return p;
  }
  if (ConsoleRoute r; console_route(c, &r)) {  // /console/... (http/console.h)
    Plan p = plan(r.interaction, std::move(r.run));
    p.label = r.label;
    p.public_ = r.public_;
    p.audited = r.audited;
    return p;
  }
  if (s.size() == 1 && s[0] == "_history")
    return get ? plan(I::history_system, [](Ctx& c) { handle_history(c, "", ""); }) : bad_method();
  // $meta (http/meta.h): system and type level are decided per type by the caller's search
  // view, instance level as read / vread, $meta-add / $meta-delete as update.
  if (s.size() == 1 && s[0] == "$meta")
    return get || m == "POST" ? plan(I::search_system, [](Ctx& c) { handle_meta(c, "", "", ""); }) : bad_method();
  // System-level $validate: decided on the posted resource's type, as [type]/$validate, read
  // from the body once the caller is authenticated (an XML body becomes JSON only after
  // admission: decided on no type then, and on its type by the handler).
  if (s.size() == 1 && s[0] == "$validate") {
    if (m != "POST") return bad_method();
    Plan p = plan(I::validate, handle_system_validate);
    p.resolve = [](Ctx& c) { c.type = system_validate_type(c); };
    return p;
  }
  const std::string type = s[0];
  // $validate takes every R4 resource type, also those never stored (Parameters).
  if (s.size() == 2 && s[1] == "$validate" && !fhir::is_resource_type(type) && fhir::is_validatable_type(type)) {
    c.type = type;
    return plan(operation_interaction(s[1]), [type](Ctx& c) { handle_type_operation(c, type, "$validate"); });
  }
  if (!fhir::is_resource_type(type))
    return error_plan(Status(Err::not_found, "'" + type + "' is not a FHIR R4 resource type"));
  c.type = type;
  if (s.size() == 1) {
    bool cond = c.req.target.find('?') != std::string::npos;
    if (m == "POST") return plan(I::create, [type](Ctx& c) { handle_create_conditional(c, type); });
    if (get) return plan(I::search_type, [type](Ctx& c) { handle_search(c, type); });
    if (m == "PUT" && cond) return plan(I::update, [type](Ctx& c) { handle_conditional_update(c, type); });
    if (m == "DELETE" && cond) return plan(I::del, [type](Ctx& c) { handle_conditional_delete(c, type); });
    if (m == "PATCH" && cond) return plan(I::patch, [type](Ctx& c) { handle_conditional_patch(c, type); });
    return bad_method();
  }
  if (s.size() == 2 && s[1] == "_history")
    return get ? plan(I::history_type, [type](Ctx& c) { handle_history(c, type, ""); }) : bad_method();
  if (s.size() == 2 && s[1] == "_search")
    return m == "POST" ? plan(I::search_type, [type](Ctx& c) { handle_search(c, type); }) : bad_method();
  if (s.size() == 2 && s[1] == "$meta")
    return get || m == "POST" ? plan(I::search_type, [type](Ctx& c) { handle_meta(c, type, "", ""); }) : bad_method();
  // Terminology operations (http/terminology.h): any authenticated caller may use the bundled
  // content (decided as capabilities, behind a token); stored definitions are used only when
  // the caller may search their type (service/terminology.h).
  if (s.size() == 2 && is_terminology_operation(type, s[1])) {
    std::string op = s[1];
    Plan p = plan(I::capabilities, [type, op](Ctx& c) { handle_terminology(c, type, "", op); });
    p.label = "terminology";
    p.audited = true;
    return p;
  }
  if (s.size() == 2 && !s[1].empty() && s[1][0] == '$') {
    std::string op = s[1];
    return plan(operation_interaction(op), [type, op](Ctx& c) { handle_type_operation(c, type, op); });
  }
  const std::string id = s[1];
  c.id = id;
  if (s.size() == 2) {
    if (get) return plan(I::read, [type, id](Ctx& c) { handle_read(c, type, id); });
    if (m == "PUT") return plan(I::update, [type, id](Ctx& c) { handle_update(c, type, id); });
    if (m == "PATCH") return plan(I::patch, [type, id](Ctx& c) { handle_patch(c, type, id); });
    if (m == "DELETE") return plan(I::del, [type, id](Ctx& c) { handle_delete(c, type, id); });
    return bad_method();
  }
  if (s.size() == 3 && s[2] == "$meta")
    return get || m == "POST" ? plan(I::read, [type, id](Ctx& c) { handle_meta(c, type, id, ""); }) : bad_method();
  if (s.size() == 3 && (s[2] == "$meta-add" || s[2] == "$meta-delete")) {
    bool add = s[2] == "$meta-add";
    return m == "POST" ? plan(I::update, [type, id, add](Ctx& c) { handle_meta_change(c, type, id, add); }) : bad_method();
  }
  if (s.size() == 5 && s[2] == "_history" && s[4] == "$meta") {
    std::string vid = s[3];
    return get || m == "POST" ? plan(I::vread, [type, id, vid](Ctx& c) { handle_meta(c, type, id, vid); }) : bad_method();
  }
  if (s.size() == 5 && s[2] == "_history" && (s[4] == "$meta-add" || s[4] == "$meta-delete"))
    return error_plan(Status(Err::method_not_allowed, s[4] + " on a historical version is not supported: stored versions "
                                                      "never change here (use it on the current version)"));
  // Instance level: the definition is read as a read interaction would.
  if (s.size() == 3 && is_terminology_operation(type, s[2])) {
    std::string op = s[2];
    Plan p = plan(I::read, [type, id, op](Ctx& c) { handle_terminology(c, type, id, op); });
    p.label = "terminology";
    return p;
  }
  if (s.size() == 3 && !s[2].empty() && s[2][0] == '$') {
    std::string op = s[2];
    return plan(operation_interaction(op), [type, id, op](Ctx& c) { handle_instance_operation(c, type, id, op); });
  }
  if (s.size() == 3 && s[2] != "_history" && (s[2] == "*" || fhir::is_resource_type(s[2]))) {
    std::string t2 = s[2];
    c.type = t2 == "*" ? "" : t2;  // the policy decides on the searched type
    return get ? plan(I::search_compartment, [type, id, t2](Ctx& c) { handle_compartment_search(c, type, id, t2); })
               : bad_method();
  }
  if (s.size() == 3 && s[2] == "_history")
    return get ? plan(I::history_instance, [type, id](Ctx& c) { handle_history(c, type, id); }) : bad_method();
  if (s.size() == 4 && s[2] == "_history") {
    std::string vid = s[3];
    return get ? plan(I::vread, [type, id, vid](Ctx& c) { handle_vread(c, type, id, vid); }) : bad_method();
  }
  return error_plan(Status(Err::not_found, "no FHIR interaction at " + c.req.path));
}

}  // namespace ef::http

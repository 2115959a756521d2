// http/terminology.h — the terminology operations' HTTP front (http/terminology.cpp): which
// [type]/$op names are terminology operations, and their handler (type level: id "").
// Routed by http/routes.cpp before the generic operation dispatch.
#pragma once
#include <string>

#include "http/context.h"

namespace ef::http {

// ValueSet $expand / $validate-code, CodeSystem $lookup / $subsumes / $validate-code,
// ConceptMap $translate.
bool is_terminology_operation(const std::string& type, const std::string& op);
void handle_terminology(Ctx& c, const std::string& type, const std::string& id, const std::string& op);

}  // namespace ef::http

// http/operations.cpp — see operations.h.  Maps operation names to their handlers.
#include "http/operations.h"

namespace ef::http {

auth::Interaction operation_interaction(const std::string& op) {
  using I = auth::Interaction;
  if (op == "$everything") return I::everything;
  if (op == "$export") return I::export_;
  if (op == "$validate") return I::validate;
  return I::admin;
}

static void unsupported(Ctx& c, const std::string& op) {
  send_error(c, Status(Err::not_supported, "operation '" + op + "' is not supported"));
}

void handle_type_operation(Ctx& c, const std::string& type, const std::string& op) {
  (void)type;
  unsupported(c, op);
}

void handle_instance_operation(Ctx& c, const std::string& type, const std::string& id, const std::string& op) {
  (void)type;
  (void)id;
  unsupported(c, op);
}

void handle_export(Ctx& c, const std::string& type, const std::string& id) {
  (void)type;
  (void)id;
  unsupported(c, "$export");
}

void handle_export_job(Ctx& c) { unsupported(c, "$export"); }

}  // namespace ef::http

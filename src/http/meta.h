// http/meta.h — $meta, $meta-add, $meta-delete (meta.cpp); routed by server.cpp:
//   [base]/$meta                                  handle_meta(c, "", "", "")
//   [base]/[type]/$meta                           handle_meta(c, type, "", "")
//   [base]/[type]/[id]/$meta                      handle_meta(c, type, id, "")
//   [base]/[type]/[id]/_history/[vid]/$meta       handle_meta(c, type, id, vid)
//   [base]/[type]/[id]/$meta-add | $meta-delete   handle_meta_change(c, type, id, add)
#pragma once
#include <string>

#include "http/context.h"

namespace ef::http {

void handle_meta(Ctx& c, const std::string& type, const std::string& id, const std::string& vid);
void handle_meta_change(Ctx& c, const std::string& type, const std::string& id, bool add);

}  // namespace ef::http

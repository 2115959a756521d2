// fhir/json_patch.cpp — see json_patch.h.
#include "fhir/json_patch.h"

#include <vector>

namespace ef::fhir {
namespace {

bool parse_pointer(const std::string& p, std::vector<std::string>* out) {
  out->clear();
  if (p.empty()) return true;
  if (p[0] != '/') return false;
  std::string cur;
  for (size_t i = 1; i <= p.size(); ++i) {
    if (i == p.size() || p[i] == '/') {
      out->push_back(cur);
      cur.clear();
    } else if (p[i] == '~') {
      if (i + 1 >= p.size() || (p[i + 1] != '0' && p[i + 1] != '1')) return false;
      cur.push_back(p[i + 1] == '0' ? '~' : '/');
      ++i;
    } else {
      cur.push_back(p[i]);
    }
  }
  return true;
}

bool array_index(const std::string& s, size_t size, bool allow_end, size_t* out) {
  if (allow_end && s == "-") { *out = size; return true; }
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return false;
  size_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + size_t(c - '0');
    if (n > 1000000) return false;
  }
  if (n > size || (!allow_end && n == size)) return false;
  *out = n;
  return true;
}

// Resolves all but the last token; returns the parent container.
json::Value* parent_of(json::Value& doc, const std::vector<std::string>& toks) {
  json::Value* cur = &doc;
  for (size_t i = 0; i + 1 < toks.size(); ++i) {
    if (cur->is<json::Object>()) {
      auto& o = cur->get<json::Object>();
      auto it = o.find(toks[i]);
      if (it == o.end()) return nullptr;
      cur = &it->second;
    } else if (cur->is<json::Array>()) {
      auto& a = cur->get<json::Array>();
      size_t idx;
      if (!array_index(toks[i], a.size(), false, &idx)) return nullptr;
      cur = &a[idx];
    } else {
      return nullptr;
    }
  }
  return cur;
}

json::Value* find(json::Value& doc, const std::vector<std::string>& toks) {
  if (toks.empty()) return &doc;
  json::Value* parent = parent_of(doc, toks);
  if (!parent) return nullptr;
  if (parent->is<json::Object>()) {
    auto& o = parent->get<json::Object>();
    auto it = o.find(toks.back());
    return it == o.end() ? nullptr : &it->second;
  }
  if (parent->is<json::Array>()) {
    auto& a = parent->get<json::Array>();
    size_t idx;
    if (!array_index(toks.back(), a.size(), false, &idx)) return nullptr;
    return &a[idx];
  }
  return nullptr;
}

bool do_remove(json::Value& doc, const std::vector<std::string>& toks, json::Value* removed) {
  if (toks.empty()) return false;
  json::Value* parent = parent_of(doc, toks);
  if (!parent) return false;
  if (parent->is<json::Object>()) {
    auto& o = parent->get<json::Object>();
    auto it = o.find(toks.back());
    if (it == o.end()) return false;
    if (removed) *removed = it->second;
    o.erase(it);
    return true;
  }
  if (parent->is<json::Array>()) {
    auto& a = parent->get<json::Array>();
    size_t idx;
    if (!array_index(toks.back(), a.size(), false, &idx)) return false;
    if (removed) *removed = a[idx];
    a.erase(a.begin() + long(idx));
    return true;
  }
  return false;
}

bool do_add(json::Value& doc, const std::vector<std::string>& toks, const json::Value& v) {
  if (toks.empty()) { doc = v; return true; }
  json::Value* parent = parent_of(doc, toks);
  if (!parent) return false;
  if (parent->is<json::Object>()) {
    parent->get<json::Object>()[toks.back()] = v;
    return true;
  }
  if (parent->is<json::Array>()) {
    auto& a = parent->get<json::Array>();
    size_t idx;
    if (!array_index(toks.back(), a.size(), true, &idx)) return false;
    a.insert(a.begin() + long(idx), v);
    return true;
  }
  return false;
}

bool equal(const json::Value& a, const json::Value& b) { return json::write(a) == json::write(b); }

}  // namespace

Status apply_json_patch(json::Value& doc, const json::Value& patch) {
  const json::Array* ops = json::as_array(patch);
  if (!ops) return Status(Err::invalid, "a JSON Patch document must be a JSON array of operations");
  for (size_t i = 0; i < ops->size(); ++i) {
    const json::Value& op = (*ops)[i];
    std::string where = "JSON Patch operation " + std::to_string(i);
    const std::string* name = json::get_string(op, "op");
    const std::string* path = json::get_string(op, "path");
    if (!name || !path) return Status(Err::invalid, where + " needs string members 'op' and 'path'");
    std::vector<std::string> toks;
    if (!parse_pointer(*path, &toks)) return Status(Err::invalid, where + ": invalid JSON pointer '" + *path + "'");
    const json::Value* value = json::get(op, "value");
    bool ok = true;
    if (*name == "add" || *name == "replace" || *name == "test") {
      if (!value) return Status(Err::invalid, where + " (" + *name + ") needs a 'value'");
    }
    if (*name == "add") {
      ok = do_add(doc, toks, *value);
    } else if (*name == "remove") {
      ok = do_remove(doc, toks, nullptr);
    } else if (*name == "replace") {
      json::Value* t = find(doc, toks);
      ok = t != nullptr;
      if (ok) *t = *value;
    } else if (*name == "move" || *name == "copy") {
      const std::string* from = json::get_string(op, "from");
      std::vector<std::string> ftoks;
      if (!from || !parse_pointer(*from, &ftoks)) return Status(Err::invalid, where + " needs a valid 'from' pointer");
      json::Value v;
      if (*name == "move") {
        if (*from == *path) continue;
        if (path->compare(0, from->size() + 1, *from + "/") == 0)
          return Status(Err::invalid, where + ": cannot move a value into one of its own children");
        ok = do_remove(doc, ftoks, &v);
      } else {
        json::Value* f = find(doc, ftoks);
        ok = f != nullptr;
        if (ok) v = *f;
      }
      if (ok) ok = do_add(doc, toks, v);
    } else if (*name == "test") {
      json::Value* t = find(doc, toks);
      if (!t || !equal(*t, *value))
        return Status(Err::unprocessable, where + " (test) failed at '" + *path + "'");
    } else {
      return Status(Err::invalid, where + ": unknown op '" + *name + "'");
    }
    if (!ok) return Status(Err::unprocessable, where + " (" + *name + ") cannot be applied at '" + *path + "'");
  }
  return Status();
}

}  // namespace ef::fhir

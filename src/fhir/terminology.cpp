// fhir/terminology.cpp — see terminology.h.
#include "fhir/terminology.h"

#include <algorithm>
#include <cctype>
#include <regex>
#include <set>
#include <shared_mutex>
#include <unordered_set>

#include "fhir/embedded_data.h"
#include "util/pages.h"
#include "util/text.h"
#include "util/trim.h"

namespace ef::fhir::term {

Status not_available(const std::string& msg) {
  Status st(Err::invalid, msg);
  st.issue_code = "not-supported";
  return st;
}

namespace {

std::string lower(std::string s) {
  for (auto& ch : s) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

std::string key_of(const std::string& system, const std::string& code) { return system + '\x1f' + code; }

// value[x] of a property as text ("true"/"false" for booleans, the number's text).
std::string prop_text(const Property& p) {
  if (const std::string* s = json::as_string(p.value)) return *s;
  if (p.value.is<bool>()) return p.value.get<bool>() ? "true" : "false";
  if (json::is_number(p.value)) return json::number_text(p.value);
  if (const json::Object* o = json::as_object(p.value)) {  // valueCoding
    auto it = o->find("code");
    if (it != o->end() && json::is_string(it->second)) return it->second.get<std::string>();
  }
  return {};
}

// std::regex backtracks: a quantified group that itself holds a quantifier or an alternation
// ("(a+)+", "(a|aa)*") or a backreference can take exponential time even on short input.
// Such patterns are refused, so every accepted one runs in polynomial time on the bounded
// (Limits::max_regex_input) codes it is matched against.  Returns "" or why it is refused.
std::string unsafe_regex(const std::string& re) {
  struct Group {
    bool inner = false;  // holds a quantifier or '|'
  };
  std::vector<Group> st;
  auto quant = [](char ch) { return ch == '*' || ch == '+' || ch == '?' || ch == '{'; };
  for (size_t i = 0; i < re.size(); ++i) {
    char ch = re[i];
    if (ch == '\\') {
      if (i + 1 < re.size() && re[i + 1] >= '1' && re[i + 1] <= '9') return "backreferences are not supported";
      ++i;
      continue;
    }
    if (ch == '[') {  // a class: skip to its end
      size_t j = i + 1;
      if (j < re.size() && re[j] == '^') ++j;
      if (j < re.size() && re[j] == ']') ++j;
      while (j < re.size() && re[j] != ']') j += re[j] == '\\' ? 2 : 1;
      i = j;
      continue;
    }
    if (ch == '(') {
      st.push_back({});
    } else if (ch == ')') {
      if (st.empty()) return "";  // std::regex reports it
      bool inner = st.back().inner;
      st.pop_back();
      bool quantified = i + 1 < re.size() && quant(re[i + 1]);
      if (quantified && inner) return "a repeated group may not contain a quantifier or '|' (nested repetition)";
      if (!st.empty() && (inner || quantified)) st.back().inner = true;
    } else if ((quant(ch) || ch == '|') && !st.empty()) {
      st.back().inner = true;
    }
  }
  return "";
}

std::vector<Designation> parse_designations(const json::Value& c) {
  std::vector<Designation> out;
  if (const json::Array* ds = json::get_array(c, "designation"))
    for (const auto& d : *ds) {
      Designation x;
      x.language = json::string_or(d, "language");
      x.value = json::string_or(d, "value");
      if (const json::Value* u = json::get(d, "use")) {
        x.use_system = json::string_or(*u, "system");
        x.use_code = json::string_or(*u, "code");
        x.use_display = json::string_or(*u, "display");
      }
      if (!x.value.empty()) out.push_back(std::move(x));
    }
  return out;
}

struct Builder {
  CodeSystem* cs;
  std::vector<std::pair<uint32_t, std::string>> parent_links;  // child index, parent code
  std::vector<std::pair<uint32_t, std::string>> child_links;   // parent index, child code
  size_t budget = 2000000;

  Status add(const json::Array& list, int parent, int depth) {
    if (depth > 64) return Status(Err::invalid, "CodeSystem.concept nests deeper than 64 levels");
    for (const auto& c : list) {
      if (!budget--) return Status(Err::too_large, "CodeSystem has too many concepts");
      const std::string* code = json::get_string(c, "code");
      if (!code || code->empty()) continue;
      Concept k;
      k.code = *code;
      k.display = json::string_or(c, "display");
      k.definition = json::string_or(c, "definition");
      k.designations = parse_designations(c);
      if (const json::Array* ps = json::get_array(c, "property"))
        for (const auto& p : *ps) {
          const json::Object* o = json::as_object(p);
          if (!o) continue;
          Property q;
          q.code = json::string_or(p, "code");
          for (const auto& kv : *o)
            if (kv.first.compare(0, 5, "value") == 0) q.member = kv.first, q.value = kv.second;
          std::string t = prop_text(q);
          if (q.code == "status" && (t == "retired" || t == "inactive")) k.inactive = true;
          if (q.code == "inactive" && t == "true") k.inactive = true;
          if ((q.code == "notSelectable" || q.code == "abstract") && t == "true") k.abstract_ = true;
          k.properties.push_back(std::move(q));
        }
      uint32_t idx = uint32_t(cs->concepts.size());
      auto ins = cs->by_code.emplace(k.code, idx);
      if (!ins.second) {  // duplicate code: keep the first definition, link the hierarchy
        if (parent >= 0) link(uint32_t(parent), ins.first->second);
        continue;
      }
      for (const auto& q : k.properties) {
        std::string t = prop_text(q);
        if (t.empty()) continue;
        if (q.code == "parent" || q.code == "subsumedBy") parent_links.push_back({idx, t});
        else if (q.code == "child") child_links.push_back({idx, t});
      }
      cs->concepts.push_back(std::move(k));
      if (parent >= 0) link(uint32_t(parent), idx);
      if (const json::Array* kids = json::get_array(c, "concept")) {
        Status st = add(*kids, int(idx), depth + 1);
        if (!st) return st;
      }
    }
    return Status();
  }
  void link(uint32_t p, uint32_t c) {
    if (p == c) return;
    auto& ch = cs->concepts[p].children;
    if (std::find(ch.begin(), ch.end(), c) != ch.end()) return;
    ch.push_back(c);
    cs->concepts[c].parents.push_back(p);
  }
};

}  // namespace

const Concept* CodeSystem::find(const std::string& code) const {
  int i = index(code);
  return i < 0 ? nullptr : &concepts[size_t(i)];
}

int CodeSystem::index(const std::string& code) const {
  auto it = by_code.find(code);
  if (it != by_code.end()) return int(it->second);
  if (!case_sensitive) {
    std::string l = lower(code);
    for (size_t i = 0; i < concepts.size(); ++i)
      if (lower(concepts[i].code) == l) return int(i);
  }
  return -1;
}

std::vector<uint32_t> CodeSystem::descendants_or_self(uint32_t b) const {
  std::vector<uint32_t> out, stack{b};
  std::vector<char> seen(concepts.size(), 0);
  while (!stack.empty()) {
    uint32_t x = stack.back();
    stack.pop_back();
    if (seen[x]) continue;
    seen[x] = 1;
    out.push_back(x);
    for (uint32_t c : concepts[x].children) stack.push_back(c);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool CodeSystem::subsumes(uint32_t a, uint32_t b) const {
  std::vector<uint32_t> stack{b};
  std::vector<char> seen(concepts.size(), 0);
  while (!stack.empty()) {
    uint32_t x = stack.back();
    stack.pop_back();
    if (x == a) return true;
    if (seen[x]) continue;
    seen[x] = 1;
    for (uint32_t p : concepts[x].parents) stack.push_back(p);
  }
  return false;
}

Result<std::shared_ptr<const CodeSystem>> parse_code_system(const json::Value& r, bool stored) {
  auto cs = std::make_shared<CodeSystem>();
  cs->url = json::string_or(r, "url");
  cs->version = json::string_or(r, "version");
  cs->name = json::string_or(r, "name");
  cs->content = json::string_or(r, "content", "complete");
  cs->hierarchy_meaning = json::string_or(r, "hierarchyMeaning");
  if (const json::Value* v = json::get(r, "caseSensitive"); v && v->is<bool>()) cs->case_sensitive = v->get<bool>();
  cs->stored = stored;
  Builder b{cs.get(), {}, {}};
  if (const json::Array* a = json::get_array(r, "concept")) {
    Status st = b.add(*a, -1, 0);
    if (!st) return st;
  }
  for (const auto& [child, parent] : b.parent_links) {
    auto it = cs->by_code.find(parent);
    if (it != cs->by_code.end()) b.link(it->second, child);
  }
  for (const auto& [parent, child] : b.child_links) {
    auto it = cs->by_code.find(child);
    if (it != cs->by_code.end()) b.link(parent, it->second);
  }
  return std::shared_ptr<const CodeSystem>(std::move(cs));
}

// ---------------------------------------------------------------------------------------------
// Bundled content: data/terminology.tsv, "kind\turl\tversion\tjson" lines.  A row is parsed
// on first use and kept for the next while the source text of the rows kept totals at most
// kKeepTextBytes; beyond it the least recently used are let go (parsed again when asked).
// Parsed, a row takes about 8x its text: kept all, the 3.4 MB of rows held ~30 MB for the life
// of the process after one caller expanded every bundled value set (expansions themselves are
// cached by service/terminology).
namespace {

constexpr size_t kKeepTextBytes = 1u << 20;

class Bundled : public Source {
 public:
  std::shared_ptr<const CodeSystem> code_system(const std::string& url, const std::string& version) const override {
    return find(cs_, url, version, [](json::Value v) -> std::shared_ptr<const CodeSystem> {
      auto cs = parse_code_system(v, false);
      return cs ? *cs : nullptr;
    });
  }
  std::shared_ptr<const json::Value> value_set(const std::string& url, const std::string& version) const override {
    return find(vs_, url, version, [](json::Value v) { return std::make_shared<const json::Value>(std::move(v)); });
  }
  size_t count(const std::string& kind) const {
    std::call_once(once_, [this] { index(); });
    return kind == "CodeSystem" ? cs_.size() : vs_.size();
  }

 private:
  template <class T>
  struct Row {
    std::string_view version, text;
    std::shared_ptr<const T> parsed;
    uint64_t used = 0;  // tick of the last use while parsed
  };
  static bool version_ok(std::string_view have, const std::string& want) { return want.empty() || have == want; }
  // The row of `url` (of `version` when one is asked), parsed on first use by `parse` (null: not
  // usable; asked again next time); null when absent.
  template <class T, class Parse>
  std::shared_ptr<const T> find(std::unordered_map<std::string, Row<T>>& rows, const std::string& url,
                                const std::string& version, Parse parse) const {
    std::call_once(once_, [this] { index(); });
    std::lock_guard<std::mutex> g(mu_);
    auto it = rows.find(url);
    if (it == rows.end() || !version_ok(it->second.version, version)) return nullptr;
    Row<T>& row = it->second;
    row.used = ++tick_;
    if (!row.parsed) {
      auto v = json::parse(row.text);
      // parsed: the row's pages of the embedded table go back to the kernel (util/pages.h), so
      // expanding every bundled value set does not leave the 3.6 MB table resident
      pages::release_within(row.text, embedded_terminology());
      if (!v) return nullptr;
      row.parsed = parse(std::move(*v));
      if (!row.parsed) return nullptr;
      kept_ += row.text.size();
      trim::note(row.text.size() * 8);  // parsed, a row takes ~8x its text
      while (kept_ > kKeepTextBytes && let_go_oldest(row.used)) {
      }
    }
    return row.parsed;
  }
  // Lets the least recently used parsed row go, never the one used at `now`; false when none.
  bool let_go_oldest(uint64_t now) const {
    uint64_t oldest = now;
    std::shared_ptr<const CodeSystem>* cs = nullptr;
    std::shared_ptr<const json::Value>* vs = nullptr;
    size_t bytes = 0;
    for (auto& [url, r] : cs_)
      if (r.parsed && r.used < oldest) oldest = r.used, cs = &r.parsed, vs = nullptr, bytes = r.text.size();
    for (auto& [url, r] : vs_)
      if (r.parsed && r.used < oldest) oldest = r.used, vs = &r.parsed, cs = nullptr, bytes = r.text.size();
    if (!cs && !vs) return false;
    if (cs) cs->reset();
    if (vs) vs->reset();
    kept_ -= bytes;
    trim::note(bytes * 8);
    return true;
  }
  void index() const {
    std::string_view all = embedded_terminology();
    // kind \t url \t version \t JSON (the JSON, last, may hold any character but a newline)
    ef::text::each_line(all, [&](std::string_view line) {
      size_t t1 = line.find('\t'), t2 = line.find('\t', t1 + 1), t3 = line.find('\t', t2 + 1);
      if (t3 == std::string_view::npos) return true;
      std::string_view kind = line.substr(0, t1);
      std::string url(line.substr(t1 + 1, t2 - t1 - 1));
      std::string_view ver = line.substr(t2 + 1, t3 - t2 - 1), json_text = line.substr(t3 + 1);
      if (kind == "CodeSystem") cs_.emplace(url, Row<CodeSystem>{ver, json_text, nullptr});
      else if (kind == "ValueSet") vs_.emplace(url, Row<json::Value>{ver, json_text, nullptr});
      return true;
    });
    pages::release(all);  // indexed: only the rows parsed later fault back in (util/pages.h)
  }
  mutable std::once_flag once_;
  mutable std::mutex mu_;
  mutable std::unordered_map<std::string, Row<CodeSystem>> cs_;
  mutable std::unordered_map<std::string, Row<json::Value>> vs_;
  mutable uint64_t tick_ = 0;   // under mu_
  mutable size_t kept_ = 0;     // text bytes of the parsed rows kept, under mu_
};

}  // namespace

const Source& bundled() {
  static Bundled b;
  return b;
}

size_t bundled_count(const char* kind) { return static_cast<const Bundled&>(bundled()).count(kind); }

// ---------------------------------------------------------------------------------------------
// Expansion

const Item* Expansion::find(const std::string& system, const std::string& code) const {
  auto it = index.find(key_of(system, code));
  return it == index.end() ? nullptr : &items[it->second];
}

const Item* Expansion::find_code(const std::string& code) const {
  for (const auto& i : items)
    if (i.code == code) return &i;
  return nullptr;
}

namespace {

using ItemSet = std::vector<Item>;

struct Expander {
  const Source& src;
  const Limits& lim;
  bool active_only;
  std::vector<std::string> stack;  // value set URLs being expanded (cycle detection)

  static Item item_of(const CodeSystem& cs, const Concept& c) {
    Item it;
    it.system = cs.url;
    it.version = cs.version;
    it.code = c.code;
    it.display = c.display;
    it.inactive = c.inactive;
    it.abstract_ = c.abstract_;
    it.designations = c.designations;
    return it;
  }

  Status too_big() const {
    return Status(Err::too_large, "the expansion has more than " + std::to_string(lim.max_expansion) +
                                      " concepts (the limit of this server); use a smaller value set or a filter");
  }

  // The concepts of `cs` that pass one filter.
  Result<std::vector<uint32_t>> filter(const CodeSystem& cs, const json::Value& f) {
    std::string prop = json::string_or(f, "property"), op = json::string_or(f, "op"),
                value = json::string_or(f, "value");
    std::vector<uint32_t> out;
    auto all = [&](auto pred) {
      for (uint32_t i = 0; i < cs.concepts.size(); ++i)
        if (pred(cs.concepts[i], i)) out.push_back(i);
    };
    bool hier = prop == "concept" || prop == "code";
    if (op == "is-a" || op == "descendent-of" || op == "is-not-a" || op == "generalizes") {
      if (!hier) return not_available("filter '" + prop + " " + op + "' is not supported (only property concept)");
      int root = cs.index(value);
      if (root < 0)
        return Status(Err::invalid, "filter " + op + " '" + value + "': no such code in " + cs.url);
      if (op == "is-a") return cs.descendants_or_self(uint32_t(root));
      if (op == "descendent-of") {
        auto d = cs.descendants_or_self(uint32_t(root));
        d.erase(std::remove(d.begin(), d.end(), uint32_t(root)), d.end());
        return d;
      }
      if (op == "generalizes") {
        all([&](const Concept&, uint32_t i) { return cs.subsumes(i, uint32_t(root)); });
        return out;
      }
      auto d = cs.descendants_or_self(uint32_t(root));
      std::vector<char> in(cs.concepts.size(), 0);
      for (uint32_t x : d) in[x] = 1;
      all([&](const Concept&, uint32_t i) { return !in[i]; });
      return out;
    }
    auto prop_values = [&](const Concept& c) {
      std::vector<std::string> v;
      if (hier) v.push_back(c.code);
      else if (prop == "display") v.push_back(c.display);
      else
        for (const auto& p : c.properties)
          if (p.code == prop) v.push_back(prop_text(p));
      return v;
    };
    if (op == "=") {
      all([&](const Concept& c, uint32_t) {
        for (const auto& v : prop_values(c))
          if (v == value) return true;
        return false;
      });
      return out;
    }
    if (op == "in" || op == "not-in") {
      std::set<std::string> want;
      size_t i = 0;
      while (i <= value.size()) {
        size_t j = value.find(',', i);
        if (j == std::string::npos) j = value.size();
        want.insert(value.substr(i, j - i));
        i = j + 1;
      }
      bool neg = op == "not-in";
      all([&](const Concept& c, uint32_t) {
        bool hit = false;
        for (const auto& v : prop_values(c)) hit = hit || want.count(v);
        return hit != neg;
      });
      return out;
    }
    if (op == "exists") {
      bool want = value != "false";
      all([&](const Concept& c, uint32_t) { return prop_values(c).empty() != want; });
      return out;
    }
    if (op == "regex") {
      if (value.size() > lim.max_regex)
        return Status(Err::too_large, "regex filter longer than " + std::to_string(lim.max_regex) + " characters");
      if (std::string why = unsafe_regex(value); !why.empty())
        return not_available("regex filter '" + value + "' is not supported: " + why);
      std::regex re;
      try {
        re = std::regex(value, std::regex::ECMAScript | std::regex::nosubs);
      } catch (const std::regex_error&) {
        return Status(Err::invalid, "regex filter '" + value + "' is not a valid regular expression");
      }
      try {
        all([&](const Concept& c, uint32_t) {
          for (const auto& v : prop_values(c))
            if (v.size() <= lim.max_regex_input && std::regex_match(v, re)) return true;
          return false;
        });
      } catch (const std::regex_error&) {
        return Status(Err::too_large, "regex filter '" + value + "' is too complex to evaluate");
      }
      return out;
    }
    return not_available("filter operator '" + op + "' is not supported");
  }

  // One include / exclude item.
  Result<ItemSet> part(const json::Value& inc) {
    std::string system = json::string_or(inc, "system"), version = json::string_or(inc, "version");
    ItemSet items;
    bool have = false;
    if (!system.empty()) {
      std::shared_ptr<const CodeSystem> cs = src.code_system(system, version);
      const json::Array* concepts = json::get_array(inc, "concept");
      const json::Array* filters = json::get_array(inc, "filter");
      if (concepts) {
        for (const auto& c : *concepts) {
          std::string code = json::string_or(c, "code");
          if (code.empty()) continue;
          Item it;
          const Concept* k = cs ? cs->find(code) : nullptr;
          if (k) it = item_of(*cs, *k);
          else {
            it.system = system;
            it.version = version;
            it.code = code;
          }
          std::string d = json::string_or(c, "display");
          if (!d.empty()) it.display = d;
          auto ds = parse_designations(c);
          if (!ds.empty()) it.designations = std::move(ds);
          items.push_back(std::move(it));
          if (items.size() > lim.max_expansion) return too_big();
        }
      } else {
        if (!cs)
          return not_available("code system " + system + (version.empty() ? "" : "|" + version) +
                               " is not available on this server (not bundled and not stored): its concepts "
                               "cannot be enumerated");
        if (cs->content == "not-present" || cs->content == "example" || cs->content == "fragment") {
          if (!filters || cs->concepts.empty())
            return not_available("code system " + system + " has content '" + cs->content +
                                 "' on this server: its concepts cannot be enumerated");
        }
        std::vector<char> keep(cs->concepts.size(), 1);
        if (filters) {
          for (const auto& f : *filters) {
            auto sel = filter(*cs, f);
            if (!sel) return sel.status();
            std::vector<char> in(cs->concepts.size(), 0);
            for (uint32_t x : *sel) in[x] = 1;
            for (size_t i = 0; i < keep.size(); ++i) keep[i] = keep[i] && in[i];
          }
        }
        for (size_t i = 0; i < keep.size(); ++i)
          if (keep[i]) {
            items.push_back(item_of(*cs, cs->concepts[i]));
            if (items.size() > lim.max_expansion) return too_big();
          }
      }
      have = true;
    }
    if (const json::Array* vss = json::get_array(inc, "valueSet")) {
      for (const auto& v : *vss) {
        const std::string* u = json::as_string(v);
        if (!u) continue;
        std::string url = *u, ver;
        if (size_t bar = url.find('|'); bar != std::string::npos) ver = url.substr(bar + 1), url.resize(bar);
        auto sub = import(url, ver);
        if (!sub) return sub.status();
        if (!have) {
          items = std::move(*sub);
          have = true;
        } else {  // intersection with what the system part selected
          std::unordered_set<std::string> in;
          for (const auto& it : *sub) in.insert(key_of(it.system, it.code));
          items.erase(std::remove_if(items.begin(), items.end(),
                                     [&](const Item& it) { return !in.count(key_of(it.system, it.code)); }),
                      items.end());
        }
      }
    }
    if (!have) return Status(Err::invalid, "a compose include/exclude has neither system nor valueSet");
    return items;
  }

  Result<ItemSet> import(const std::string& url, const std::string& version) {
    if (int(stack.size()) >= lim.max_depth)
      return Status(Err::too_large, "value set imports nest deeper than " + std::to_string(lim.max_depth) + " (at " + url + ")");
    if (std::find(stack.begin(), stack.end(), url) != stack.end())
      return Status(Err::invalid, "value set " + url + " imports itself (cycle through " + stack.front() + ")");
    auto vs = src.value_set(url, version);
    if (!vs) return Status(Err::not_found, "value set " + url + (version.empty() ? "" : "|" + version) + " is not known on this server");
    return value_set(*vs);
  }

  Result<ItemSet> value_set(const json::Value& vs) {
    std::string url = json::string_or(vs, "url");
    stack.push_back(url);
    struct Pop {
      std::vector<std::string>& s;
      ~Pop() { s.pop_back(); }
    } pop{stack};
    const json::Value* compose = json::get(vs, "compose");
    if (!compose) {
      const json::Value* exp = json::get(vs, "expansion");
      if (!exp) return Status(Err::invalid, "value set " + url + " has neither compose nor expansion");
      ItemSet out;
      std::vector<const json::Array*> todo;
      if (const json::Array* a = json::get_array(*exp, "contains")) todo.push_back(a);
      while (!todo.empty()) {
        const json::Array* a = todo.back();
        todo.pop_back();
        for (const auto& c : *a) {
          if (const json::Array* k = json::get_array(c, "contains")) todo.push_back(k);
          Item it;
          it.system = json::string_or(c, "system");
          it.version = json::string_or(c, "version");
          it.code = json::string_or(c, "code");
          it.display = json::string_or(c, "display");
          if (const json::Value* b = json::get(c, "inactive"); b && b->is<bool>()) it.inactive = b->get<bool>();
          if (const json::Value* b = json::get(c, "abstract"); b && b->is<bool>()) it.abstract_ = b->get<bool>();
          if (it.code.empty()) continue;
          out.push_back(std::move(it));
          if (out.size() > lim.max_expansion) return too_big();
        }
      }
      return out;
    }
    ItemSet out;
    std::unordered_set<std::string> seen;
    if (const json::Array* inc = json::get_array(*compose, "include"))
      for (const auto& i : *inc) {
        auto p = part(i);
        if (!p) return p.status();
        for (auto& it : *p)
          if (seen.insert(key_of(it.system, it.code)).second) {
            out.push_back(std::move(it));
            if (out.size() > lim.max_expansion) return too_big();
          }
      }
    if (const json::Array* exc = json::get_array(*compose, "exclude")) {
      std::unordered_set<std::string> drop;
      for (const auto& i : *exc) {
        auto p = part(i);
        if (!p) return p.status();
        for (const auto& it : *p) drop.insert(key_of(it.system, it.code));
      }
      out.erase(std::remove_if(out.begin(), out.end(), [&](const Item& it) { return drop.count(key_of(it.system, it.code)); }),
                out.end());
    }
    return out;
  }
};

}  // namespace

Result<std::shared_ptr<const Expansion>> expand(const Source& src, const json::Value& vs, bool active_only,
                                                const Limits& lim) {
  Expander x{src, lim, active_only, {}};
  auto items = x.value_set(vs);
  if (!items) return items.status();
  auto e = std::make_shared<Expansion>();
  e->url = json::string_or(vs, "url");
  e->version = json::string_or(vs, "version");
  for (auto& it : *items) {
    if (active_only && it.inactive) continue;
    e->bytes += 64 + it.system.size() + it.code.size() + it.display.size() + it.version.size();
    for (const auto& d : it.designations) e->bytes += 48 + d.value.size() + d.language.size();
    e->index.emplace(key_of(it.system, it.code), uint32_t(e->items.size()));
    e->items.push_back(std::move(it));
  }
  trim::note(e->bytes);  // the request thread hands the expansion's temporaries back (util/trim.h)
  return std::shared_ptr<const Expansion>(std::move(e));
}

bool CodeSet::has_code(const std::string& code) const {
  for (const auto& kv : codes)
    if (kv.second.count(code)) return true;
  return false;
}

bool CodeSet::has(const std::string& system, const std::string& code) const {
  auto it = codes.find(system);
  return it != codes.end() && it->second.count(code) > 0;
}

namespace {

struct CodeSets {
  std::shared_mutex mu;
  std::unordered_map<std::string, std::unique_ptr<const CodeSet>> by_url;
};

CodeSets& code_sets() {
  static CodeSets* c = new CodeSets;  // never destroyed: pointers handed out stay valid at exit
  return *c;
}

std::unique_ptr<const CodeSet> build_code_set(const std::string& url) {
  auto out = std::make_unique<CodeSet>();
  auto vs = bundled().value_set(url, "");
  if (!vs) return out;
  auto e = expand(bundled(), *vs, false, Limits{});
  if (!e || (*e)->items.empty()) return out;
  for (const auto& it : (*e)->items) out->codes[it.system].insert(it.code);
  out->enumerated = true;
  return out;
}

}  // namespace

const CodeSet* bundled_code_set(const std::string& url) {
  CodeSets& c = code_sets();
  {
    std::shared_lock<std::shared_mutex> g(c.mu);
    auto it = c.by_url.find(url);
    if (it != c.by_url.end()) return it->second.get();
  }
  auto built = build_code_set(url);  // outside the lock: two first callers may both build
  std::unique_lock<std::shared_mutex> g(c.mu);
  auto ins = c.by_url.emplace(url, std::move(built));
  return ins.first->second.get();
}

size_t bundled_code_sets_built() {
  CodeSets& c = code_sets();
  std::shared_lock<std::shared_mutex> g(c.mu);
  return c.by_url.size();
}

namespace {

json::Value param(const std::string& name, const char* type, json::Value v) {
  json::Object p;
  p["name"] = json::Value(name);
  p[std::string("value") + type] = std::move(v);
  return json::Value(std::move(p));
}

// A parameter made of parts: {"name": name, "part": parts}.
json::Value part_param(const std::string& name, json::Array parts) {
  json::Object p;
  p["name"] = json::Value(name);
  p["part"] = json::Value(std::move(parts));
  return json::Value(std::move(p));
}

// A Coding; an empty system or display is left out.
json::Value coding(const std::string& system, const std::string& code, const std::string& display) {
  json::Object c;
  if (!system.empty()) c["system"] = json::Value(system);
  c["code"] = json::Value(code);
  if (!display.empty()) c["display"] = json::Value(display);
  return json::Value(std::move(c));
}

json::Value parameters(json::Array ps) {
  json::Object o;
  o["resourceType"] = json::Value("Parameters");
  o["parameter"] = json::Value(std::move(ps));
  return json::Value(std::move(o));
}

json::Value designation_json(const Designation& d) {
  json::Object o;
  if (!d.language.empty()) o["language"] = json::Value(d.language);
  if (!d.use_code.empty()) o["use"] = coding(d.use_system, d.use_code, d.use_display);
  o["value"] = json::Value(d.value);
  return json::Value(std::move(o));
}

// filter text: every word of the filter starts a word of the display, or is a prefix of the code.
bool text_match(const Item& it, const std::vector<std::string>& words) {
  if (words.empty()) return true;
  std::string d = lower(it.display), c = lower(it.code);
  for (const auto& w : words) {
    if (c.compare(0, w.size(), w) == 0) continue;
    bool ok = false;
    for (size_t pos = d.find(w); pos != std::string::npos; pos = d.find(w, pos + 1))
      if (pos == 0 || !std::isalnum(static_cast<unsigned char>(d[pos - 1]))) {
        ok = true;
        break;
      }
    if (!ok) return false;
  }
  return true;
}

}  // namespace

json::Value expansion_resource(const json::Value& vs, const Expansion& e, const ExpandParams& p,
                               const std::string& timestamp) {
  json::Object out;
  out["resourceType"] = json::Value("ValueSet");
  for (const char* k : {"id", "url", "version", "name", "title", "status"})
    if (const json::Value* v = json::get(vs, k)) out[k] = *v;
  std::vector<std::string> words;
  {
    std::string f = lower(p.filter), w;
    for (char ch : f + " ") {
      if (std::isspace(static_cast<unsigned char>(ch))) {
        if (!w.empty()) words.push_back(w);
        w.clear();
      } else {
        w += ch;
      }
    }
  }
  json::Array contains;
  int64_t total = 0;
  for (const auto& it : e.items) {
    if (p.active_only && it.inactive) continue;
    if (!text_match(it, words)) continue;
    int64_t n = total++;
    if (n < p.offset || (p.count >= 0 && n >= p.offset + p.count)) continue;
    json::Object c;
    c["system"] = json::Value(it.system);
    if (!it.version.empty()) c["version"] = json::Value(it.version);
    if (it.abstract_) c["abstract"] = json::Value(true);
    if (it.inactive) c["inactive"] = json::Value(true);
    c["code"] = json::Value(it.code);
    std::string display = it.display;
    if (!p.display_language.empty())
      for (const auto& d : it.designations)
        if (lower(d.language) == lower(p.display_language) ||
            lower(d.language).compare(0, p.display_language.size() + 1, lower(p.display_language) + "-") == 0) {
          display = d.value;
          break;
        }
    if (!display.empty()) c["display"] = json::Value(display);
    if (p.include_designations && !it.designations.empty()) {
      json::Array ds;
      for (const auto& d : it.designations) ds.push_back(designation_json(d));
      c["designation"] = json::Value(std::move(ds));
    }
    contains.push_back(json::Value(std::move(c)));
  }
  json::Object exp;
  exp["identifier"] = json::Value("urn:edgefhir:expansion:" + e.url + (e.version.empty() ? "" : "|" + e.version));
  exp["timestamp"] = json::Value(timestamp);
  exp["total"] = json::make_number(total);
  if (p.offset > 0) exp["offset"] = json::make_number(p.offset);
  json::Array params;
  auto add = [&](const char* name, const char* type, json::Value v) {
    json::Object o;
    o["name"] = json::Value(name);
    o[std::string("value") + type] = std::move(v);
    params.push_back(json::Value(std::move(o)));
  };
  if (!p.filter.empty()) add("filter", "String", json::Value(p.filter));
  if (p.count >= 0) add("count", "Integer", json::make_number(p.count));
  if (p.offset > 0) add("offset", "Integer", json::make_number(p.offset));
  if (p.active_only) add("activeOnly", "Boolean", json::Value(true));
  if (p.include_designations) add("includeDesignations", "Boolean", json::Value(true));
  if (!p.display_language.empty()) add("displayLanguage", "Code", json::Value(p.display_language));
  if (!params.empty()) exp["parameter"] = json::Value(std::move(params));
  if (!contains.empty()) exp["contains"] = json::Value(std::move(contains));
  out["expansion"] = json::Value(std::move(exp));
  return json::Value(std::move(out));
}

json::Value validate_code(const Expansion& e, const std::string& vs_url, const CodeRef& c) {
  const Item* it = c.system.empty() ? e.find_code(c.code) : e.find(c.system, c.code);
  json::Array ps;
  std::string label = c.system.empty() ? "'" + c.code + "'" : c.system + "#" + c.code;
  if (!it) {
    ps.push_back(param("result", "Boolean", json::Value(false)));
    ps.push_back(param("message", "String", json::Value("the code " + label + " is not in the value set " + vs_url)));
    return parameters(std::move(ps));
  }
  bool display_ok = c.display.empty() || it->display.empty() || c.display == it->display;
  if (!display_ok)
    for (const auto& d : it->designations) display_ok = display_ok || d.value == c.display;
  ps.push_back(param("result", "Boolean", json::Value(display_ok)));
  if (!display_ok)
    ps.push_back(param("message", "String",
                       json::Value("the display '" + c.display + "' is not a display of " + label + " (expected '" +
                                   it->display + "')")));
  if (!it->display.empty()) ps.push_back(param("display", "String", json::Value(it->display)));
  return parameters(std::move(ps));
}

Result<json::Value> lookup(const Source& src, const CodeRef& c, const std::vector<std::string>& properties) {
  auto cs = src.code_system(c.system, c.version);
  if (!cs)
    return not_available("code system " + c.system + (c.version.empty() ? "" : "|" + c.version) +
                         " is not available on this server (not bundled and not stored)");
  int i = cs->index(c.code);
  if (i < 0) {
    Status st(Err::not_found, "the code '" + c.code + "' is not defined in " + c.system);
    st.issue_code = "not-found";
    return st;
  }
  const Concept& k = cs->concepts[size_t(i)];
  auto want = [&](const char* p) {
    return properties.empty() || std::find(properties.begin(), properties.end(), p) != properties.end();
  };
  json::Array ps;
  ps.push_back(param("name", "String", json::Value(cs->name.empty() ? cs->url : cs->name)));
  if (!cs->version.empty()) ps.push_back(param("version", "String", json::Value(cs->version)));
  ps.push_back(param("display", "String", json::Value(k.display.empty() ? k.code : k.display)));
  if (!k.definition.empty() && want("definition"))
    ps.push_back(param("definition", "String", json::Value(k.definition)));
  if (k.abstract_) ps.push_back(param("abstract", "Boolean", json::Value(true)));
  if (want("designation"))
    for (const auto& d : k.designations) {
      json::Array parts;
      if (!d.language.empty()) parts.push_back(param("language", "Code", json::Value(d.language)));
      if (!d.use_code.empty()) parts.push_back(param("use", "Coding", coding(d.use_system, d.use_code, d.use_display)));
      parts.push_back(param("value", "String", json::Value(d.value)));
      ps.push_back(part_param("designation", std::move(parts)));
    }
  auto property = [&](const std::string& code, const std::string& member, const json::Value& v) {
    if (!want(code.c_str())) return;
    json::Array parts;
    parts.push_back(param("code", "Code", json::Value(code)));
    json::Object val;
    val["name"] = json::Value("value");
    val[member] = v;
    parts.push_back(json::Value(std::move(val)));
    ps.push_back(part_param("property", std::move(parts)));
  };
  for (const auto& p : k.properties)
    if (p.code != "parent" && p.code != "child" && !p.member.empty()) property(p.code, p.member, p.value);
  for (uint32_t p : k.parents) property("parent", "valueCode", json::Value(cs->concepts[p].code));
  for (uint32_t ch : k.children) property("child", "valueCode", json::Value(cs->concepts[ch].code));
  if (want("inactive")) property("inactive", "valueBoolean", json::Value(k.inactive));
  return parameters(std::move(ps));
}

Result<json::Value> subsumes(const Source& src, const std::string& system, const std::string& version,
                             const std::string& a, const std::string& b) {
  auto cs = src.code_system(system, version);
  if (!cs) return not_available("code system " + system + " is not available on this server (not bundled and not stored)");
  int ia = cs->index(a), ib = cs->index(b);
  if (ia < 0 || ib < 0) {
    Status st(Err::invalid, "the code '" + (ia < 0 ? a : b) + "' is not defined in " + system, ia < 0 ? "codeA" : "codeB");
    st.issue_code = "code-invalid";
    return st;
  }
  std::string outcome = ia == ib                                ? "equivalent"
                        : cs->subsumes(uint32_t(ia), uint32_t(ib)) ? "subsumes"
                        : cs->subsumes(uint32_t(ib), uint32_t(ia)) ? "subsumed-by"
                                                                   : "not-subsumed";
  json::Array ps;
  ps.push_back(param("outcome", "Code", json::Value(outcome)));
  return parameters(std::move(ps));
}

Result<json::Value> translate(const json::Value& map, const CodeRef& c, const std::string& target_system, bool reverse) {
  json::Array matches;
  const json::Array* groups = json::get_array(map, "group");
  std::string map_url = json::string_or(map, "url");
  // One match: the target's equivalence, the concept (code and display of `concept`, none when
  // null) in `system`, and the map as its source.
  auto match = [&](const json::Value& target, const json::Value* concept, const std::string& system) {
    json::Array parts;
    parts.push_back(param("equivalence", "Code", json::Value(json::string_or(target, "equivalence", "equivalent"))));
    if (concept)
      parts.push_back(param("concept", "Coding",
                            coding(system, json::string_or(*concept, "code"), json::string_or(*concept, "display"))));
    parts.push_back(param("source", "Uri", json::Value(map_url)));
    matches.push_back(part_param("match", std::move(parts)));
  };
  if (groups)
    for (const auto& g : *groups) {
      std::string gs = json::string_or(g, "source"), gt = json::string_or(g, "target");
      std::string from = reverse ? gt : gs, to = reverse ? gs : gt;
      if (!c.system.empty() && !from.empty() && from != c.system) continue;
      if (!target_system.empty() && !to.empty() && to != target_system) continue;
      const json::Array* elems = json::get_array(g, "element");
      if (!elems) continue;
      for (const auto& el : *elems) {
        const json::Array* targets = json::get_array(el, "target");
        if (!reverse) {
          if (json::string_or(el, "code") != c.code) continue;
          if (!targets) continue;
          for (const auto& t : *targets) match(t, json::get(t, "code") ? &t : nullptr, to);
        } else if (targets) {
          for (const auto& t : *targets)
            if (json::string_or(t, "code") == c.code) match(t, &el, to);
        }
      }
    }
  bool ok = false;
  for (const auto& m : matches)
    if (const json::Array* parts = json::get_array(m, "part"))
      for (const auto& p : *parts)
        if (json::string_or(p, "name") == "equivalence") {
          std::string eq = json::string_or(p, "valueCode");
          ok = ok || (eq != "unmatched" && eq != "disjoint");
        }
  json::Array ps;
  ps.push_back(param("result", "Boolean", json::Value(ok)));
  if (!ok)
    ps.push_back(param("message", "String",
                       json::Value("no mapping for " + (c.system.empty() ? "" : c.system + "#") + c.code + " in " + map_url)));
  for (auto& m : matches) ps.push_back(std::move(m));
  return parameters(std::move(ps));
}

// ---------------------------------------------------------------------------------------------

std::shared_ptr<const Expansion> ExpansionCache::get(const std::string& key) {
  auto v = lru_.get(std::hash<std::string>()(key), [&](const std::string& k) { return k == key; });
  return v ? *v : nullptr;
}

void ExpansionCache::put(const std::string& key, std::shared_ptr<const Expansion> e) {
  if (!e) return;
  size_t cost = e->bytes;
  lru_.put(std::hash<std::string>()(key), [&](const std::string& k) { return k == key; }, key, std::move(e), cost);
}

}  // namespace ef::fhir::term

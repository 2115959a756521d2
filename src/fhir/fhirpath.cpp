// fhir/fhirpath.cpp — see fhirpath.h.  Three parts in pipeline order: a tokenizer, a
// precedence-climbing parser that builds an immutable PathExpr tree, and a tree-walking
// evaluator over collections of PathNode (pointers into the resource, never copies).
// Booleans the evaluator creates are static constants; literals live in the AST.
#include "fhir/fhirpath.h"

#include <algorithm>
#include <cstring>
#include <optional>

namespace ef::fhir {

// ---------------------------------------------------------------------------------------------
// Type names
// ---------------------------------------------------------------------------------------------
namespace {

// R4 primitive types, canonical spelling.
constexpr std::string_view kPrimitives[] = {
    "base64Binary", "boolean", "canonical", "code", "date", "dateTime", "decimal", "id", "instant", "integer",
    "markdown", "oid", "positiveInt", "string", "time", "unsignedInt", "uri", "url", "uuid", "xhtml"};

// R4 complex data types that may appear as a choice-element suffix (plus a few used by
// specialised resources' [x] elements).  Sorted for binary search.
constexpr std::string_view kComplex[] = {
    "Address", "Age", "Annotation", "Attachment", "CodeableConcept", "Coding", "ContactDetail", "ContactPoint",
    "Contributor", "Count", "DataRequirement", "Distance", "Dosage", "Duration", "Expression", "HumanName",
    "Identifier", "Meta", "Money", "ParameterDefinition", "Period", "Quantity", "Range", "Ratio", "Reference",
    "RelatedArtifact", "SampledData", "Signature", "Timing", "TriggerDefinition", "UsageContext"};

bool eq_first_insensitive(std::string_view a, std::string_view b) {
  if (a.size() != b.size() || a.empty()) return false;
  auto low = [](char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; };
  return low(a[0]) == low(b[0]) && a.substr(1) == b.substr(1);
}

std::string_view find_primitive(std::string_view name) {
  for (std::string_view p : kPrimitives)
    if (eq_first_insensitive(p, name)) return p;
  return {};
}

bool is_primitive(std::string_view t) {
  for (std::string_view p : kPrimitives)
    if (p == t) return true;
  return false;
}

bool is_string_like(std::string_view t) {
  return is_primitive(t) && t != "boolean" && t != "integer" && t != "decimal" && t != "positiveInt" &&
         t != "unsignedInt";
}
bool is_numeric(std::string_view t) {
  return t == "integer" || t == "decimal" || t == "positiveInt" || t == "unsignedInt";
}

}  // namespace

std::string_view choice_suffix_type(std::string_view suffix) {
  if (suffix.empty() || !(suffix[0] >= 'A' && suffix[0] <= 'Z')) return {};
  if (std::string_view p = find_primitive(suffix); !p.empty()) return p;
  auto it = std::lower_bound(std::begin(kComplex), std::end(kComplex), suffix);
  if (it != std::end(kComplex) && *it == suffix) return *it;
  return {};
}

std::string canonical_type_name(std::string_view name) {
  if (name.substr(0, 7) == "System.") name.remove_prefix(7);
  else if (name.substr(0, 5) == "FHIR.") name.remove_prefix(5);
  if (std::string_view p = find_primitive(name); !p.empty()) return std::string(p);
  return std::string(name);
}

bool type_is(std::string_view actual, std::string_view wanted) {
  if (actual.empty() || wanted.empty()) return false;
  if (actual == wanted) return true;
  if (wanted == "Quantity")
    return actual == "Age" || actual == "Count" || actual == "Distance" || actual == "Duration" ||
           actual == "SimpleQuantity" || actual == "MoneyQuantity";
  if (wanted == "string") return actual == "code" || actual == "id" || actual == "markdown";
  if (wanted == "uri") return actual == "url" || actual == "canonical" || actual == "oid" || actual == "uuid";
  if (wanted == "integer") return actual == "positiveInt" || actual == "unsignedInt";
  if (wanted == "Resource" || wanted == "DomainResource") {
    if (!(actual[0] >= 'A' && actual[0] <= 'Z') || is_primitive(actual)) return false;
    return !std::binary_search(std::begin(kComplex), std::end(kComplex), actual);
  }
  return false;
}

std::string_view shape_type(const json::Value& v) {
  if (json::is_bool(v)) return "boolean";
  if (json::is_number(v)) return "decimal";
  if (json::is_string(v)) return "string";
  const json::Object* o = json::as_object(v);
  if (!o) return {};
  auto has = [o](const char* k) { return o->find(k) != o->end(); };
  if (const std::string* rt = json::get_string(v, "resourceType")) return *rt;
  if (has("coding")) return "CodeableConcept";
  if (has("reference")) return "Reference";
  if (has("family") || has("given")) return "HumanName";
  if (has("line") || has("city") || has("postalCode") || has("district") || has("state") || has("country"))
    return "Address";
  if (has("low") || has("high")) return "Range";
  if (has("numerator") || has("denominator")) return "Ratio";
  if (has("event") || has("repeat")) return "Timing";
  if (has("origin") && has("dimensions")) return "SampledData";
  if (has("currency")) return "Money";
  const json::Value* value = json::get(v, "value");
  if (value && json::is_number(*value)) return "Quantity";
  if (value && json::is_string(*value)) {
    if (has("type") || has("assigner")) return "Identifier";
    const std::string* sys = json::get_string(v, "system");
    if (sys) {
      static constexpr std::string_view kContact[] = {"phone", "fax", "email", "pager", "url", "sms", "other"};
      for (std::string_view c : kContact)
        if (*sys == c) return "ContactPoint";
      return "Identifier";
    }
    if (has("rank")) return "ContactPoint";
    const std::string* use = json::get_string(v, "use");
    if (use && (*use == "home" || *use == "work" || *use == "mobile")) return "ContactPoint";
    return "Identifier";
  }
  if (has("start") || has("end")) return "Period";
  if (has("identifier") && (o->size() <= 3) && (has("display") || has("type") || o->size() == 1)) return "Reference";
  if (has("system") || has("code")) return "Coding";
  if (has("contentType") || has("data") || (has("url") && has("title"))) return "Attachment";
  if (has("text") || has("display")) return "CodeableConcept";
  return {};
}

// ---------------------------------------------------------------------------------------------
// AST
// ---------------------------------------------------------------------------------------------
enum class Op {
  member,     // name; kids[0] = input (nullptr = focus); first = leading path element
  call,       // name; kids[0] = input (nullptr = focus); kids[1..] = args; type_arg for as/is/ofType
  index,      // kids[0][kids[1]]
  literal,    // lit
  empty_set,  // {}
  var_resource,
  var_this,
  union_,
  eq,
  ne,
  lt,
  le,
  gt,
  ge,
  and_,
  or_,
  xor_,
  implies,
  is,  // kids[0] is type_arg
  as,  // kids[0] as type_arg
};

struct PathExpr {
  Op op = Op::literal;
  std::string name;      // member / function name
  std::string type_arg;  // canonical type name for is/as/ofType
  bool first = false;    // member: leading identifier (may name the resource type)
  json::Value lit;
  std::vector<std::unique_ptr<PathExpr>> kids;  // kids[0] may be nullptr (focus)
};

namespace {

// ---------------------------------------------------------------------------------------------
// Tokenizer
// ---------------------------------------------------------------------------------------------
enum class Tok { end, ident, string, number, op, var };

struct Token {
  Tok kind = Tok::end;
  std::string text;  // identifier, decoded string, number text, operator, variable name
  size_t pos = 0;
};

bool ident_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool ident_char(char c) { return ident_start(c) || (c >= '0' && c <= '9'); }

void append_utf8(std::string& s, unsigned cp) {
  if (cp < 0x80) {
    s += char(cp);
  } else if (cp < 0x800) {
    s += char(0xC0 | (cp >> 6));
    s += char(0x80 | (cp & 0x3F));
  } else {
    s += char(0xE0 | (cp >> 12));
    s += char(0x80 | ((cp >> 6) & 0x3F));
    s += char(0x80 | (cp & 0x3F));
  }
}

Status tokenize(std::string_view s, std::vector<Token>* out) {
  size_t i = 0;
  auto err = [&](const std::string& m) { return Status(Err::invalid, m + " at offset " + std::to_string(i)); };
  while (i < s.size()) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
      continue;
    }
    Token t;
    t.pos = i;
    if (ident_start(c)) {
      size_t j = i;
      while (j < s.size() && ident_char(s[j])) ++j;
      t.kind = Tok::ident;
      t.text = std::string(s.substr(i, j - i));
      i = j;
    } else if (c == '`') {
      size_t j = s.find('`', i + 1);
      if (j == std::string_view::npos) return err("unterminated `identifier`");
      t.kind = Tok::ident;
      t.text = std::string(s.substr(i + 1, j - i - 1));
      i = j + 1;
    } else if (c == '\'') {
      t.kind = Tok::string;
      ++i;
      bool closed = false;
      while (i < s.size()) {
        char d = s[i++];
        if (d == '\'') {
          closed = true;
          break;
        }
        if (d != '\\') {
          t.text += d;
          continue;
        }
        if (i >= s.size()) break;
        char e = s[i++];
        switch (e) {
          case 'n': t.text += '\n'; break;
          case 't': t.text += '\t'; break;
          case 'r': t.text += '\r'; break;
          case 'f': t.text += '\f'; break;
          case '\'': case '"': case '`': case '\\': case '/': t.text += e; break;
          case 'u': {
            if (i + 4 > s.size()) return err("bad \\u escape");
            unsigned cp = 0;
            for (int k = 0; k < 4; ++k) {
              char h = s[i++];
              cp <<= 4;
              if (h >= '0' && h <= '9') cp |= unsigned(h - '0');
              else if (h >= 'a' && h <= 'f') cp |= unsigned(h - 'a' + 10);
              else if (h >= 'A' && h <= 'F') cp |= unsigned(h - 'A' + 10);
              else return err("bad \\u escape");
            }
            append_utf8(t.text, cp);
            break;
          }
          default: return err("bad escape in string");
        }
      }
      if (!closed) return err("unterminated string");
    } else if (c >= '0' && c <= '9') {
      size_t j = i;
      while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
      if (j + 1 < s.size() && s[j] == '.' && s[j + 1] >= '0' && s[j + 1] <= '9') {
        ++j;
        while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
      }
      t.kind = Tok::number;
      t.text = std::string(s.substr(i, j - i));
      i = j;
    } else if (c == '%' || c == '$') {
      size_t j = i + 1;
      while (j < s.size() && ident_char(s[j])) ++j;
      if (j == i + 1) return err("bad variable");
      t.kind = Tok::var;
      t.text = std::string(s.substr(i, j - i));
      i = j;
    } else {
      static constexpr std::string_view kOps2[] = {"!=", "<=", ">=", "!~"};
      t.kind = Tok::op;
      bool two = false;
      for (std::string_view o : kOps2)
        if (s.substr(i, 2) == o) {
          t.text = std::string(o);
          i += 2;
          two = true;
          break;
        }
      if (!two) {
        if (!std::strchr(".,()[]{}|=<>~+-*/&", c)) return err(std::string("unexpected character '") + c + "'");
        t.text = std::string(1, c);
        ++i;
      }
    }
    out->push_back(std::move(t));
  }
  Token e;
  e.pos = s.size();
  out->push_back(e);
  return Status();
}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------
using Node = std::unique_ptr<PathExpr>;

class Parser {
 public:
  explicit Parser(std::vector<Token> toks) : t_(std::move(toks)) {}

  Result<Node> parse_all() {
    Node n = expression();
    if (!st_.ok()) return st_;
    if (peek().kind != Tok::end) return fail(Err::invalid, "unexpected '" + peek().text + "'");
    return n;
  }

 private:
  std::vector<Token> t_;
  size_t p_ = 0;
  Status st_;

  const Token& peek() const { return t_[p_]; }
  bool is_op(const char* o) const { return peek().kind == Tok::op && peek().text == o; }
  bool is_kw(const char* k) const { return peek().kind == Tok::ident && peek().text == k; }
  Status fail(Err code, const std::string& m) {
    if (st_.ok()) st_ = Status(code, m + " at offset " + std::to_string(peek().pos));
    return st_;
  }
  Node bad(Err code, const std::string& m) {
    fail(code, m);
    return nullptr;
  }
  bool expect_op(const char* o) {
    if (!is_op(o)) {
      fail(Err::invalid, std::string("expected '") + o + "'");
      return false;
    }
    ++p_;
    return true;
  }
  static Node make(Op op, Node a = nullptr, Node b = nullptr) {
    Node n = std::make_unique<PathExpr>();
    n->op = op;
    n->kids.push_back(std::move(a));
    if (b) n->kids.push_back(std::move(b));
    return n;
  }

  Node expression() { return implies(); }

  Node implies() {
    Node l = or_expr();
    while (st_.ok() && is_kw("implies")) {
      ++p_;
      l = make(Op::implies, std::move(l), or_expr());
    }
    return l;
  }
  Node or_expr() {
    Node l = and_expr();
    while (st_.ok() && (is_kw("or") || is_kw("xor"))) {
      Op op = peek().text == "or" ? Op::or_ : Op::xor_;
      ++p_;
      l = make(op, std::move(l), and_expr());
    }
    return l;
  }
  Node and_expr() {
    Node l = membership();
    while (st_.ok() && is_kw("and")) {
      ++p_;
      l = make(Op::and_, std::move(l), membership());
    }
    return l;
  }
  Node membership() {
    Node l = equality();
    if (st_.ok() && (is_kw("in") || is_kw("contains"))) return bad(Err::not_supported, "operator '" + peek().text + "' is not supported");
    return l;
  }
  Node equality() {
    Node l = inequality();
    while (st_.ok()) {
      Op op;
      if (is_op("=")) op = Op::eq;
      else if (is_op("!=")) op = Op::ne;
      else if (is_op("~") || is_op("!~")) return bad(Err::not_supported, "equivalence operators are not supported");
      else break;
      ++p_;
      l = make(op, std::move(l), inequality());
    }
    return l;
  }
  Node inequality() {
    Node l = union_expr();
    while (st_.ok()) {
      Op op;
      if (is_op("<")) op = Op::lt;
      else if (is_op("<=")) op = Op::le;
      else if (is_op(">")) op = Op::gt;
      else if (is_op(">=")) op = Op::ge;
      else break;
      ++p_;
      l = make(op, std::move(l), union_expr());
    }
    return l;
  }
  Node union_expr() {
    Node l = type_expr();
    while (st_.ok() && is_op("|")) {
      ++p_;
      l = make(Op::union_, std::move(l), type_expr());
    }
    return l;
  }
  bool type_specifier(std::string* out) {
    if (peek().kind != Tok::ident) {
      fail(Err::invalid, "expected a type name");
      return false;
    }
    std::string name = peek().text;
    ++p_;
    if (is_op(".") && t_[p_ + 1].kind == Tok::ident && (name == "FHIR" || name == "System")) {
      p_ += 1;
      name += "." + peek().text;
      ++p_;
    }
    *out = canonical_type_name(name);
    return true;
  }
  Node type_expr() {
    Node l = additive();
    while (st_.ok() && (is_kw("is") || is_kw("as"))) {
      Op op = peek().text == "is" ? Op::is : Op::as;
      ++p_;
      Node n = make(op, std::move(l));
      if (!type_specifier(&n->type_arg)) return nullptr;
      l = std::move(n);
    }
    return l;
  }
  Node additive() {
    Node l = unary();
    if (st_.ok() && peek().kind == Tok::op &&
        (peek().text == "+" || peek().text == "-" || peek().text == "&" || peek().text == "*" || peek().text == "/"))
      return bad(Err::not_supported, "arithmetic operator '" + peek().text + "' is not supported");
    if (st_.ok() && (is_kw("div") || is_kw("mod"))) return bad(Err::not_supported, "arithmetic is not supported");
    return l;
  }
  Node unary() {
    if (is_op("+") || is_op("-")) return bad(Err::not_supported, "unary sign is not supported");
    return postfix();
  }
  Node postfix() {
    Node l = term();
    while (st_.ok()) {
      if (is_op(".")) {
        ++p_;
        if (peek().kind != Tok::ident) return bad(Err::invalid, "expected a name after '.'");
        l = invocation(std::move(l), false);
      } else if (is_op("[")) {
        ++p_;
        Node idx = expression();
        if (!st_.ok() || !expect_op("]")) return nullptr;
        l = make(Op::index, std::move(l), std::move(idx));
      } else {
        break;
      }
    }
    return l;
  }
  Node term() {
    const Token& t = peek();
    switch (t.kind) {
      case Tok::string: {
        Node n = make(Op::literal);
        n->lit = json::Value(t.text);
        ++p_;
        return n;
      }
      case Tok::number: {
        Node n = make(Op::literal);
        n->lit = json::make_number(t.text);
        ++p_;
        return n;
      }
      case Tok::var: {
        std::string v = t.text;
        ++p_;
        if (v == "%resource" || v == "%context" || v == "%rootResource") return make(Op::var_resource);
        if (v == "$this") return make(Op::var_this);
        --p_;
        return bad(Err::not_supported, "variable " + v + " is not supported");
      }
      case Tok::ident: {
        if (t.text == "true" || t.text == "false") {
          Node n = make(Op::literal);
          n->lit = json::Value(t.text == "true");
          ++p_;
          return n;
        }
        return invocation(nullptr, true);
      }
      case Tok::op:
        if (t.text == "(") {
          ++p_;
          Node n = expression();
          if (!st_.ok() || !expect_op(")")) return nullptr;
          return n;
        }
        if (t.text == "{") {
          ++p_;
          if (!expect_op("}")) return nullptr;
          return make(Op::empty_set);
        }
        if (t.text == "@") return bad(Err::not_supported, "date literals are not supported");
        return bad(Err::invalid, "unexpected '" + t.text + "'");
      case Tok::end:
        return bad(Err::invalid, "unexpected end of expression");
    }
    return bad(Err::invalid, "unexpected token");
  }

  Node invocation(Node input, bool first) {
    std::string name = peek().text;
    ++p_;
    if (!is_op("(")) {
      Node n = make(Op::member, std::move(input));
      n->name = std::move(name);
      n->first = first;
      return n;
    }
    ++p_;  // '('
    Node n = make(Op::call, std::move(input));
    n->name = name;
    static constexpr std::string_view kNoArg[] = {"exists", "empty", "not", "first", "last", "tail",
                                                  "hasValue", "resolve", "single", "distinct"};
    if (name == "as" || name == "is" || name == "ofType") {
      if (!type_specifier(&n->type_arg)) return nullptr;
    } else if (name == "where" || name == "extension" || name == "exists") {
      if (!is_op(")")) {
        n->kids.push_back(expression());
        if (!st_.ok()) return nullptr;
      }
      if (n->kids.size() != 2 && name != "exists") return bad(Err::invalid, name + "() needs one argument");
    } else if (std::find(std::begin(kNoArg), std::end(kNoArg), name) != std::end(kNoArg)) {
      // no arguments
    } else {
      return bad(Err::not_supported, "function " + name + "() is not supported");
    }
    if (!expect_op(")")) return nullptr;
    return n;
  }
};

// ---------------------------------------------------------------------------------------------
// Evaluator
// ---------------------------------------------------------------------------------------------
const json::Value kTrue(true);
const json::Value kFalse(false);

struct Env {
  const json::Value* root = nullptr;
  // Work budget (evaluate_bounded): 0 = none (the trusted search-parameter expressions).  Each
  // evaluation step costs 1 + its focus size + the nodes it produces; past the budget every
  // step returns nothing and `exhausted` is set.
  size_t max_steps = 0, steps = 0;
  bool exhausted = false;
};

void push_flat(const json::Value& v, std::string_view type, PathNodes* out) {
  if (const json::Array* a = json::as_array(v)) {
    for (const json::Value& e : *a) out->push_back(PathNode{&e, type});
  } else {
    out->push_back(PathNode{&v, type});
  }
}

void push_bool(bool b, PathNodes* out) { out->push_back(PathNode{b ? &kTrue : &kFalse, "boolean"}); }

void member_of(const PathNode& n, const std::string& name, PathNodes* out) {
  const json::Object* o = json::as_object(*n.value);
  if (!o) return;
  auto it = o->find(name);
  if (it != o->end()) {
    push_flat(it->second, {}, out);
    return;
  }
  // choice element: name + TypeSuffix (keys sharing a prefix are contiguous in the sorted map)
  for (it = o->lower_bound(name); it != o->end(); ++it) {
    const std::string& k = it->first;
    if (k.size() <= name.size() || k.compare(0, name.size(), name) != 0) break;
    std::string_view t = choice_suffix_type(std::string_view(k).substr(name.size()));
    if (!t.empty()) push_flat(it->second, t, out);
  }
}


bool node_is(const PathNode& n, const std::string& wanted) {
  if (!n.type.empty()) return type_is(n.type, wanted);
  const json::Value& v = *n.value;
  if (json::is_string(v)) return is_string_like(wanted);
  if (json::is_number(v)) return is_numeric(wanted);
  if (json::is_bool(v)) return wanted == "boolean";
  return type_is(shape_type(v), wanted);
}

// The resource type a Reference points at, or "" when it cannot be told.
std::string_view reference_type(const json::Value& ref, const Env& env) {
  if (const std::string* rt = json::get_string(ref, "resourceType")) return *rt;  // inline resource
  const std::string* r = json::get_string(ref, "reference");
  if (r && !r->empty()) {
    std::string_view s = *r;
    if (s[0] == '#') {
      const json::Array* contained = env.root ? json::get_array(*env.root, "contained") : nullptr;
      if (contained)
        for (const json::Value& c : *contained) {
          const std::string* id = json::get_string(c, "id");
          if (id && std::string_view(*id) == s.substr(1))
            if (const std::string* rt = json::get_string(c, "resourceType")) return *rt;
        }
      return {};
    }
    if (s.rfind("urn:", 0) != 0) {
      size_t h = s.find("/_history/");
      if (h != std::string_view::npos) s = s.substr(0, h);
      size_t slash = s.rfind('/');
      if (slash != std::string_view::npos && slash > 0 && slash + 1 < s.size()) {
        std::string_view head = s.substr(0, slash);
        size_t prev = head.rfind('/');
        std::string_view type = prev == std::string_view::npos ? head : head.substr(prev + 1);
        bool ok = !type.empty() && type[0] >= 'A' && type[0] <= 'Z';
        for (char c : type) ok = ok && ident_char(c);
        if (ok) return type;
      }
    }
  }
  if (const std::string* t = json::get_string(ref, "type")) return *t;
  return {};
}

// Collection -> boolean per FHIRPath singleton evaluation: empty = unknown.
std::optional<bool> to_bool(const PathNodes& c) {
  if (c.empty()) return std::nullopt;
  if (c.size() == 1 && json::is_bool(*c[0].value)) return c[0].value->get<bool>();
  return true;
}

bool values_equal(const json::Value& a, const json::Value& b) {
  if (json::is_number(a) && json::is_number(b)) {
    double x = 0, y = 0;
    return json::number_value(a, &x) && json::number_value(b, &y) && x == y;
  }
  if (json::is_string(a) && json::is_string(b)) return *json::as_string(a) == *json::as_string(b);
  if (json::is_bool(a) && json::is_bool(b)) return a.get<bool>() == b.get<bool>();
  if (json::is_object(a) && json::is_object(b)) return a == b;
  return false;
}

// -1, 0, 1, or nullopt when not comparable.
std::optional<int> compare_values(const json::Value& a, const json::Value& b) {
  if (json::is_number(a) && json::is_number(b)) {
    double x = 0, y = 0;
    if (!json::number_value(a, &x) || !json::number_value(b, &y)) return std::nullopt;
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (json::is_string(a) && json::is_string(b)) {
    int c = json::as_string(a)->compare(*json::as_string(b));
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  return std::nullopt;
}

void eval(const PathExpr& e, const PathNodes& focus, Env& env, PathNodes* out);

void eval_input(const PathExpr& e, const PathNodes& focus, Env& env, PathNodes* out) {
  if (e.kids.empty() || !e.kids[0]) *out = focus;
  else eval(*e.kids[0], focus, env, out);
}

void eval_call(const PathExpr& e, const PathNodes& focus, Env& env, PathNodes* out) {
  PathNodes in;
  eval_input(e, focus, env, &in);
  const std::string& f = e.name;
  if (f == "where" || (f == "exists" && e.kids.size() == 2)) {
    PathNodes kept, one(1), r;
    for (const PathNode& n : in) {
      one[0] = n;
      r.clear();
      eval(*e.kids[1], one, env, &r);
      if (to_bool(r).value_or(false)) kept.push_back(n);
    }
    if (f == "where") out->insert(out->end(), kept.begin(), kept.end());
    else push_bool(!kept.empty(), out);
  } else if (f == "exists") {
    push_bool(!in.empty(), out);
  } else if (f == "empty") {
    push_bool(in.empty(), out);
  } else if (f == "not") {
    std::optional<bool> b = to_bool(in);
    if (b) push_bool(!*b, out);
  } else if (f == "first") {
    if (!in.empty()) out->push_back(in.front());
  } else if (f == "last") {
    if (!in.empty()) out->push_back(in.back());
  } else if (f == "single") {
    if (in.size() == 1) out->push_back(in.front());
  } else if (f == "tail") {
    if (in.size() > 1) out->insert(out->end(), in.begin() + 1, in.end());
  } else if (f == "distinct") {
    for (const PathNode& n : in) {
      bool dup = false;
      for (const PathNode& m : *out) dup = dup || (m.value == n.value || values_equal(*m.value, *n.value));
      if (!dup) out->push_back(n);
    }
  } else if (f == "hasValue") {
    push_bool(in.size() == 1 && !json::is_object(*in[0].value) && !json::is_array(*in[0].value), out);
  } else if (f == "as" || f == "ofType") {
    for (const PathNode& n : in)
      if (node_is(n, e.type_arg)) out->push_back(n.type.empty() ? PathNode{n.value, e.type_arg} : n);
  } else if (f == "is") {
    if (in.size() == 1) push_bool(node_is(in[0], e.type_arg), out);
  } else if (f == "extension") {
    PathNodes urls;
    eval(*e.kids[1], focus, env, &urls);
    if (urls.size() != 1 || !json::is_string(*urls[0].value)) return;
    const std::string& url = *json::as_string(*urls[0].value);
    for (const PathNode& n : in) {
      const json::Array* ext = json::get_array(*n.value, "extension");
      if (!ext) continue;
      for (const json::Value& x : *ext) {
        const std::string* u = json::get_string(x, "url");
        if (u && *u == url) out->push_back(PathNode{&x, "Extension"});
      }
    }
  } else if (f == "resolve") {
    for (const PathNode& n : in) {
      if (!json::is_object(*n.value)) continue;
      std::string_view t = reference_type(*n.value, env);
      if (!t.empty()) out->push_back(PathNode{n.value, t});
    }
  }
}

void eval_node(const PathExpr& e, const PathNodes& focus, Env& env, PathNodes* out);

void eval(const PathExpr& e, const PathNodes& focus, Env& env, PathNodes* out) {
  if (!env.max_steps) return eval_node(e, focus, env, out);
  env.steps += 1 + focus.size();
  if (env.exhausted || env.steps > env.max_steps) {
    env.exhausted = true;
    return;
  }
  size_t before = out->size();
  eval_node(e, focus, env, out);
  env.steps += out->size() - before;
}

void eval_node(const PathExpr& e, const PathNodes& focus, Env& env, PathNodes* out) {
  switch (e.op) {
    case Op::member: {
      PathNodes in;
      eval_input(e, focus, env, &in);
      for (const PathNode& n : in) {
        if (e.first && !e.name.empty() && e.name[0] >= 'A' && e.name[0] <= 'Z') {
          // A leading type name selects the focus when it is of that type (Patient.name).
          const std::string* rt = json::get_string(*n.value, "resourceType");
          if (rt && (*rt == e.name || e.name == "Resource" || e.name == "DomainResource")) {
            out->push_back(PathNode{n.value, *rt});
            continue;
          }
        }
        member_of(n, e.name, out);
      }
      return;
    }
    case Op::call:
      eval_call(e, focus, env, out);
      return;
    case Op::index: {
      PathNodes in, idx;
      eval(*e.kids[0], focus, env, &in);
      eval(*e.kids[1], focus, env, &idx);
      int64_t i = 0;
      if (idx.size() == 1 && json::int_value(*idx[0].value, &i) && i >= 0 && size_t(i) < in.size())
        out->push_back(in[size_t(i)]);
      return;
    }
    case Op::literal:
      out->push_back(PathNode{&e.lit, json::is_bool(e.lit) ? "boolean" : (json::is_number(e.lit) ? "decimal" : "string")});
      return;
    case Op::empty_set:
      return;
    case Op::var_resource:
      if (env.root) out->push_back(PathNode{env.root, {}});
      return;
    case Op::var_this:
      out->insert(out->end(), focus.begin(), focus.end());
      return;
    case Op::union_: {
      size_t start = out->size();
      PathNodes a;
      eval(*e.kids[0], focus, env, &a);
      eval(*e.kids[1], focus, env, &a);
      for (const PathNode& n : a) {  // union removes duplicates (same node)
        bool dup = false;
        for (size_t k = start; k < out->size() && !dup; ++k) dup = (*out)[k].value == n.value;
        if (!dup) out->push_back(n);
      }
      return;
    }
    case Op::eq:
    case Op::ne: {
      PathNodes a, b;
      eval(*e.kids[0], focus, env, &a);
      eval(*e.kids[1], focus, env, &b);
      if (a.empty() || b.empty()) return;
      bool equal = a.size() == b.size();
      for (size_t k = 0; equal && k < a.size(); ++k) equal = values_equal(*a[k].value, *b[k].value);
      push_bool(e.op == Op::eq ? equal : !equal, out);
      return;
    }
    case Op::lt:
    case Op::le:
    case Op::gt:
    case Op::ge: {
      PathNodes a, b;
      eval(*e.kids[0], focus, env, &a);
      eval(*e.kids[1], focus, env, &b);
      if (a.size() != 1 || b.size() != 1) return;
      std::optional<int> c = compare_values(*a[0].value, *b[0].value);
      if (!c) return;
      bool r = e.op == Op::lt ? *c < 0 : e.op == Op::le ? *c <= 0 : e.op == Op::gt ? *c > 0 : *c >= 0;
      push_bool(r, out);
      return;
    }
    case Op::and_:
    case Op::or_:
    case Op::xor_:
    case Op::implies: {
      PathNodes a, b;
      eval(*e.kids[0], focus, env, &a);
      std::optional<bool> x = to_bool(a);
      // short cuts that do not need the right side
      if (e.op == Op::and_ && x == false) return push_bool(false, out);
      if (e.op == Op::or_ && x == true) return push_bool(true, out);
      if (e.op == Op::implies && x == false) return push_bool(true, out);
      eval(*e.kids[1], focus, env, &b);
      std::optional<bool> y = to_bool(b);
      std::optional<bool> r;
      switch (e.op) {
        case Op::and_:
          if (y == false) r = false;
          else if (x && y) r = true;
          break;
        case Op::or_:
          if (y == true) r = true;
          else if (x && y) r = false;
          break;
        case Op::xor_:
          if (x && y) r = *x != *y;
          break;
        default:  // implies: x is true or unknown
          if (y == true) r = true;
          else if (x && y) r = false;
          break;
      }
      if (r) push_bool(*r, out);
      return;
    }
    case Op::is: {
      PathNodes a;
      eval(*e.kids[0], focus, env, &a);
      if (a.size() == 1) push_bool(node_is(a[0], e.type_arg), out);
      return;
    }
    case Op::as: {
      PathNodes a;
      eval(*e.kids[0], focus, env, &a);
      for (const PathNode& n : a)
        if (node_is(n, e.type_arg)) out->push_back(n.type.empty() ? PathNode{n.value, e.type_arg} : n);
      return;
    }
  }
}

}  // namespace

Result<FhirPath> FhirPath::compile(std::string_view expr) {
  std::vector<Token> toks;
  Status st = tokenize(expr, &toks);
  if (!st) return st;
  Parser p(std::move(toks));
  Result<Node> n = p.parse_all();
  if (!n) return n.status();
  FhirPath f;
  f.root_ = std::shared_ptr<const PathExpr>(std::move(n.value()));
  f.text_ = std::string(expr);
  return f;
}

void FhirPath::evaluate(const json::Value& resource, PathNodes* out) const {
  evaluate(resource, PathNode{&resource, {}}, out);
}

bool FhirPath::evaluate_bounded(const json::Value& resource, PathNodes* out, size_t* budget) const {
  if (!root_) return true;
  if (*budget == 0) return false;
  Env env;
  env.root = &resource;
  env.max_steps = *budget;
  PathNodes f(1, PathNode{&resource, {}});
  eval(*root_, f, env, out);
  bool ok = !env.exhausted && env.steps <= env.max_steps;
  *budget = ok ? *budget - env.steps : 0;
  return ok;
}

void FhirPath::evaluate(const json::Value& resource, const PathNode& focus, PathNodes* out) const {
  if (!root_) return;
  Env env;
  env.root = &resource;
  PathNodes f(1, focus);
  eval(*root_, f, env, out);
}

}  // namespace ef::fhir

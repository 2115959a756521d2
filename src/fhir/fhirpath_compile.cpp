// fhir/fhirpath_compile.cpp — FhirPath::compile() of fhirpath.h, the first two parts of the
// pipeline: a tokenizer and a precedence-climbing parser that builds the immutable PathExpr
// tree (fhirpath_ast.h; literals live in the AST).  Evaluation is fhirpath.cpp.
#include "fhir/fhirpath.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "fhir/fhirpath_ast.h"

namespace ef::fhir {

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

using fhirpath_detail::ident_char;
using fhirpath_detail::ident_start;

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

}  // namespace ef::fhir

// fhir/fhirpath_parse.cpp — the lexer and parser of the general FHIRPath engine (see
// fhirpath_eval.h): text -> immutable AST, with the grammar's precedence (low to high):
// implies; or xor; and; in contains; = ~ != !~; < > <= >=; |; is as; + - &; * / div mod;
// unary + -; indexer and invocation.  Comments (// and /* */), `delimited` identifiers,
// 'strings' with escapes, numbers, quantities (4 'mg', 3 days), @dates, @Ttimes.
#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "fhir/fhirpath_internal.h"

namespace ef::fhir::fp {

namespace {

enum class Tok : uint8_t { end, num, str, ident, qident, date, var, dollar, op };

struct Token {
  Tok t = Tok::end;
  std::string s;
  size_t pos = 0;
};

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}
  std::vector<Token> run() {
    std::vector<Token> out;
    for (;;) {
      skip();
      Token t;
      t.pos = i_;
      if (i_ >= s_.size()) { out.push_back(t); return out; }
      char c = s_[i_];
      if (std::isdigit(static_cast<unsigned char>(c))) {
        size_t b = i_;
        while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) i_++;
        if (i_ + 1 < s_.size() && s_[i_] == '.' && std::isdigit(static_cast<unsigned char>(s_[i_ + 1]))) {
          i_++;
          while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) i_++;
        }
        // a long integer suffix (N2 "10L") is accepted and ignored
        t.t = Tok::num;
        t.s = std::string(s_.substr(b, i_ - b));
      } else if (c == '\'') {
        t.t = Tok::str;
        t.s = quoted('\'');
      } else if (c == '`') {
        t.t = Tok::qident;
        t.s = quoted('`');
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t b = i_;
        while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_')) i_++;
        t.t = Tok::ident;
        t.s = std::string(s_.substr(b, i_ - b));
      } else if (c == '@') {
        i_++;
        t.t = Tok::date;
        t.s = date_text();
      } else if (c == '%') {
        i_++;
        t.t = Tok::var;
        if (i_ < s_.size() && s_[i_] == '`') t.s = quoted('`');
        else if (i_ < s_.size() && s_[i_] == '\'') t.s = quoted('\'');
        else {
          size_t b = i_;
          while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_' || s_[i_] == '-')) i_++;
          if (b == i_) fail("'%' without a name at " + std::to_string(t.pos));
          t.s = std::string(s_.substr(b, i_ - b));
        }
      } else if (c == '$') {
        i_++;
        size_t b = i_;
        while (i_ < s_.size() && std::isalpha(static_cast<unsigned char>(s_[i_]))) i_++;
        t.t = Tok::dollar;
        t.s = std::string(s_.substr(b, i_ - b));
      } else {
        static const char* ops2[] = {"<=", ">=", "!=", "!~"};
        t.t = Tok::op;
        for (const char* o : ops2)
          if (s_.substr(i_, 2) == o) { t.s = o; i_ += 2; break; }
        if (t.s.empty()) {
          if (std::string_view(".[](),|=~<>+-*/&{}").find(c) == std::string_view::npos)
            fail(std::string("unexpected character '") + c + "' at " + std::to_string(i_));
          t.s = std::string(1, c);
          i_++;
        }
      }
      out.push_back(std::move(t));
    }
  }

 private:
  bool dig(size_t k) const { return k < s_.size() && std::isdigit(static_cast<unsigned char>(s_[k])); }
  // The text of a date/time literal after '@' (the grammar's shape; values checked later).
  std::string date_text() {
    size_t b = i_;
    auto digits = [&] { while (dig(i_)) i_++; };
    auto time = [&] {
      digits();
      while (i_ < s_.size() && s_[i_] == ':' && dig(i_ + 1)) { i_++; digits(); }
      if (i_ < s_.size() && s_[i_] == '.' && dig(i_ + 1)) { i_++; digits(); }
    };
    if (i_ < s_.size() && s_[i_] == 'T') {
      i_++;
      time();
      return std::string(s_.substr(b, i_ - b));
    }
    digits();
    while (i_ < s_.size() && s_[i_] == '-' && dig(i_ + 1)) { i_++; digits(); }
    if (i_ < s_.size() && s_[i_] == 'T') {
      i_++;
      if (dig(i_)) {
        time();
        if (i_ < s_.size() && s_[i_] == 'Z') i_++;
        else if (i_ + 5 < s_.size() && (s_[i_] == '+' || s_[i_] == '-') && dig(i_ + 1) && dig(i_ + 2) && s_[i_ + 3] == ':') i_ += 6;
      }
    }
    return std::string(s_.substr(b, i_ - b));
  }
  void skip() {
    for (;;) {
      while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) i_++;
      if (s_.substr(i_, 2) == "//") {
        while (i_ < s_.size() && s_[i_] != '\n') i_++;
      } else if (s_.substr(i_, 2) == "/*") {
        size_t e = s_.find("*/", i_ + 2);
        if (e == std::string_view::npos) fail("unterminated comment at " + std::to_string(i_));
        i_ = e + 2;
      } else {
        return;
      }
    }
  }
  std::string quoted(char q) {
    size_t start = i_;
    i_++;
    std::string out;
    while (i_ < s_.size() && s_[i_] != q) {
      char c = s_[i_++];
      if (c != '\\') { out += c; continue; }
      if (i_ >= s_.size()) break;
      char e = s_[i_++];
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'f': out += '\f'; break;
        case 'u': {
          if (i_ + 4 > s_.size()) fail("bad \\u escape");
          unsigned cp = static_cast<unsigned>(std::strtoul(std::string(s_.substr(i_, 4)).c_str(), nullptr, 16));
          i_ += 4;
          if (cp < 0x80) out += static_cast<char>(cp);
          else if (cp < 0x800) { out += static_cast<char>(0xC0 | (cp >> 6)); out += static_cast<char>(0x80 | (cp & 0x3F)); }
          else {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
          }
          break;
        }
        default: out += e;  // \' \" \` \\ \/
      }
    }
    if (i_ >= s_.size()) fail("unterminated quoted text at " + std::to_string(start));
    i_++;
    return out;
  }
  std::string_view s_;
  size_t i_ = 0;
};

bool is_calendar_word(const std::string& w) { return !calendar_unit(w).empty(); }

class Parser {
 public:
  explicit Parser(std::vector<Token> t) : t_(std::move(t)) {}

  std::unique_ptr<Ast> parse_all() {
    auto e = expr(0);
    if (peek().t != Tok::end) fail("unexpected '" + peek().s + "' at " + std::to_string(peek().pos));
    return e;
  }

 private:
  const Token& peek(size_t k = 0) const { return t_[std::min(p_ + k, t_.size() - 1)]; }
  bool is_op(const char* s, size_t k = 0) const { return peek(k).t == Tok::op && peek(k).s == s; }
  bool is_word(const char* s) const { return peek().t == Tok::ident && peek().s == s; }
  void expect(const char* s) {
    if (!is_op(s)) fail(std::string("expected '") + s + "' at " + std::to_string(peek().pos));
    p_++;
  }
  struct Guard {
    int& d;
    explicit Guard(int& x) : d(x) {
      if (++d > kMaxDepth) throw FpError(Err::too_large, "expression nested too deeply");
    }
    ~Guard() { d--; }
  };

  // Attaches a child, keeping the tree's depth (evaluation recurses along it) within kMaxDepth:
  // long chains (a.b.c..., 1+1+1...) are loops in the parser but depth in the tree.
  static void adopt(Ast* parent, std::vector<std::unique_ptr<Ast>>* list, std::unique_ptr<Ast> child) {
    if (child) {
      parent->depth = std::max(parent->depth, child->depth + 1);
      if (parent->depth > kMaxDepth) throw FpError(Err::too_large, "expression nested too deeply");
    }
    list->push_back(std::move(child));
  }

  // Binary operator of a level (0 = implies ... 9 = multiplicative); "" if none.
  std::string op_at(int level) const {
    const Token& t = peek();
    auto word = [&](std::initializer_list<const char*> ws) -> std::string {
      if (t.t != Tok::ident) return {};
      for (const char* w : ws) if (t.s == w) return w;
      return {};
    };
    auto sym = [&](std::initializer_list<const char*> ss) -> std::string {
      if (t.t != Tok::op) return {};
      for (const char* w : ss) if (t.s == w) return w;
      return {};
    };
    switch (level) {
      case 0: return word({"implies"});
      case 1: return word({"or", "xor"});
      case 2: return word({"and"});
      case 3: return word({"in", "contains"});
      case 4: return sym({"=", "~", "!=", "!~"});
      case 5: return sym({"<", ">", "<=", ">="});
      case 6: return sym({"|"});
      case 7: return word({"is", "as"});
      case 8: return sym({"+", "-", "&"});
      case 9: { auto s = sym({"*", "/"}); return s.empty() ? word({"div", "mod"}) : s; }
    }
    return {};
  }

  std::unique_ptr<Ast> expr(int level) {
    Guard g(depth_);
    if (level > 9) return unary();
    auto lhs = expr(level + 1);
    for (;;) {
      std::string op = op_at(level);
      if (op.empty()) return lhs;
      p_++;
      if (level == 7) {
        auto n = std::make_unique<Ast>();
        n->k = op == "is" ? K::is_ : K::as_;
        type_spec(n.get());
        adopt(n.get(), &n->a, std::move(lhs));
        lhs = std::move(n);
        continue;
      }
      auto rhs = expr(level + 1);
      auto n = std::make_unique<Ast>();
      n->k = K::binop;
      n->name = op;
      n->fn = op_code(op);
      adopt(n.get(), &n->a, std::move(lhs));
      adopt(n.get(), &n->a, std::move(rhs));
      lhs = std::move(n);
    }
  }

  void type_spec(Ast* n) {
    if (peek().t != Tok::ident && peek().t != Tok::qident) fail("expected a type name at " + std::to_string(peek().pos));
    std::string a = peek().s;
    p_++;
    if (is_op(".") && (peek(1).t == Tok::ident || peek(1).t == Tok::qident)) {
      p_++;
      n->type_ns = a;
      n->type_name = peek().s;
      p_++;
    } else {
      n->type_name = a;
    }
  }

  std::unique_ptr<Ast> unary() {
    Guard g(depth_);
    if (is_op("-") || is_op("+")) {
      bool neg = is_op("-");
      p_++;
      auto inner = unary();
      if (!neg) return inner;
      // fold a literal number so that -1 is a literal (and -2147483648 fits)
      if (inner->k == K::literal && inner->has_lit && (inner->lit.t == T::integer || inner->lit.t == T::decimal || inner->lit.t == T::quantity)) {
        inner->lit.i = -inner->lit.i;
        inner->lit.d = -inner->lit.d;
        if (!inner->lit.s.empty() && inner->lit.t == T::decimal) inner->lit.s = "-" + inner->lit.s;
        return inner;
      }
      auto n = std::make_unique<Ast>();
      n->k = K::neg;
      adopt(n.get(), &n->a, std::move(inner));
      return n;
    }
    return postfix();
  }

  std::unique_ptr<Ast> postfix() {
    auto e = term();
    for (;;) {
      if (is_op(".")) {
        p_++;
        e = invocation(std::move(e));
      } else if (is_op("[")) {
        p_++;
        auto idx = expr(0);
        expect("]");
        auto n = std::make_unique<Ast>();
        n->k = K::indexer;
        adopt(n.get(), &n->a, std::move(e));
        adopt(n.get(), &n->a, std::move(idx));
        e = std::move(n);
      } else {
        return e;
      }
    }
  }

  std::unique_ptr<Ast> invocation(std::unique_ptr<Ast> target) {
    Guard g(depth_);
    const Token& t = peek();
    if (t.t == Tok::dollar) {
      p_++;
      auto n = std::make_unique<Ast>();
      if (t.s == "this") n->k = K::this_;
      else if (t.s == "index") n->k = K::index_;
      else if (t.s == "total") n->k = K::total_;
      else fail("unknown $" + t.s);
      if (target) fail("$" + t.s + " cannot follow '.'");
      return n;
    }
    if (t.t != Tok::ident && t.t != Tok::qident) fail("expected a name at " + std::to_string(t.pos));
    std::string name = t.s;
    bool quoted = t.t == Tok::qident;
    p_++;
    auto n = std::make_unique<Ast>();
    if (target) adopt(n.get(), &n->a, std::move(target));
    else n->a.push_back(nullptr);
    if (!quoted && is_op("(")) {
      p_++;
      n->k = K::call;
      n->name = name;
      if (!is_op(")")) {
        for (;;) {
          adopt(n.get(), &n->args, expr(0));
          if (is_op(",")) { p_++; continue; }
          break;
        }
      }
      expect(")");
      std::string why;
      n->fn = function_id(name, n->args.size(), &why);
      if (n->fn < 0) fail(why);
      // a type-specifier argument (ofType(Quantity), is(FHIR.string), as(Patient))
      if ((name == "ofType" || name == "is" || name == "as") && n->args.size() == 1) {
        Ast* a = n->args[0].get();
        if (a->k == K::member && !a->a[0]) n->type_name = a->name;
        else if (a->k == K::member && a->a[0] && a->a[0]->k == K::member && !a->a[0]->a[0]) {
          n->type_ns = a->a[0]->name;
          n->type_name = a->name;
        } else fail(name + "() needs a type name");
      }
      return n;
    }
    n->k = K::member;
    n->name = name;
    return n;
  }

  std::unique_ptr<Ast> literal(Item it) {
    auto n = std::make_unique<Ast>();
    n->k = K::literal;
    n->has_lit = true;
    n->lit = std::move(it);
    return n;
  }

  std::unique_ptr<Ast> term() {
    Guard g(depth_);
    const Token t = peek();
    switch (t.t) {
      case Tok::end: fail("unexpected end of expression");
      case Tok::num: {
        p_++;
        Item v;
        if (t.s.find('.') != std::string::npos) v = Item::decimal(std::strtod(t.s.c_str(), nullptr), t.s);
        else {
          errno = 0;
          long long x = std::strtoll(t.s.c_str(), nullptr, 10);
          if (errno == ERANGE || t.s.size() > 19) v = Item::decimal(std::strtod(t.s.c_str(), nullptr), t.s);
          else v = Item::integer(x);
        }
        if (peek().t == Tok::str) {  // quantity 4 'mg'
          double d = v.t == T::integer ? static_cast<double>(v.i) : v.d;
          v = Item::quantity(d, peek().s);
          p_++;
        } else if (peek().t == Tok::ident && is_calendar_word(peek().s)) {
          double d = v.t == T::integer ? static_cast<double>(v.i) : v.d;
          v = Item::quantity(d, calendar_unit(peek().s));
          p_++;
        }
        return literal(std::move(v));
      }
      case Tok::str: p_++; return literal(Item::string(t.s));
      case Tok::date: {
        p_++;
        T kind;
        std::string s = t.s;
        if (!valid_date_text(s, &kind)) fail("bad date/time literal @" + t.s);
        if (kind == T::time) s = s.substr(1);
        if (kind == T::datetime && !s.empty() && s.back() == 'T') s.pop_back();
        return literal(Item::temporal(kind, s));
      }
      case Tok::var: {
        p_++;
        auto n = std::make_unique<Ast>();
        n->k = K::var;
        n->name = t.s;
        return n;
      }
      case Tok::dollar: return invocation(nullptr);
      case Tok::ident:
        if (t.s == "true" || t.s == "false") { p_++; return literal(Item::boolean(t.s == "true")); }
        return invocation(nullptr);
      case Tok::qident: return invocation(nullptr);
      case Tok::op:
        if (t.s == "(") {
          p_++;
          auto e = expr(0);
          expect(")");
          return e;
        }
        if (t.s == "{") {
          p_++;
          expect("}");
          auto n = std::make_unique<Ast>();
          n->k = K::literal;
          return n;
        }
        fail("unexpected '" + t.s + "' at " + std::to_string(t.pos));
    }
    fail("unexpected token");
  }

  std::vector<Token> t_;
  size_t p_ = 0;
  int depth_ = 0;
};

}  // namespace

int op_code(const std::string& op) {
  static const std::pair<const char*, Op> ops[] = {
      {"implies", op_implies}, {"or", op_or}, {"xor", op_xor}, {"and", op_and}, {"in", op_in},
      {"contains", op_contains}, {"=", op_eq}, {"~", op_equiv}, {"!=", op_ne}, {"!~", op_nequiv},
      {"<", op_lt}, {">", op_gt}, {"<=", op_le}, {">=", op_ge}, {"|", op_union}, {"+", op_plus},
      {"-", op_minus}, {"&", op_concat}, {"*", op_mul}, {"/", op_div}, {"div", op_idiv}, {"mod", op_mod}};
  for (const auto& o : ops)
    if (op == o.first) return o.second;
  fail("unknown operator " + op);
}

Result<Expression> Expression::compile(std::string_view text) {
  if (text.size() > kMaxExprChars) return Status(Err::too_large, "FHIRPath expression longer than " + std::to_string(kMaxExprChars) + " characters");
  try {
    Parser p(Lexer(text).run());
    Expression e;
    e.ast_ = p.parse_all();
    e.text_ = std::string(text);
    return e;
  } catch (const FpError& e) {
    return Status(e.code, std::string("FHIRPath: ") + e.what());
  }
}

}  // namespace ef::fhir::fp

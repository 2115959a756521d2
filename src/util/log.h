// util/log.h — structured JSON-lines logging to stderr.  One line per event:
// {"ts":"...","level":"warn","event":"auth.reject","reason":"...","status":401}.
// Field values are JSON strings, or JSON numbers / booleans when given as such (counts,
// statuses and durations are numbers, never strings).
// Callers pass only safe fields: never tokens, secrets or key material.
#pragma once
#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>

namespace ef::log {

enum class Level { debug, info, warn, error };

// One key and its value: a string, an integer (written as a JSON number) or a bool.
struct Field {
  enum class Kind { string, number, boolean };
  std::string first, second;  // key, value text (the number's digits, "true"/"false")
  Kind kind = Kind::string;
  Field(std::string k, std::string v) : first(std::move(k)), second(std::move(v)) {}
  Field(std::string k, const char* v) : first(std::move(k)), second(v ? v : "") {}
  Field(std::string k, bool b) : first(std::move(k)), second(b ? "true" : "false"), kind(Kind::boolean) {}
  template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char>, int> = 0>
  Field(std::string k, T n) : first(std::move(k)), second(std::to_string(n)), kind(Kind::number) {}
};

void set_min_level(Level l);
void set_quiet(bool q);  // suppress everything below error (CLI subcommands)
void write(Level l, const std::string& event, std::initializer_list<Field> fields = {});
inline void info(const std::string& e, std::initializer_list<Field> f = {}) { write(Level::info, e, f); }
inline void warn(const std::string& e, std::initializer_list<Field> f = {}) { write(Level::warn, e, f); }
inline void error(const std::string& e, std::initializer_list<Field> f = {}) { write(Level::error, e, f); }
inline void debug(const std::string& e, std::initializer_list<Field> f = {}) { write(Level::debug, e, f); }

}  // namespace ef::log

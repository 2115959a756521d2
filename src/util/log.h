// util/log.h — structured JSON-lines logging to stderr.  One line per event:
// {"ts":"...","level":"warn","event":"auth.reject","reason":"..."}.
// Callers pass only safe fields: never tokens, secrets or key material.
#pragma once
#include <initializer_list>
#include <string>
#include <utility>

namespace ef::log {

enum class Level { debug, info, warn, error };
using Field = std::pair<std::string, std::string>;

void set_min_level(Level l);
void set_quiet(bool q);  // suppress everything below error (CLI subcommands)
void write(Level l, const std::string& event, std::initializer_list<Field> fields = {});
inline void info(const std::string& e, std::initializer_list<Field> f = {}) { write(Level::info, e, f); }
inline void warn(const std::string& e, std::initializer_list<Field> f = {}) { write(Level::warn, e, f); }
inline void error(const std::string& e, std::initializer_list<Field> f = {}) { write(Level::error, e, f); }
inline void debug(const std::string& e, std::initializer_list<Field> f = {}) { write(Level::debug, e, f); }

}  // namespace ef::log

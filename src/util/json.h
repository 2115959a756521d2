// util/json.h — strict JSON parsing and writing over picojson, plus checked accessors.
//
// Owns: the one JSON parser configuration used everywhere (strict number grammar,
// UTF-8 validation, depth limit, duplicate member names rejected, no trailing bytes)
// and the one JSON writer (compact or pretty, "resourceType" first in every object).
//
// Numbers.  picojson stores numbers as double, which would turn a FHIR decimal
// "1.50" into 1.5 and damage big integers.  With ParseOptions::preserve_numbers the
// parser keeps each number's exact source text instead, stored as a picojson string
// that starts with the byte 0xFF (kNumberTag).  That byte can never occur in a string
// parsed from valid UTF-8 input, so the tag is unambiguous; write() emits the text
// verbatim, unquoted.  Code that reads resource content must therefore use
// is_number()/number_text()/number_value() below, never picojson's is<double>().
// Values we create ourselves may use plain doubles (integral ones are written
// without a fraction).
#pragma once
#include <picojson.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace ef::json {

using Value = picojson::value;
using Object = picojson::object;
using Array = picojson::array;

constexpr char kNumberTag = '\xFF';

// Budgets every parse enforces (hostile bodies): a number must be finite as a double and at
// most kMaxNumberChars long (FHIR decimals need 18 digits; 1e400 or 100k digits cannot be
// held); strings and member names may not contain U+0000; at most max_values values
// (scalars, arrays, objects) per document: a parsed value costs 50-100 bytes, so a 14 MB body
// of `[{},{},...]` would otherwise become ~300 MB of tree.
constexpr size_t kMaxNumberChars = 64;
size_t default_max_values();  // limits.max_json_values, set at start-up
void set_default_max_values(size_t n);

struct ParseOptions {
  size_t max_depth = 100;        // nesting of arrays/objects
  bool preserve_numbers = false;  // keep number text exactly (FHIR resources)
  bool reject_duplicates = true;  // duplicate member names are an error
  size_t max_values = default_max_values();
};

// Parses exactly one JSON value filling the whole text (surrounding whitespace allowed).
// Errors are Err::invalid with a message naming the problem and byte offset/line.
Result<Value> parse(std::string_view text, const ParseOptions& opt = {});

// Writes a value. pretty = two-space indentation.
std::string write(const Value& v, bool pretty = false);
void write_to(std::string& out, const Value& v, bool pretty = false);
// One JSON string literal (quoted, escaped) appended to out.
void write_string(std::string& out, const std::string& s);

bool valid_utf8(std::string_view s);
// s with every byte that is not part of a valid UTF-8 sequence replaced by U+FFFD (for text
// echoed from a request into a response, e.g. an invalid URL in an error message).
std::string to_valid_utf8(std::string_view s);

// ---- checked accessors (never throw) ----
inline bool is_object(const Value& v) { return v.is<Object>(); }
inline bool is_array(const Value& v) { return v.is<Array>(); }
bool is_string(const Value& v);  // true for real strings, false for tagged numbers
bool is_number(const Value& v);  // double or tagged number text
inline bool is_bool(const Value& v) { return v.is<bool>(); }

// Member lookup; nullptr when v is not an object or has no such member.
const Value* get(const Value& v, const std::string& key);
Value* get_mut(Value& v, const std::string& key);
// The member as a string (nullptr unless it is a real string).
const std::string* get_string(const Value& v, const std::string& key);
const Array* get_array(const Value& v, const std::string& key);
std::string string_or(const Value& v, const std::string& key, const std::string& def = {});
// The string itself, or nullptr.
const std::string* as_string(const Value& v);
const Array* as_array(const Value& v);
const Object* as_object(const Value& v);
Object* as_object_mut(Value& v);

// Number helpers: text exactly as received (tagged) or formatted from a double.
std::string number_text(const Value& v);
bool number_value(const Value& v, double* out);
bool int_value(const Value& v, int64_t* out);  // only when exactly integral
Value make_number(const std::string& text);     // tagged number from text (caller validated)
Value make_number(int64_t n);
bool valid_number_text(std::string_view s);

}  // namespace ef::json

// Typed reads of JSON fields with errors that name the place: every problem
// is one InputError "<file>: <JSON pointer>: <what>", e.g.
// "claims/array_index.json: /claims/3/head: expected an integer, got a string".
// Claim files, dataset files and task specs read their fields with these, so
// all of them word their errors alike.
#pragma once

#include "circuits/formats/error.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace circuitcheck {

// A place in a JSON document: the file and a JSON pointer ("" is the document).
struct At {
  std::string file;
  std::string pointer;

  At operator/(const std::string& key) const;  // escapes '~' and '/' as RFC 6901 does
  At operator/(std::size_t index) const;
  // Throws InputError "<file>: <pointer>: <what>".
  [[noreturn]] void fail(const std::string& what) const;
  // Re-raises an InputError of `function` here, without its "function: " prefix.
  [[noreturn]] void fail_from(const InputError& e, const std::string& function) const;
};

// "a, b, c".
std::string joined(const std::vector<std::string>& names);
// "unknown <noun> 'name' (valid: a, b, c)": the message for a name that is
// none of `valid`.
std::string unknown_name(const std::string& noun, const std::string& name, const std::vector<std::string>& valid);
// "1 layer", "2 layers".
std::string plural(int64_t n, const std::string& noun);
// "an integer", "a string", ... for messages.
const char* type_name(const nlohmann::json& v);

// Checks that `v` is an object whose keys are all in `allowed` (empty: any) and that holds every key of `required`.
void check_object(const nlohmann::json& v, const At& at, const std::vector<std::string>& allowed,
                  const std::vector<std::string>& required);

std::string string_at(const nlohmann::json& v, const At& at);
// An integer in [lo, hi].
int64_t integer_at(const nlohmann::json& v, const At& at, int64_t lo, int64_t hi);
double number_at(const nlohmann::json& v, const At& at);
bool boolean_at(const nlohmann::json& v, const At& at);
// A number in [0, 1] ("threshold ... outside [0, 1] for a rate").
double rate_at(const nlohmann::json& v, const At& at);
// The value that the string at `v` names in `names` (spellings and values);
// InputError "<file>: <pointer>: unknown <noun> 'x' (valid: a, b, ...)",
// listing the spellings in the table's order, otherwise.
template <typename T>
T named_at(const nlohmann::json& v, const At& at, const std::string& noun,
           const std::vector<std::pair<std::string, T>>& names) {
  const std::string text = string_at(v, at);
  std::vector<std::string> valid;
  for (const auto& [name, value] : names) {
    if (name == text) return value;
    valid.push_back(name);
  }
  at.fail(unknown_name(noun, text, valid));
}

// named_at over the enumerators `all`, each spelt as its to_string().
template <typename E>
E enum_at(const nlohmann::json& v, const At& at, const std::string& noun, std::initializer_list<E> all) {
  std::vector<std::pair<std::string, E>> names;
  for (E e : all) names.emplace_back(to_string(e), e);
  return named_at(v, at, noun, names);
}

// A letter or '_' followed by letters, digits and '_': the names files give
// to roles, classes, fields and inputs (so that they read as expressions).
bool is_identifier(const std::string& name);
// The message for a name that is not one.
constexpr const char* kIdentifierRule = "a name is a letter or '_' followed by letters, digits and '_'";

// A non-empty array (of any elements).
const nlohmann::json& array_at(const nlohmann::json& v, const At& at);
// An array, possibly empty.
const nlohmann::json& list_at(const nlohmann::json& v, const At& at);
// An object.
const nlohmann::json& object_at(const nlohmann::json& v, const At& at);

// The elements of the array at `v` (list_of: possibly empty; array_of:
// non-empty, as array_at), each read by `read(element, at / i)`.
template <typename Read>
auto list_of(const nlohmann::json& v, const At& at, Read read) {
  std::vector<std::decay_t<decltype(read(v, at))>> out;
  for (std::size_t i = 0; i < list_at(v, at).size(); ++i) out.push_back(read(v[i], at / i));
  return out;
}
template <typename Read>
auto array_of(const nlohmann::json& v, const At& at, Read read) {
  return list_of(array_at(v, at), at, read);
}
// The member `key` of the object `v`: "expected an object, got ..." or
// "missing field 'key'" at `at` otherwise.
const nlohmann::json& field_at(const nlohmann::json& v, const At& at, const std::string& key);

}  // namespace circuitcheck

#include "circuits/formats/json_fields.h"

#include <algorithm>
#include <cctype>

namespace circuitcheck {

using nlohmann::json;

At At::operator/(const std::string& key) const {
  std::string escaped;
  for (char ch : key) escaped += ch == '~' ? "~0" : ch == '/' ? "~1" : std::string(1, ch);
  return {file, pointer + "/" + escaped};
}

At At::operator/(std::size_t index) const { return {file, pointer + "/" + std::to_string(index)}; }

void At::fail(const std::string& what) const { circuitcheck::fail(pointer.empty() ? file : file + ": " + pointer, what); }

void At::fail_from(const InputError& e, const std::string& function) const {
  const std::string message = e.what();
  fail(message.rfind(function + ": ", 0) == 0 ? message.substr(function.size() + 2) : message);
}

std::string unknown_name(const std::string& noun, const std::string& name, const std::vector<std::string>& valid) {
  return "unknown " + noun + " " + quote(name) + " (valid: " + joined(valid) + ")";
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::string plural(int64_t n, const std::string& noun) { return std::to_string(n) + " " + noun + (n == 1 ? "" : "s"); }

const char* type_name(const json& v) {
  if (v.is_number_integer()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_boolean()) return "a boolean";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "null";
}

void check_object(const json& v, const At& at, const std::vector<std::string>& allowed,
                  const std::vector<std::string>& required) {
  if (!v.is_object()) at.fail(std::string("expected an object, got ") + type_name(v));
  if (allowed.empty()) return;  // any keys
  for (const auto& [key, value] : v.items())
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      (at / key).fail("unknown field (valid: " + joined(allowed) + ")");
  for (const auto& key : required)
    if (!v.contains(key)) at.fail("missing field " + quote(key));
}

std::string string_at(const json& v, const At& at) {
  if (!v.is_string()) at.fail(std::string("expected a string, got ") + type_name(v));
  return v.get<std::string>();
}

int64_t integer_at(const json& v, const At& at, int64_t lo, int64_t hi) {
  if (!v.is_number_integer()) at.fail(std::string("expected an integer, got ") + type_name(v));
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(hi))
    at.fail(v.dump() + " out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  const int64_t n = v.get<int64_t>();
  if (n < lo || n > hi) at.fail(std::to_string(n) + " out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return n;
}

bool boolean_at(const nlohmann::json& v, const At& at) {
  if (!v.is_boolean()) at.fail(std::string("expected a boolean, got ") + type_name(v));
  return v.get<bool>();
}

double number_at(const json& v, const At& at) {
  if (!v.is_number()) at.fail(std::string("expected a number, got ") + type_name(v));
  return v.get<double>();
}

double rate_at(const json& v, const At& at) {
  const double x = number_at(v, at);
  if (!(x >= 0.0 && x <= 1.0)) at.fail("threshold " + v.dump() + " outside [0, 1] for a rate");
  return x;
}

bool is_identifier(const std::string& name) {
  return !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0])) &&
         name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == std::string::npos;
}

const json& array_at(const json& v, const At& at) {
  if (!v.is_array() || v.empty()) at.fail(std::string("expected a non-empty array, got ") + (v.is_array() ? "[]" : type_name(v)));
  return v;
}

const json& list_at(const json& v, const At& at) {
  if (!v.is_array()) at.fail(std::string("expected an array, got ") + type_name(v));
  return v;
}

const json& object_at(const json& v, const At& at) {
  if (!v.is_object()) at.fail(std::string("expected an object, got ") + type_name(v));
  return v;
}

const json& field_at(const json& v, const At& at, const std::string& key) {
  if (!object_at(v, at).contains(key)) at.fail("missing field " + quote(key));
  return v[key];
}

}  // namespace circuitcheck

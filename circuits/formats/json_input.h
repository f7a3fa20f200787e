// JSON from files a user gives (a safetensors header, a config, a side file):
// parsed strictly, and quoted in error messages without flooding them.
//
// nlohmann::json::parse alone takes a NUL byte for the end of the input
// (so `{}\0garbage` parses), keeps one of two equal keys silently, and builds
// values of any depth, which dump() and comparisons then walk recursively.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace circuitcheck {

// The deepest nesting of arrays and objects parse_json accepts by default.
constexpr int kMaxJsonDepth = 128;

// Parses `text` as one JSON value; whitespace may follow it. Builds the value
// without a callback (nlohmann's callback parser is quadratic in the size of an
// object): each key costs one std::map insertion, O(log n).
// Throws InputError "<where>: <what>" when `text` holds a NUL byte ("holds a
// NUL byte at byte <i>"), is not valid JSON or has anything but whitespace
// after the value ("not valid JSON: <parser message>"), nests arrays and
// objects deeper than `max_depth` ("nested deeper than <max_depth> levels",
// found before the deeper levels are built), or repeats a key within one
// object ("<where>: <JSON pointer of the second>: key <key> appears twice").
nlohmann::json parse_json(std::string_view text, const std::string& where, int max_depth = kMaxJsonDepth);

// `value` as compact JSON for an error message, cut to about 100 characters
// ("..." marks the cut, never inside a UTF-8 character); invalid UTF-8 is
// replaced by U+FFFD. Never throws.
std::string json_excerpt(const nlohmann::json& value);

}  // namespace circuitcheck

#include "circuits/formats/error.h"

namespace circuitcheck {
namespace {

// `text` with each NUL byte written as \0.
std::string without_nul(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\0') out += "\\0";
    else out += c;
  }
  return out;
}

}  // namespace

void fail(const std::string& where, const std::string& what) {
  throw InputError(without_nul(where + ": " + what));
}

std::string excerpt(std::string_view text, std::size_t max_chars) {
  if (text.size() <= max_chars) return std::string(text);
  std::size_t end = max_chars;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end)) + "...";
}

std::string quote(std::string_view value) {
  return "'" + without_nul(excerpt(value)) + "'";
}

}  // namespace circuitcheck

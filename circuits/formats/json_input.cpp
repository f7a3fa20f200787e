#include "circuits/formats/json_input.h"

#include "circuits/formats/error.h"
#include "circuits/formats/json_fields.h"

#include <utility>
#include <vector>

namespace circuitcheck {
namespace {

using nlohmann::json;

// Builds the value as nlohmann's own DOM parser does, refusing depth and repeated keys as they come.
class StrictDomBuilder {
 public:
  StrictDomBuilder(json& root, const std::string& where, int max_depth)
      : root_(root), where_(where), max_depth_(max_depth) {}

  bool null() { return add(nullptr); }
  bool boolean(bool value) { return add(value); }
  bool number_integer(json::number_integer_t value) { return add(value); }
  bool number_unsigned(json::number_unsigned_t value) { return add(value); }
  bool number_float(json::number_float_t value, const json::string_t&) { return add(value); }
  bool string(json::string_t& value) { return add(std::move(value)); }
  bool binary(json::binary_t& value) { return add(json::binary(std::move(value))); }

  bool start_object(std::size_t) { return open(json::object()); }
  bool key(json::string_t& key) {
    auto [slot, inserted] = open_.back()->get_ref<json::object_t&>().try_emplace(std::move(key));
    if (!inserted) (open_pointer() / terminal_text(slot->first)).fail("key " + json_excerpt(slot->first) + " appears twice");
    slot_ = &slot->second;
    return true;
  }
  bool end_object() {
    open_.pop_back();
    return true;
  }
  bool start_array(std::size_t) { return open(json::array()); }
  bool end_array() {
    open_.pop_back();
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const json::exception& error) {
    fail(where_, "not valid JSON: " + excerpt(error.what(), 3 * kExcerptChars));
  }

 private:
  // Where the innermost open array or object is (found only for an error), its keys terminal_text.
  At open_pointer() const {
    At at{where_, ""};
    for (std::size_t i = 1; i < open_.size(); ++i) {
      const json& outer = *open_[i - 1];
      if (outer.is_array()) {
        at = at / static_cast<std::size_t>(open_[i] - &outer.front());
        continue;
      }
      for (const auto& [name, value] : outer.items())
        if (&value == open_[i]) at = at / terminal_text(name);
    }
    return at;
  }
  json* place(json value) {
    if (open_.empty()) return &(root_ = std::move(value));
    if (open_.back()->is_array()) return &open_.back()->emplace_back(std::move(value));
    return &(*slot_ = std::move(value));
  }
  bool add(json value) {
    place(std::move(value));
    return true;
  }
  bool open(json container) {
    check(open_.size() < static_cast<std::size_t>(max_depth_), where_,
          "nested deeper than " + std::to_string(max_depth_) + " levels");
    open_.push_back(place(std::move(container)));
    return true;
  }

  json& root_;
  const std::string& where_;
  const int max_depth_;
  std::vector<json*> open_;  // the arrays and objects being read, innermost last
  json* slot_ = nullptr;     // the value of the key just read
};

}  // namespace

json parse_json(std::string_view text, const std::string& where, int max_depth) {
  const std::size_t nul = text.find('\0');
  check(nul == std::string_view::npos, where, "holds a NUL byte at byte " + std::to_string(nul));
  json value;
  StrictDomBuilder builder(value, where, max_depth);
  json::sax_parse(text.begin(), text.end(), &builder);
  return value;
}

std::string json_excerpt(const json& value) {
  return excerpt(value.dump(-1, ' ', false, json::error_handler_t::replace));
}

}  // namespace circuitcheck

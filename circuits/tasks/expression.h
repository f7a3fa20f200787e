// The expression language of task specs (task_spec.h): integer and list
// values, small and safe. No loops, no recursion, no I/O: an expression is a
// tree of at most kMaxExpressionDepth levels (each operator, index, call and
// list adds one: "1 + 2 * 3" has three), evaluated once per example.
//
//   literals   7, [a, b, 3]
//   names      fields and derived values of the spec ("a", "idx"), and in
//              role expressions @role, the position of a role of the sequence
//   arithmetic + - * / % (integers; / and % floor as in Python, so (a - b) % p
//              lies in [0, p)), unary -
//   comparison == != < <= > >= (1 or 0), logic && || ! (0 is false)
//   choice     cond ? x : y
//   index      xs[i] (0-based; a negative i counts from the end, as in Python)
//   functions  len(xs) sum(xs) min(xs) max(xs) min(x, y, ...) max(x, y, ...)
//              abs(x) sort(xs) reverse(xs) count(xs, v) index(xs, v) (the
//              first position of v) set(xs, i, v) (xs with element i set to v)
//
// Errors: parse errors and evaluation errors are InputErrors naming `where`
// (a file and JSON pointer) and the offending part: an unknown name or
// function, a wrong number or type of arguments, division or modulo by zero,
// an index out of range, integer overflow, an expression nested deeper than
// kMaxExpressionDepth or longer than kMaxExpressionLength characters.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace circuitcheck {

constexpr int kMaxExpressionDepth = 64;
constexpr std::size_t kMaxExpressionLength = 4096;

// An integer or a list of integers.
struct Value {
  bool is_list = false;
  int64_t integer = 0;
  std::vector<int64_t> list;

  static Value of(int64_t x) { return {false, x, {}}; }
  static Value of(std::vector<int64_t> xs) { return {true, 0, std::move(xs)}; }
  std::string to_string() const;  // "7" or "[1, 2]"
};

struct ExpressionNode;

// A parsed expression.
class Expression {
 public:
  Expression() = default;
  // Parses `text`; InputError "<where>: <what> at offset k" on a syntax error.
  static Expression parse(const std::string& text, const std::string& where);

  // The value for `names` (every name the expression uses must be bound);
  // InputError "<where>: <what>" otherwise.
  Value evaluate(const std::map<std::string, Value>& names) const;

  // The names the expression reads.
  const std::set<std::string>& names() const { return names_; }
  // Its nodes: numbers, names, list literals' elements, operators, calls.
  // Evaluating a node touches at most the longest list it meets.
  int64_t nodes() const { return nodes_; }
  const std::string& text() const { return text_; }

 private:
  std::shared_ptr<const ExpressionNode> root_;
  std::set<std::string> names_;
  int64_t nodes_ = 0;
  std::string text_, where_;
};

}  // namespace circuitcheck

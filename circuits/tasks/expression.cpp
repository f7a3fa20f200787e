#include "circuits/tasks/expression.h"

#include "circuits/formats/error.h"

#include <algorithm>
#include <cctype>
#include <limits>

namespace circuitcheck {

enum class NodeKind { kNumber, kName, kList, kUnary, kBinary, kTernary, kIndex, kCall };

struct ExpressionNode {
  NodeKind kind = NodeKind::kNumber;
  int64_t number = 0;
  int depth = 1;     // levels of the tree below and including this node
  std::string name;  // a name, an operator or a function
  std::vector<std::shared_ptr<const ExpressionNode>> children;
};

namespace {

using Node = std::shared_ptr<const ExpressionNode>;

Node make(NodeKind kind, std::string name, std::vector<Node> children, int64_t number = 0) {
  auto n = std::make_shared<ExpressionNode>();
  n->kind = kind;
  n->name = std::move(name);
  n->children = std::move(children);
  n->number = number;
  for (const Node& c : n->children) n->depth = std::max(n->depth, c->depth + 1);
  return n;
}

const std::set<std::string>& functions() {
  static const std::set<std::string> f = {"len",  "sum",     "min",   "max",   "abs", "sort",
                                          "reverse", "count", "index", "set"};
  return f;
}

class Parser {
 public:
  Parser(const std::string& text, const std::string& where, std::set<std::string>& names)
      : text_(text), where_(where), names_(names) {}

  Node parse() {
    Node n = ternary();
    if (deepest_ > kMaxExpressionDepth) error("nested deeper than " + std::to_string(kMaxExpressionDepth) + " levels");
    skip();
    if (i_ < text_.size()) error("unexpected '" + std::string(1, text_[i_]) + "'");
    return n;
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    fail(where_, what + " at offset " + std::to_string(i_) + " of " + quote(text_));
  }
  void skip() {
    while (i_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[i_]))) ++i_;
  }
  bool eat(const std::string& op) {
    skip();
    if (text_.compare(i_, op.size(), op) != 0) return false;
    // "<" must not eat the first half of "<=", "=" never appears alone, "!" not "!=".
    if ((op == "<" || op == ">" || op == "!") && i_ + 1 < text_.size() && text_[i_ + 1] == '=') return false;
    i_ += op.size();
    return true;
  }
  void expect(const std::string& op) {
    if (!eat(op)) error("expected " + quote(op));
  }
  // Bounds the parser's own recursion (each level of the tree is about ten
  // frames: ternary, six binary levels, unary, postfix, primary).
  struct Depth {
    explicit Depth(Parser& p) : p_(p) {
      if (++p_.depth_ > 12 * kMaxExpressionDepth)
        p_.error("nested deeper than " + std::to_string(kMaxExpressionDepth) + " levels");
    }
    ~Depth() { --p_.depth_; }
    Parser& p_;
  };

  Node ternary() {
    Depth d(*this);
    Node c = binary(0);
    if (!eat("?")) return c;
    Node yes = ternary();
    expect(":");
    Node no = ternary();
    return node(NodeKind::kTernary, "?", {c, yes, no});
  }

  // Precedence levels, loosest first.
  Node binary(std::size_t level) {
    static const std::vector<std::vector<std::string>> levels = {
        {"||"}, {"&&"}, {"==", "!="}, {"<=", ">=", "<", ">"}, {"+", "-"}, {"*", "/", "%"}};
    if (level == levels.size()) return unary();
    Depth d(*this);
    Node left = binary(level + 1);
    while (true) {
      std::string matched;
      for (const auto& op : levels[level])
        if (eat(op)) {
          matched = op;
          break;
        }
      if (matched.empty()) return left;
      left = node(NodeKind::kBinary, matched, {left, binary(level + 1)});
    }
  }

  Node unary() {
    Depth d(*this);
    if (eat("-")) return node(NodeKind::kUnary, "-", {unary()});
    if (eat("!")) return node(NodeKind::kUnary, "!", {unary()});
    return postfix();
  }

  Node postfix() {
    Node n = primary();
    while (eat("[")) {
      Node index = ternary();
      expect("]");
      n = node(NodeKind::kIndex, "[]", {n, index});
    }
    return n;
  }

  std::vector<Node> items(const std::string& close) {
    std::vector<Node> out;
    if (eat(close)) return out;
    do out.push_back(ternary());
    while (eat(","));
    expect(close);
    return out;
  }

  Node primary() {
    Depth d(*this);
    skip();
    if (i_ == text_.size()) error("unexpected end");
    if (eat("(")) {
      Node n = ternary();
      expect(")");
      return n;
    }
    if (eat("[")) return node(NodeKind::kList, "[]", items("]"));
    const char c = text_[i_];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      int64_t v = 0;
      while (i_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[i_]))) {
        if (v > (std::numeric_limits<int64_t>::max() - 9) / 10) error("number too large");
        v = v * 10 + (text_[i_++] - '0');
      }
      return node(NodeKind::kNumber, "", {}, v);
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '@') {
      const std::size_t start = i_;
      if (c == '@') ++i_;
      while (i_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[i_])) || text_[i_] == '_')) ++i_;
      const std::string word = text_.substr(start, i_ - start);
      if (word.size() == 1 && c == '@') error("expected a role name after '@'");
      if (c != '@' && eat("(")) {
        if (!functions().count(word)) {
          i_ = start;
          error("unknown function " + quote(word));
        }
        return node(NodeKind::kCall, word, items(")"));
      }
      names_.insert(word);
      return node(NodeKind::kName, word, {});
    }
    error("unexpected '" + std::string(1, c) + "'");
  }

  Node node(NodeKind kind, std::string name, std::vector<Node> children, int64_t number = 0) {
    Node n = make(kind, std::move(name), std::move(children), number);
    deepest_ = std::max(deepest_, n->depth);
    if (deepest_ > kMaxExpressionDepth) error("nested deeper than " + std::to_string(kMaxExpressionDepth) + " levels");
    return n;
  }

  const std::string& text_;
  const std::string& where_;
  std::set<std::string>& names_;
  std::size_t i_ = 0;
  int depth_ = 0;
  int deepest_ = 0;
};

struct Evaluator {
  const std::map<std::string, Value>& names;
  const std::string& where;
  const std::string& text;

  [[noreturn]] void error(const std::string& what) const { fail(where, what + " in " + quote(text)); }

  int64_t integer(const Value& v, const std::string& what) const {
    if (v.is_list) error(what + " must be an integer, got the list " + excerpt(v.to_string()));
    return v.integer;
  }
  const std::vector<int64_t>& list(const Value& v, const std::string& what) const {
    if (!v.is_list) error(what + " must be a list, got " + std::to_string(v.integer));
    return v.list;
  }
  void check_overflow(bool overflow) const {
    if (overflow) error("integer overflow");
  }
  int64_t position(const std::vector<int64_t>& xs, int64_t i) const {
    const auto n = static_cast<int64_t>(xs.size());
    if (i < -n || i >= n) error("index " + std::to_string(i) + " out of range for a list of " + std::to_string(n));
    return i < 0 ? i + n : i;
  }

  Value binary(const std::string& op, int64_t a, int64_t b) const {
    int64_t r = 0;
    if (op == "+" || op == "-" || op == "*") {
      check_overflow(op == "+"   ? __builtin_add_overflow(a, b, &r)
                     : op == "-" ? __builtin_sub_overflow(a, b, &r)
                                 : __builtin_mul_overflow(a, b, &r));
      return Value::of(r);
    }
    if (op == "/" || op == "%") {
      if (b == 0) error(std::string(op == "/" ? "division" : "modulo") + " by zero");
      if (a == std::numeric_limits<int64_t>::min() && b == -1) error("integer overflow");
      int64_t q = a / b, m = a % b;
      if (m != 0 && ((m < 0) != (b < 0))) {
        --q;
        m += b;
      }
      return Value::of(op == "/" ? q : m);
    }
    if (op == "==") return Value::of(a == b);
    if (op == "!=") return Value::of(a != b);
    if (op == "<") return Value::of(a < b);
    if (op == "<=") return Value::of(a <= b);
    if (op == ">") return Value::of(a > b);
    if (op == ">=") return Value::of(a >= b);
    if (op == "&&") return Value::of(a != 0 && b != 0);
    return Value::of(a != 0 || b != 0);  // "||"
  }

  Value call(const ExpressionNode& n) const {
    std::vector<Value> args;
    for (const auto& c : n.children) args.push_back(eval(*c));
    const std::string& f = n.name;
    const auto arity = [&](std::size_t k) {
      if (args.size() != k) error(f + "() takes " + std::to_string(k) + " argument" + (k == 1 ? "" : "s") + ", got " +
                                  std::to_string(args.size()));
    };
    if ((f == "min" || f == "max") && args.size() != 1) {
      if (args.empty()) error(f + "() needs a list or at least one integer");
      int64_t best = integer(args[0], f + "()'s arguments");
      for (const Value& v : args) best = f == "min" ? std::min(best, integer(v, f + "()'s arguments")) : std::max(best, integer(v, f + "()'s arguments"));
      return Value::of(best);
    }
    if (f == "len" || f == "sum" || f == "min" || f == "max" || f == "sort" || f == "reverse") {
      arity(1);
      std::vector<int64_t> xs = list(args[0], f + "()'s argument");
      if (f == "len") return Value::of(static_cast<int64_t>(xs.size()));
      if (f == "sum") {
        int64_t s = 0;
        for (int64_t x : xs) check_overflow(__builtin_add_overflow(s, x, &s));
        return Value::of(s);
      }
      if (f == "min" || f == "max") {
        if (xs.empty()) error(f + "() of an empty list");
        return Value::of(f == "min" ? *std::min_element(xs.begin(), xs.end()) : *std::max_element(xs.begin(), xs.end()));
      }
      if (f == "sort") std::sort(xs.begin(), xs.end());
      else std::reverse(xs.begin(), xs.end());
      return Value::of(xs);
    }
    if (f == "abs") {
      arity(1);
      const int64_t x = integer(args[0], "abs()'s argument");
      if (x == std::numeric_limits<int64_t>::min()) error("integer overflow");
      return Value::of(x < 0 ? -x : x);
    }
    if (f == "count" || f == "index") {
      arity(2);
      const std::vector<int64_t>& xs = list(args[0], f + "()'s first argument");
      const int64_t v = integer(args[1], f + "()'s second argument");
      if (f == "count") return Value::of(static_cast<int64_t>(std::count(xs.begin(), xs.end(), v)));
      const auto it = std::find(xs.begin(), xs.end(), v);
      if (it == xs.end()) error("index(): " + std::to_string(v) + " is not in the list");
      return Value::of(static_cast<int64_t>(it - xs.begin()));
    }
    arity(3);  // set
    std::vector<int64_t> xs = list(args[0], "set()'s first argument");
    xs[position(xs, integer(args[1], "set()'s index"))] = integer(args[2], "set()'s value");
    return Value::of(xs);
  }

  Value eval(const ExpressionNode& n) const {
    switch (n.kind) {
      case NodeKind::kNumber:
        return Value::of(n.number);
      case NodeKind::kName: {
        const auto it = names.find(n.name);
        if (it == names.end()) error("unknown name " + quote(n.name));
        return it->second;
      }
      case NodeKind::kList: {
        std::vector<int64_t> xs;
        for (const auto& c : n.children) xs.push_back(integer(eval(*c), "a list element"));
        return Value::of(xs);
      }
      case NodeKind::kUnary: {
        const int64_t x = integer(eval(*n.children[0]), "the operand of " + n.name);
        if (n.name == "!") return Value::of(x == 0);
        return binary("-", 0, x);
      }
      case NodeKind::kBinary: {
        const int64_t a = integer(eval(*n.children[0]), "the left operand of " + n.name);
        if (n.name == "&&" && a == 0) return Value::of(0);
        if (n.name == "||" && a != 0) return Value::of(1);
        return binary(n.name, a, integer(eval(*n.children[1]), "the right operand of " + n.name));
      }
      case NodeKind::kTernary:
        return integer(eval(*n.children[0]), "a condition") != 0 ? eval(*n.children[1]) : eval(*n.children[2]);
      case NodeKind::kIndex: {
        const Value xs = eval(*n.children[0]);
        const std::vector<int64_t>& l = list(xs, "an indexed value");
        return Value::of(l[position(l, integer(eval(*n.children[1]), "an index"))]);
      }
      case NodeKind::kCall:
        return call(n);
    }
    error("unknown expression");
  }
};

}  // namespace

std::string Value::to_string() const {
  if (!is_list) return std::to_string(integer);
  std::string s = "[";
  for (std::size_t i = 0; i < list.size(); ++i) s += (i ? ", " : "") + std::to_string(list[i]);
  return s + "]";
}

Expression Expression::parse(const std::string& text, const std::string& where) {
  check(text.size() <= kMaxExpressionLength, where,
        "expression longer than " + std::to_string(kMaxExpressionLength) + " characters");
  Expression e;
  e.text_ = text;
  e.where_ = where;
  e.root_ = Parser(text, where, e.names_).parse();
  std::vector<const ExpressionNode*> open = {e.root_.get()};
  while (!open.empty()) {
    const ExpressionNode* n = open.back();
    open.pop_back();
    ++e.nodes_;
    for (const auto& c : n->children) open.push_back(c.get());
  }
  return e;
}

Value Expression::evaluate(const std::map<std::string, Value>& names) const {
  return Evaluator{names, where_, text_}.eval(*root_);
}

}  // namespace circuitcheck

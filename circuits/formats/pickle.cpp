#include "circuits/formats/pickle.h"

#include "circuits/formats/error.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>

namespace circuitcheck {
namespace {

using Kind = PickleValue::Kind;

bool is_object(const PickleValue& value) { return value.kind == Kind::Call || value.kind == Kind::NewObject; }

std::string hex_byte(unsigned char byte) {
  const char* digits = "0123456789abcdef";
  return std::string("0x") + digits[byte >> 4] + digits[byte & 15];
}

struct Unpickler {
  std::string_view data;
  std::size_t pos = 0;
  std::size_t op_start = 0;
  const PickleGlobals& allowed;
  const std::string& where;
  std::vector<PickleRef> stack;
  std::vector<std::size_t> marks;  // stack sizes at each open MARK
  std::unordered_map<std::uint64_t, PickleRef> memo;
  std::size_t values = 0;

  [[noreturn]] void error(const std::string& what) const {
    fail(where, "pickle byte " + std::to_string(op_start) + ": " + what);
  }
  void expect(bool ok, const char* what) const {
    if (!ok) error(what);
  }

  std::string_view take(std::uint64_t size) {
    expect(size <= data.size() - pos, "truncated");
    std::string_view bytes = data.substr(pos, size);
    pos += size;
    return bytes;
  }
  std::uint64_t take_le(int width) {
    std::string_view bytes = take(width);
    std::uint64_t value = 0;
    for (int i = width - 1; i >= 0; --i) value = value << 8 | static_cast<unsigned char>(bytes[i]);
    return value;
  }
  std::string take_line() {
    std::size_t end = data.find('\n', pos);
    expect(end != std::string_view::npos, "truncated");
    std::string line(data.substr(pos, end - pos));
    pos = end + 1;
    return line;
  }

  PickleRef make(Kind kind) {
    expect(++values <= kPickleMaxValues, "too many values");
    auto value = std::make_shared<PickleValue>();
    value->kind = kind;
    return value;
  }
  PickleRef make_text(Kind kind, std::string_view text) {
    PickleRef value = make(kind);
    value->text = std::string(text);
    return value;
  }
  PickleRef make_int(std::int64_t integer) {
    PickleRef value = make(Kind::Int);
    value->integer = integer;
    return value;
  }
  PickleRef make_bool(bool boolean) {
    PickleRef value = make(Kind::Bool);
    value->boolean = boolean;
    return value;
  }

  PickleRef make_long(std::string_view bytes) {
    std::size_t n = bytes.size();
    bool negative = n > 0 && (static_cast<unsigned char>(bytes[n - 1]) & 0x80);
    bool fits = true;
    for (std::size_t i = 8; i < n; ++i) fits = fits && bytes[i] == static_cast<char>(negative ? 0xff : 0);
    if (n > 8) fits = fits && ((static_cast<unsigned char>(bytes[7]) & 0x80) != 0) == negative;
    if (!fits) return make_text(Kind::BigInt, bytes);
    std::uint64_t value = negative ? ~std::uint64_t{0} : 0;
    for (std::size_t i = std::min<std::size_t>(n, 8); i-- > 0;) {
      value = value << 8 | static_cast<unsigned char>(bytes[i]);
    }
    return make_int(static_cast<std::int64_t>(value));
  }

  PickleRef make_global(const std::string& module, const std::string& name) {
    if (!allowed.count({module, name})) error("forbidden global " + module + "." + name);
    PickleRef value = make(Kind::Global);
    value->module = module;
    value->name = name;
    return value;
  }

  void adopt(PickleValue& parent, const PickleRef& child) {
    expect(child.get() != &parent, "a value that contains itself");
    expect(child->depth < kPickleMaxDepth, "values nested too deeply");
    parent.depth = std::max(parent.depth, child->depth + 1);
    child->nested = true;
  }
  void expect_modifiable(const PickleValue& target) const {
    expect(!target.nested, "modifies a value that is already inside another one");
  }

  std::size_t base() const { return marks.empty() ? 0 : marks.back(); }
  PickleRef pop() {
    expect(stack.size() > base(), "stack underflow");
    PickleRef value = std::move(stack.back());
    stack.pop_back();
    return value;
  }
  const PickleRef& top() const {
    expect(stack.size() > base(), "stack underflow");
    return stack.back();
  }
  std::vector<PickleRef> pop_mark() {
    expect(!marks.empty(), "no MARK");
    std::vector<PickleRef> items(stack.begin() + static_cast<std::ptrdiff_t>(marks.back()), stack.end());
    stack.resize(marks.back());
    marks.pop_back();
    return items;
  }
  void push(PickleRef value) { stack.push_back(std::move(value)); }

  PickleRef make_tuple(std::vector<PickleRef> items) {
    PickleRef tuple = make(Kind::Tuple);
    for (const PickleRef& item : items) adopt(*tuple, item);
    tuple->items = std::move(items);
    return tuple;
  }
  void append(PickleValue& target, std::vector<PickleRef> items) {
    expect(target.kind == Kind::List || is_object(target), "APPEND to a value that is not a list");
    expect_modifiable(target);
    for (PickleRef& item : items) {
      adopt(target, item);
      target.items.push_back(std::move(item));
    }
  }
  void set_items(PickleValue& target, std::vector<PickleRef> items) {
    expect(target.kind == Kind::Dict || is_object(target), "SETITEM on a value that is not a dict");
    expect(items.size() % 2 == 0, "SETITEMS with an odd number of items");
    expect_modifiable(target);
    for (std::size_t i = 0; i < items.size(); i += 2) {
      adopt(target, items[i]);
      adopt(target, items[i + 1]);
      target.entries.emplace_back(std::move(items[i]), std::move(items[i + 1]));
    }
  }
  PickleRef make_object(Kind kind) {
    PickleRef args = pop();
    PickleRef callable = pop();
    expect(callable->kind == Kind::Global, "call of a value that is not a global");
    expect(args->kind == Kind::Tuple, "call arguments are not a tuple");
    PickleRef object = make(kind);
    adopt(*object, callable);
    adopt(*object, args);
    object->callable = std::move(callable);
    object->args = std::move(args);
    return object;
  }
  void build() {
    PickleRef state = pop();
    PickleValue& target = *top();
    expect(is_object(target), "BUILD on a value that is not an object");
    expect(!target.state, "second BUILD on one object");
    expect_modifiable(target);
    adopt(target, state);
    target.state = std::move(state);
  }
  void put(std::uint64_t index) { memo[index] = top(); }
  PickleRef get(std::uint64_t index) {
    auto it = memo.find(index);
    if (it == memo.end()) error("memo entry " + std::to_string(index) + " missing");
    return it->second;
  }
  std::uint64_t take_length(int width) {
    std::uint64_t length = take_le(width);
    if (width == 4 && (length & 0x80000000u)) error("negative length");
    return length;
  }

  PickleRef run() {
    for (;;) {
      op_start = pos;
      auto op = static_cast<unsigned char>(take(1)[0]);
      switch (op) {
        case 0x80:  // PROTO
          if (take_le(1) > 5) error("unsupported pickle protocol");
          break;
        case 0x95:  // FRAME: the frame's bytes follow; frames only matter for buffered reading
          expect(take_le(8) <= data.size() - pos, "truncated");
          break;
        case '.':  // STOP
          return pop();
        case '(':  // MARK
          expect(marks.size() < static_cast<std::size_t>(kPickleMaxDepth), "too many open MARKs");
          marks.push_back(stack.size());
          break;
        case '0':  // POP (an empty frame above a MARK pops the MARK, as Python does)
          if (stack.size() > base() || marks.empty()) {
            pop();
          } else {
            pop_mark();
          }
          break;
        case '1':  // POP_MARK
          pop_mark();
          break;
        case '2':  // DUP
          push(top());
          break;
        case 'N':
          push(make(Kind::None));
          break;
        case 0x88:  // NEWTRUE
          push(make_bool(true));
          break;
        case 0x89:  // NEWFALSE
          push(make_bool(false));
          break;
        case 'J':  // BININT
          push(make_int(static_cast<std::int32_t>(take_le(4))));
          break;
        case 'K':  // BININT1
          push(make_int(static_cast<std::int64_t>(take_le(1))));
          break;
        case 'M':  // BININT2
          push(make_int(static_cast<std::int64_t>(take_le(2))));
          break;
        case 0x8a:  // LONG1
          push(make_long(take(take_le(1))));
          break;
        case 0x8b:  // LONG4
          push(make_long(take(take_length(4))));
          break;
        case 'G': {  // BINFLOAT, big-endian
          std::string_view bytes = take(8);
          std::uint64_t bits = 0;
          for (char byte : bytes) bits = bits << 8 | static_cast<unsigned char>(byte);
          PickleRef value = make(Kind::Float);
          std::memcpy(&value->number, &bits, sizeof bits);
          push(std::move(value));
          break;
        }
        case 'T':  // BINSTRING
          push(make_text(Kind::String, take(take_length(4))));
          break;
        case 'U':  // SHORT_BINSTRING
          push(make_text(Kind::String, take(take_le(1))));
          break;
        case 'X':  // BINUNICODE
          push(make_text(Kind::String, take(take_le(4))));
          break;
        case 0x8c:  // SHORT_BINUNICODE
          push(make_text(Kind::String, take(take_le(1))));
          break;
        case 0x8d:  // BINUNICODE8
          push(make_text(Kind::String, take(take_le(8))));
          break;
        case 'B':  // BINBYTES
          push(make_text(Kind::Bytes, take(take_le(4))));
          break;
        case 'C':  // SHORT_BINBYTES
          push(make_text(Kind::Bytes, take(take_le(1))));
          break;
        case 0x8e:  // BINBYTES8
          push(make_text(Kind::Bytes, take(take_le(8))));
          break;
        case ')':  // EMPTY_TUPLE
          push(make_tuple({}));
          break;
        case 0x85:  // TUPLE1
        case 0x86:  // TUPLE2
        case 0x87: {  // TUPLE3
          std::vector<PickleRef> items(op - 0x84);
          for (auto it = items.rbegin(); it != items.rend(); ++it) *it = pop();
          push(make_tuple(std::move(items)));
          break;
        }
        case 't':  // TUPLE
          push(make_tuple(pop_mark()));
          break;
        case ']':  // EMPTY_LIST
          push(make(Kind::List));
          break;
        case 'l': {  // LIST
          std::vector<PickleRef> items = pop_mark();
          PickleRef list = make(Kind::List);
          append(*list, std::move(items));
          push(std::move(list));
          break;
        }
        case 'a': {  // APPEND
          PickleRef item = pop();
          append(*top(), {std::move(item)});
          break;
        }
        case 'e': {  // APPENDS
          std::vector<PickleRef> items = pop_mark();
          append(*top(), std::move(items));
          break;
        }
        case '}':  // EMPTY_DICT
          push(make(Kind::Dict));
          break;
        case 'd': {  // DICT
          std::vector<PickleRef> items = pop_mark();
          PickleRef dict = make(Kind::Dict);
          set_items(*dict, std::move(items));
          push(std::move(dict));
          break;
        }
        case 's': {  // SETITEM
          PickleRef value = pop();
          PickleRef key = pop();
          set_items(*top(), {std::move(key), std::move(value)});
          break;
        }
        case 'u': {  // SETITEMS
          std::vector<PickleRef> items = pop_mark();
          set_items(*top(), std::move(items));
          break;
        }
        case 'q':  // BINPUT
          put(take_le(1));
          break;
        case 'r':  // LONG_BINPUT
          put(take_le(4));
          break;
        case 0x94:  // MEMOIZE
          put(memo.size());
          break;
        case 'h':  // BINGET
          push(get(take_le(1)));
          break;
        case 'j':  // LONG_BINGET
          push(get(take_le(4)));
          break;
        case 'c': {  // GLOBAL
          std::string module = take_line();
          std::string name = take_line();
          push(make_global(module, name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          PickleRef name = pop();
          PickleRef module = pop();
          expect(module->kind == Kind::String && name->kind == Kind::String,
                 "STACK_GLOBAL operands are not strings");
          push(make_global(module->text, name->text));
          break;
        }
        case 'R':  // REDUCE
          push(make_object(Kind::Call));
          break;
        case 0x81:  // NEWOBJ
          push(make_object(Kind::NewObject));
          break;
        case 'b':  // BUILD
          build();
          break;
        case 'Q': {  // BINPERSID
          PickleRef id = pop();
          PickleRef value = make(Kind::PersistentId);
          adopt(*value, id);
          value->items.push_back(std::move(id));
          push(std::move(value));
          break;
        }
        default:
          error("unsupported opcode " + hex_byte(op));
      }
    }
  }
};

}  // namespace

const char* pickle_kind_name(PickleValue::Kind kind) {
  switch (kind) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::BigInt: return "big int";
    case Kind::Float: return "float";
    case Kind::String: return "string";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Global: return "global";
    case Kind::Call: return "call";
    case Kind::NewObject: return "object";
    case Kind::PersistentId: return "persistent id";
  }
  return "?";
}

PickleRef unpickle(std::string_view data, std::size_t& offset, const PickleGlobals& allowed,
                   const std::string& where) {
  if (offset > data.size()) fail(where, "pickle byte " + std::to_string(offset) + ": truncated");
  Unpickler unpickler{data, offset, offset, allowed, where, {}, {}, {}, 0};
  PickleRef result = unpickler.run();
  offset = unpickler.pos;
  return result;
}

}  // namespace circuitcheck

// A restricted unpickler: turns a Python pickle (protocol 2 to 5, the binary
// opcodes torch.save writes) into a small tree of values without executing
// anything.
//
// GLOBAL / STACK_GLOBAL are looked up in an allow-list given by the caller; any
// other global (os.system, builtins.eval, subprocess.Popen, ...) is an
// InputError naming it. REDUCE, NEWOBJ, BUILD and BINPERSID are recorded as
// values (a call, an object, its state, a persistent id) for the caller to
// interpret; nothing is ever called or imported.
//
// Supported opcodes: PROTO, FRAME, STOP, MARK, POP, POP_MARK, DUP, NONE,
// NEWTRUE, NEWFALSE, BININT, BININT1, BININT2, LONG1, LONG4, BINFLOAT,
// BINSTRING, SHORT_BINSTRING, BINUNICODE, SHORT_BINUNICODE, BINUNICODE8,
// BINBYTES, SHORT_BINBYTES, BINBYTES8, EMPTY_TUPLE, TUPLE1, TUPLE2, TUPLE3,
// TUPLE, EMPTY_LIST, LIST, APPEND, APPENDS, EMPTY_DICT, DICT, SETITEM, SETITEMS,
// BINPUT, LONG_BINPUT, MEMOIZE, BINGET, LONG_BINGET, GLOBAL, STACK_GLOBAL,
// REDUCE, NEWOBJ, BUILD, BINPERSID. Anything else (the text opcodes of
// protocol 0, sets, extension codes, out-of-band buffers) is an InputError.
//
// A crafted pickle cannot overflow the stack, allocate more than it holds, hang
// or build a cycle: containers and open MARKs nest at most kPickleMaxDepth deep;
// one pickle builds at most kPickleMaxValues values (about 250 bytes each, so
// at most about 256 MB);
// every length is checked against the bytes left; work is linear in the size of
// the pickle; a list, dict or object can only be modified (APPEND, SETITEM,
// BUILD) before it is placed inside another value, which is how Python's
// pickler writes everything but self-referencing objects (rejected).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace circuitcheck {

inline constexpr int kPickleMaxDepth = 100;
inline constexpr std::size_t kPickleMaxValues = std::size_t{1} << 20;

struct PickleValue;
using PickleRef = std::shared_ptr<PickleValue>;

// One value a pickle builds. Fields not listed for a kind stay empty.
struct PickleValue {
  enum class Kind {
    None,
    Bool,          // boolean
    Int,           // integer (every int that fits in 64 bits)
    BigInt,        // text: little-endian two's complement bytes, as LONG1/LONG4 store them
    Float,         // number
    String,        // text: the UTF-8 bytes as stored (BINUNICODE*, and BINSTRING as Python 3 reads it)
    Bytes,         // text
    Tuple,         // items
    List,          // items
    Dict,          // entries
    Global,        // module, name: a reference (GLOBAL, STACK_GLOBAL), never resolved
    Call,          // REDUCE: callable(*args), recorded, not called
    NewObject,     // NEWOBJ: callable.__new__(callable, *args)
    PersistentId,  // BINPERSID: items[0] is the persistent id, for the caller to resolve
  };
  Kind kind = Kind::None;
  bool boolean = false;
  std::int64_t integer = 0;
  double number = 0.0;
  std::string text;
  std::string module, name;
  // Call, NewObject: a Global and a Tuple.
  PickleRef callable, args;
  // Tuple, List: the elements; Call, NewObject: what APPEND(S) added (a list subclass).
  std::vector<PickleRef> items;
  // Dict; Call, NewObject: what SETITEM(S) added (a dict subclass, e.g. OrderedDict).
  // In pickle order; a repeated key is kept twice.
  std::vector<std::pair<PickleRef, PickleRef>> entries;
  // Call, NewObject: the argument of BUILD (__setstate__), if any.
  PickleRef state;
  // 1 for a value without children, else 1 + the depth of its deepest child.
  int depth = 1;
  // Set once the value is inside another one; it is not modified after that.
  bool nested = false;
};

// Allowed globals as (module, name), e.g. {"collections", "OrderedDict"}.
using PickleGlobals = std::set<std::pair<std::string, std::string>>;

// Lower-case name of a kind for messages ("tuple", "global", ...).
const char* pickle_kind_name(PickleValue::Kind kind);

// Unpickles the pickle starting at data[offset] up to and including its STOP,
// and moves `offset` past the STOP (the legacy torch.save format has several
// pickles back to back). Throws InputError("<where>: pickle byte <n>: <what>")
// for: truncated data (no STOP), an unsupported opcode or protocol, a global
// outside `allowed` (named as module.name), a stack underflow or missing MARK,
// a missing memo entry, an operand of the wrong kind (e.g. REDUCE on a
// non-global, SETITEM on a tuple), a value modified after it was nested or
// that would contain itself, and exceeding the limits above.
PickleRef unpickle(std::string_view data, std::size_t& offset, const PickleGlobals& allowed,
                   const std::string& where);

}  // namespace circuitcheck

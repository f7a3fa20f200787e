// Errors of circuitcheck.
//
// Every failure caused by what a user gave us (a file, a field, a hook name, a
// flag) is an `InputError`: the message names the function, the file and the
// field, and the CLI turns it into exit code 2. A broken invariant of
// circuitcheck itself is an `InternalError`. Inside one claim, any error
// (InputError, InternalError, a LibTorch c10::Error) becomes that claim's
// verdict "error" and the run goes on (claims/verify.h); anywhere else,
// anything but an InputError is a bug in circuitcheck (exit 3).
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace circuitcheck {

// Bad input: a malformed or lying file, an unknown name, an out-of-range value.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A broken invariant of circuitcheck (never the user's input).
class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// Throws InputError("<where>: <what>"). `where` is usually "function: file".
// Each NUL byte of the message is written as \0, so that what() (a C string)
// never ends early.
[[noreturn]] void fail(const std::string& where, const std::string& what);

// How many bytes of a value an error message quotes.
constexpr std::size_t kExcerptChars = 100;

// `text` cut to about `max_chars` bytes for an error message ("..." marks the
// cut, never inside a UTF-8 character). Never throws.
std::string excerpt(std::string_view text, std::size_t max_chars = kExcerptChars);

// A value the user gave, as an error message quotes it: excerpt(value) in
// single quotes, each NUL byte written as \0 ("unknown system 'x'"). Never
// throws.
std::string quote(std::string_view value);

// Throws InputError unless `ok`; the message is built only on failure.
inline void check(bool ok, const std::string& where, const std::string& what) {
  if (!ok) fail(where, what);
}

// Throws InternalError("<where>: <what>") unless `ok`: an invariant of
// circuitcheck's own code, never the user's input.
inline void check_internal(bool ok, const std::string& where, const std::string& what) {
  if (!ok) throw InternalError(where + ": " + what);
}

}  // namespace circuitcheck

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
// The message is printable(where + ": " + what): a NUL byte never ends what()
// (a C string) early, and a file name or value that is not valid UTF-8 still
// prints, and goes into a JSON report, as valid UTF-8.
[[noreturn]] void fail(const std::string& where, const std::string& what);

// True when `text` is valid UTF-8 (RFC 3629: no overlong form, surrogate or
// code point above U+10FFFF). Never throws.
bool is_utf8(std::string_view text);

// `text` as valid UTF-8 with no NUL byte: each NUL byte written as \0, each
// byte that is not part of a valid UTF-8 character as \xNN (two lowercase hex
// digits); everything else unchanged. Never throws.
std::string printable(std::string_view text);

// `text` for one line of a terminal: printable(text) with every control
// character also escaped, C0 and DEL as \xNN and C1 (U+0080-U+009F) as
// \u00NN, so that a file's text cannot start a line, move the cursor or
// send the terminal an escape sequence. Never throws.
std::string terminal_text(std::string_view text);

// How many bytes of a value an error message quotes.
constexpr std::size_t kExcerptChars = 100;

// `text` cut to about `max_chars` bytes for an error message ("..." marks the
// cut, never inside a UTF-8 character). Never throws.
std::string excerpt(std::string_view text, std::size_t max_chars = kExcerptChars);

// A value the user gave, as an error message quotes it: printable(excerpt(value))
// in single quotes ("unknown system 'x'", "key 'a\xffb'"). Never throws.
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

// The input of one fuzz run as a file, read by one of circuitcheck's readers.
//
// The readers take paths (they check that a file is regular, its size, its
// extension), so a fuzz target writes the bytes it is given to a scratch file
// and reads that. Bad input must be refused with an InputError (formats/error.h);
// anything else that escapes the reader (another exception, a crash, a
// sanitizer report, a leak, a hang) is a finding.
#pragma once

#include "circuits/formats/error.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace circuitcheck {

// Writes `size` bytes at `data` to "<temp dir>/circuitcheck-fuzz-<pid>/input<extension>"
// (the folder is made on first use and removed at a normal exit; the file is
// replaced on every call) and returns its path. `extension` (".json",
// ".jsonl", ".safetensors", ".pt") selects the reader where circuitcheck goes
// by extension. Aborts with a message when the file cannot be written: that
// is the fuzzing machine's fault, never a finding.
std::string write_fuzz_input(const std::uint8_t* data, std::size_t size, const std::string& extension);

// The body of a fuzz target: calls `read(path)` on the input written as a
// file (write_fuzz_input) and swallows an InputError, the one documented way
// to refuse it; everything else propagates to libFuzzer. Returns 0, as
// LLVMFuzzerTestOneInput must.
template <class Read>
int fuzz_file(const std::uint8_t* data, std::size_t size, const std::string& extension, Read read) {
  try {
    read(write_fuzz_input(data, size, extension));
  } catch (const InputError&) {
  }
  return 0;
}

}  // namespace circuitcheck

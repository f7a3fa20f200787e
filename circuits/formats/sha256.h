// SHA-256 (FIPS 180-4) for provenance: checkpoint and claim-file hashes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace circuitcheck {

// Lower-case hex digest (64 characters) of `size` bytes at `data`.
std::string sha256_hex(const void* data, std::size_t size);

// Lower-case hex digest of a string's bytes.
std::string sha256_hex(const std::string& bytes);

// Lower-case hex digest of a file, read in chunks.
// Throws InputError naming the file when it cannot be opened or read, or is a directory.
std::string sha256_file(const std::string& path);

}  // namespace circuitcheck

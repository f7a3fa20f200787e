// A minimal read-only ZIP reader, enough for the archives torch.save writes.
//
// Reads the end of central directory record (and, when one of its fields is
// saturated, the ZIP64 end of central directory locator and record), then the
// central directory (with ZIP64 extra fields), then each entry's local header
// to find where its data starts. Only STORED entries (method 0, which is all
// torch.save writes) can be read; their CRC-32 is checked. Multi-disk archives
// and encrypted entries are not supported.
//
// Every offset and length read from the file is checked against the file size
// (and the central directory against its own extent) before it is used, so a
// truncated or lying archive is an InputError, never an out-of-range read or an
// allocation larger than the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace circuitcheck {

// One file of the archive, as the central directory and local header give it.
struct ZipEntry {
  std::string name;                  // full path inside the archive, e.g. "archive/data/0"
  std::uint16_t method = 0;          // 0 = stored; anything else is compressed
  std::uint16_t flags = 0;           // general purpose bit flags (bit 0: encrypted)
  std::uint32_t crc32 = 0;           // of the uncompressed data
  std::uint64_t compressed_size = 0;
  std::uint64_t uncompressed_size = 0;
  std::uint64_t header_offset = 0;   // of the local file header
  std::uint64_t data_offset = 0;     // of the entry's first data byte; data_offset + compressed_size <= file size
};

struct ZipArchive {
  std::string path;
  std::string where;                 // prefix of every InputError about this archive
  std::uint64_t file_size = 0;
  std::map<std::string, ZipEntry> entries;  // by name
};

// Reads the directory of the ZIP file at `path`. Errors are InputError("<where>: <what>"):
// not a regular file or unreadable; no end of central directory record; a
// multi-disk archive; a missing or malformed ZIP64 locator or record; a central
// directory, name, extra field or local header that lies outside the file or
// has a bad signature; a local header whose name differs from the central one;
// entry data outside the file; entries that share bytes (one's data running
// into the next entry or the central directory); two entries with the same name.
ZipArchive read_zip_archive(const std::string& path, const std::string& where);

// The bytes of entry `name`. InputError when there is no such entry, it is
// encrypted or compressed, its sizes disagree, the file cannot be read (e.g.
// it shrank), or the CRC-32 does not match.
std::string read_zip_entry(const ZipArchive& archive, const std::string& name);

// CRC-32 (ISO-HDLC, the ZIP checksum) of `size` bytes at `data`.
std::uint32_t zip_crc32(const void* data, std::size_t size);

}  // namespace circuitcheck

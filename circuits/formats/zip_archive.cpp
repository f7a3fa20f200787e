#include "circuits/formats/zip_archive.h"

#include "circuits/formats/error.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <vector>

namespace circuitcheck {
namespace {

constexpr std::uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr std::uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr std::uint32_t kEndSignature = 0x06054b50;
constexpr std::uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr std::uint32_t kZip64EndSignature = 0x06064b50;
constexpr std::uint64_t kLocalHeaderSize = 30;
constexpr std::uint64_t kCentralHeaderSize = 46;
constexpr std::uint64_t kEndSize = 22;
constexpr std::uint64_t kZip64LocatorSize = 20;
constexpr std::uint64_t kZip64EndSize = 56;
constexpr std::uint64_t kMaxCommentSize = 0xffff;
constexpr std::uint16_t kZip64ExtraId = 0x0001;
constexpr std::uint16_t kSaturated16 = 0xffff;
constexpr std::uint32_t kSaturated32 = 0xffffffff;

std::uint64_t le(const std::string& bytes, std::size_t pos, int width) {
  std::uint64_t value = 0;
  for (int i = width - 1; i >= 0; --i) value = value << 8 | static_cast<unsigned char>(bytes[pos + i]);
  return value;
}

struct FileReader {
  std::ifstream in;
  std::uint64_t size = 0;
  std::string where;
};

void open_reader(FileReader& file, const std::string& path, const std::string& where) {
  file.where = where;
  std::error_code ec;
  check(std::filesystem::is_regular_file(path, ec), where, "not a regular file");
  file.size = std::filesystem::file_size(path, ec);
  check(!ec, where, "cannot get the file size: " + ec.message());
  file.in.open(path, std::ios::binary);
  check(file.in.is_open(), where, "cannot open the file");
}

std::string read_at(FileReader& file, std::uint64_t offset, std::uint64_t length, const std::string& what) {
  check(offset <= file.size && length <= file.size - offset, file.where,
        what + " (offset " + std::to_string(offset) + ", " + std::to_string(length) +
            " bytes) lies outside the file of " + std::to_string(file.size) + " bytes");
  std::string bytes(length, '\0');
  file.in.clear();
  file.in.seekg(static_cast<std::streamoff>(offset));
  file.in.read(bytes.data(), static_cast<std::streamsize>(length));
  check(file.in.gcount() == static_cast<std::streamsize>(length), file.where, "cannot read " + what);
  return bytes;
}

struct EndRecord {
  std::uint64_t disk = 0;
  std::uint64_t directory_disk = 0;
  std::uint64_t entries_on_disk = 0;
  std::uint64_t entries = 0;
  std::uint64_t directory_size = 0;
  std::uint64_t directory_offset = 0;
  std::uint64_t directory_limit = 0;  // where the records after the central directory start
};

EndRecord read_zip64_end(FileReader& file, std::uint64_t end_offset) {
  check(end_offset >= kZip64LocatorSize, file.where, "ZIP64 end of central directory locator missing");
  std::uint64_t locator_offset = end_offset - kZip64LocatorSize;
  std::string locator = read_at(file, locator_offset, kZip64LocatorSize, "ZIP64 locator");
  check(le(locator, 0, 4) == kZip64LocatorSignature, file.where, "ZIP64 end of central directory locator missing");
  check(le(locator, 4, 4) == 0 && le(locator, 16, 4) <= 1, file.where, "multi-disk archives are not supported");
  std::uint64_t record_offset = le(locator, 8, 8);
  check(record_offset <= locator_offset && kZip64EndSize <= locator_offset - record_offset, file.where,
        "ZIP64 end of central directory record lies outside the file");
  std::string record = read_at(file, record_offset, kZip64EndSize, "ZIP64 end of central directory record");
  check(le(record, 0, 4) == kZip64EndSignature, file.where, "bad ZIP64 end of central directory signature");
  EndRecord end;
  end.disk = le(record, 16, 4);
  end.directory_disk = le(record, 20, 4);
  end.entries_on_disk = le(record, 24, 8);
  end.entries = le(record, 32, 8);
  end.directory_size = le(record, 40, 8);
  end.directory_offset = le(record, 48, 8);
  end.directory_limit = record_offset;
  return end;
}

EndRecord read_end_record(FileReader& file) {
  std::uint64_t tail_size = std::min(file.size, kEndSize + kMaxCommentSize);
  std::uint64_t tail_offset = file.size - tail_size;
  std::string tail = read_at(file, tail_offset, tail_size, "end of the file");
  for (std::uint64_t pos = tail_size >= kEndSize ? tail_size - kEndSize + 1 : 0; pos-- > 0;) {
    if (le(tail, pos, 4) != kEndSignature || pos + kEndSize + le(tail, pos + 20, 2) != tail_size) continue;
    EndRecord end;
    end.disk = le(tail, pos + 4, 2);
    end.directory_disk = le(tail, pos + 6, 2);
    end.entries_on_disk = le(tail, pos + 8, 2);
    end.entries = le(tail, pos + 10, 2);
    end.directory_size = le(tail, pos + 12, 4);
    end.directory_offset = le(tail, pos + 16, 4);
    end.directory_limit = tail_offset + pos;
    bool zip64 = end.disk == kSaturated16 || end.directory_disk == kSaturated16 ||
                 end.entries_on_disk == kSaturated16 || end.entries == kSaturated16 ||
                 end.directory_size == kSaturated32 || end.directory_offset == kSaturated32;
    return zip64 ? read_zip64_end(file, end.directory_limit) : end;
  }
  fail(file.where, "not a ZIP archive (no end of central directory record)");
}

void apply_zip64_extra(const std::string& extra, ZipEntry& entry, std::uint64_t& disk, const std::string& where) {
  std::size_t pos = 0;
  while (pos + 4 <= extra.size()) {
    std::size_t id = le(extra, pos, 2);
    std::size_t end = pos + 4 + le(extra, pos + 2, 2);
    check(end <= extra.size(), where, "entry " + quote(entry.name) + ": extra field overruns its block");
    if (id == kZip64ExtraId) {
      std::size_t field = pos + 4;
      auto take = [&](std::uint64_t& value, int width) {
        check(field + width <= end, where, "entry " + quote(entry.name) + ": ZIP64 extra field too short");
        value = le(extra, field, width);
        field += width;
      };
      if (entry.uncompressed_size == kSaturated32) take(entry.uncompressed_size, 8);
      if (entry.compressed_size == kSaturated32) take(entry.compressed_size, 8);
      if (entry.header_offset == kSaturated32) take(entry.header_offset, 8);
      if (disk == kSaturated16) take(disk, 4);
      return;
    }
    pos = end;
  }
  fail(where, "entry " + quote(entry.name) + ": ZIP64 extra field missing");
}

void locate_data(FileReader& file, ZipEntry& entry) {
  const std::string what = "local header of " + quote(entry.name);
  std::string header = read_at(file, entry.header_offset, kLocalHeaderSize, what);
  check(le(header, 0, 4) == kLocalHeaderSignature, file.where, "bad signature of the " + what);
  std::uint64_t name_size = le(header, 26, 2);
  std::uint64_t extra_size = le(header, 28, 2);
  check(read_at(file, entry.header_offset + kLocalHeaderSize, name_size, what) == entry.name, file.where,
        "the " + what + " names another file");
  entry.data_offset = entry.header_offset + kLocalHeaderSize + name_size + extra_size;
  check(entry.data_offset <= file.size && entry.compressed_size <= file.size - entry.data_offset, file.where,
        "data of " + quote(entry.name) + " (" + std::to_string(entry.compressed_size) + " bytes at offset " +
            std::to_string(entry.data_offset) + ") lies outside the file of " + std::to_string(file.size) +
            " bytes");
}

const std::array<std::uint32_t, 256>& crc_table() {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

}  // namespace

ZipArchive read_zip_archive(const std::string& path, const std::string& where) {
  FileReader file;
  open_reader(file, path, where);
  EndRecord end = read_end_record(file);
  check(end.disk == 0 && end.directory_disk == 0 && end.entries_on_disk == end.entries, where,
        "multi-disk archives are not supported");
  check(end.directory_offset <= end.directory_limit &&
            end.directory_size <= end.directory_limit - end.directory_offset,
        where, "the central directory lies outside the file");
  check(end.entries <= end.directory_size / kCentralHeaderSize, where,
        "the central directory is too small for " + std::to_string(end.entries) + " entries");
  std::string directory = read_at(file, end.directory_offset, end.directory_size, "central directory");

  ZipArchive archive{path, where, file.size, {}};
  std::size_t pos = 0;
  for (std::uint64_t i = 0; i < end.entries; ++i) {
    const std::string what = "central directory entry " + std::to_string(i);
    check(pos + kCentralHeaderSize <= directory.size(), where, what + " overruns the central directory");
    check(le(directory, pos, 4) == kCentralHeaderSignature, where, "bad signature of " + what);
    std::size_t name_size = le(directory, pos + 28, 2);
    std::size_t extra_size = le(directory, pos + 30, 2);
    std::size_t comment_size = le(directory, pos + 32, 2);
    std::size_t next = pos + kCentralHeaderSize + name_size + extra_size + comment_size;
    check(next <= directory.size(), where, what + " overruns the central directory");
    ZipEntry entry;
    entry.name = directory.substr(pos + kCentralHeaderSize, name_size);
    entry.flags = static_cast<std::uint16_t>(le(directory, pos + 8, 2));
    entry.method = static_cast<std::uint16_t>(le(directory, pos + 10, 2));
    entry.crc32 = static_cast<std::uint32_t>(le(directory, pos + 16, 4));
    entry.compressed_size = le(directory, pos + 20, 4);
    entry.uncompressed_size = le(directory, pos + 24, 4);
    entry.header_offset = le(directory, pos + 42, 4);
    std::uint64_t disk = le(directory, pos + 34, 2);
    if (entry.uncompressed_size == kSaturated32 || entry.compressed_size == kSaturated32 ||
        entry.header_offset == kSaturated32 || disk == kSaturated16) {
      apply_zip64_extra(directory.substr(pos + kCentralHeaderSize + name_size, extra_size), entry, disk, where);
    }
    check(disk == 0, where, "entry " + quote(entry.name) + " is on another disk");
    locate_data(file, entry);
    std::string name = entry.name;
    check(archive.entries.emplace(name, std::move(entry)).second, where, "two entries named " + quote(name));
    pos = next;
  }
  // Each entry's header and data hold bytes of their own, before the central
  // directory: entries that share bytes would read the file many times over.
  std::vector<const ZipEntry*> by_offset;
  for (const auto& named : archive.entries) by_offset.push_back(&named.second);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const ZipEntry* a, const ZipEntry* b) { return a->header_offset < b->header_offset; });
  for (std::size_t i = 0; i < by_offset.size(); ++i) {
    const ZipEntry& e = *by_offset[i];
    const std::uint64_t limit = i + 1 < by_offset.size() ? by_offset[i + 1]->header_offset : end.directory_offset;
    check(e.data_offset + e.compressed_size <= limit, where,
          "the data of " + quote(e.name) + " runs into " +
              (i + 1 < by_offset.size() ? "the entry " + quote(by_offset[i + 1]->name) : std::string("the central directory")) +
              ": entries must not share bytes");
  }
  return archive;
}

std::string read_zip_entry(const ZipArchive& archive, const std::string& name) {
  auto it = archive.entries.find(name);
  check(it != archive.entries.end(), archive.where, "no entry " + quote(name));
  const ZipEntry& entry = it->second;
  check((entry.flags & 1) == 0, archive.where, "entry " + quote(name) + " is encrypted");
  check(entry.method == 0, archive.where,
        "entry " + quote(name) + " is compressed (method " + std::to_string(entry.method) +
            "); only stored entries are supported");
  check(entry.compressed_size == entry.uncompressed_size, archive.where,
        "stored entry " + quote(name) + " has different compressed and uncompressed sizes");
  FileReader file;
  open_reader(file, archive.path, archive.where);
  std::string data = read_at(file, entry.data_offset, entry.compressed_size, "data of " + quote(name));
  check(zip_crc32(data.data(), data.size()) == entry.crc32, archive.where, "entry " + quote(name) + ": CRC-32 mismatch");
  return data;
}

std::uint32_t zip_crc32(const void* data, std::size_t size) {
  const auto& table = crc_table();
  const auto* bytes = static_cast<const unsigned char*>(data);
  std::uint32_t crc = 0xffffffffu;
  for (std::size_t i = 0; i < size; ++i) crc = table[(crc ^ bytes[i]) & 0xff] ^ (crc >> 8);
  return crc ^ 0xffffffffu;
}

}  // namespace circuitcheck

#include "circuits/formats/safetensors.h"

#include "circuits/formats/error.h"
#include "circuits/formats/json_input.h"
#include "circuits/formats/mapped_file.h"
#include "circuits/formats/text_file.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

namespace circuitcheck {
namespace {

constexpr std::uint64_t max_header_size = 100'000'000;
constexpr const char* metadata_key = "__metadata__";

struct DtypeName {
  const char* name;
  at::ScalarType type;
};

constexpr std::array<DtypeName, 8> dtype_names = {{
    {"F32", at::kFloat},
    {"F16", at::kHalf},
    {"BF16", at::kBFloat16},
    {"F64", at::kDouble},
    {"I64", at::kLong},
    {"I32", at::kInt},
    {"U8", at::kByte},
    {"BOOL", at::kBool},
}};

std::optional<at::ScalarType> dtype_from_name(const std::string& name) {
  for (const auto& dtype : dtype_names) {
    if (name == dtype.name) return dtype.type;
  }
  return std::nullopt;
}

const char* name_of_dtype(at::ScalarType type) {
  for (const auto& dtype : dtype_names) {
    if (type == dtype.type) return dtype.name;
  }
  return nullptr;
}

std::uint64_t decode_u64_le(const unsigned char* bytes) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

std::string encode_u64_le(std::uint64_t value) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((value >> (8 * i)) & 0xff);
  return bytes;
}

struct Entry {
  std::string name;
  at::ScalarType dtype;
  std::vector<std::int64_t> shape;
  std::uint64_t begin;
  std::uint64_t end;
};

std::optional<std::uint64_t> non_negative_integer(const nlohmann::json& value) {
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  if (value.is_number_integer() && value.get<std::int64_t>() >= 0) return value.get<std::uint64_t>();
  return std::nullopt;
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> offset_pair(const nlohmann::json& offsets) {
  if (!offsets.is_array() || offsets.size() != 2) return std::nullopt;
  const auto begin = non_negative_integer(offsets[0]);
  const auto end = non_negative_integer(offsets[1]);
  if (!begin || !end) return std::nullopt;
  return std::pair{*begin, *end};
}

const nlohmann::json& member(const nlohmann::json& entry, const char* key, const std::string& name,
                             const std::string& where) {
  const auto it = entry.find(key);
  check(it != entry.end(), where, name + ": " + key + ": missing");
  return *it;
}

std::vector<std::int64_t> parse_shape(const nlohmann::json& shape, const std::string& name,
                                      const std::string& where) {
  check(shape.is_array(), where, name + ": shape: not an array");
  std::vector<std::int64_t> dims;
  std::uint64_t extent = 1;
  for (const auto& dim : shape) {
    const auto size = non_negative_integer(dim);
    check(size.has_value(), where, name + ": shape: " + json_excerpt(dim) + " is not a non-negative integer");
    const bool fits = !__builtin_mul_overflow(extent, std::max<std::uint64_t>(*size, 1), &extent) &&
                      extent <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (!fits) fail(where, name + ": shape: " + json_excerpt(shape) + " overflows the element count");
    dims.push_back(static_cast<std::int64_t>(*size));
  }
  return dims;
}

Entry parse_entry(const std::string& name, const nlohmann::json& value, std::uint64_t data_size,
                  const std::string& where) {
  check(value.is_object(), where, name + ": not a JSON object");

  const auto& dtype = member(value, "dtype", name, where);
  check(dtype.is_string(), where, name + ": dtype: not a string");
  const auto type = dtype_from_name(dtype.get<std::string>());
  check(type.has_value(), where, name + ": dtype: unknown dtype " + json_excerpt(dtype));

  const auto& shape = member(value, "shape", name, where);
  const std::vector<std::int64_t> dims = parse_shape(shape, name, where);
  std::uint64_t numel = 1;
  for (std::int64_t dim : dims) numel *= static_cast<std::uint64_t>(dim);
  std::uint64_t nbytes = 0;
  check(!__builtin_mul_overflow(numel, at::elementSize(*type), &nbytes), where,
        name + ": shape: " + json_excerpt(shape) + " of " + dtype.get<std::string>() + " overflows the byte count");

  const auto& offsets = member(value, "data_offsets", name, where);
  const auto range = offset_pair(offsets);
  check(range.has_value(), where,
        name + ": data_offsets: " + json_excerpt(offsets) + " is not two non-negative integers");
  const auto [begin, end] = *range;
  check(begin <= end, where,
        name + ": data_offsets: begin " + std::to_string(begin) + " > end " + std::to_string(end));
  check(end <= data_size, where,
        name + ": data_offsets: end " + std::to_string(end) + " lies past the " + std::to_string(data_size) +
            "-byte data section");
  check(end - begin == nbytes, where,
        name + ": data_offsets: span " + std::to_string(end - begin) + " bytes, but shape " + json_excerpt(shape) +
            " of " + dtype.get<std::string>() + " needs " + std::to_string(nbytes));
  return {name, *type, dims, begin, end};
}

Metadata parse_metadata(const nlohmann::json& value, const std::string& where) {
  check(value.is_object(), where, std::string(metadata_key) + ": not a JSON object");
  Metadata metadata;
  for (const auto& [key, item] : value.items()) {
    check(item.is_string(), where, std::string(metadata_key) + ": " + key + ": not a string");
    metadata.emplace(key, item.get<std::string>());
  }
  return metadata;
}

std::string range_text(const Entry& entry) {
  return "[" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) + ")";
}

void check_exact_cover(std::vector<Entry>& entries, std::uint64_t data_size, const std::string& where) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  const Entry* previous = nullptr;
  std::uint64_t covered = 0;
  for (const auto& entry : entries) {
    if (entry.begin == entry.end) continue;
    if (entry.begin < covered) {
      fail(where, entry.name + ": data_offsets: " + range_text(entry) + " overlaps " + previous->name + " " +
                      range_text(*previous));
    }
    check(entry.begin == covered, where,
          entry.name + ": data_offsets: " + range_text(entry) + " leaves a gap: bytes [" + std::to_string(covered) +
              ", " + std::to_string(entry.begin) + ") of the data section belong to no tensor");
    previous = &entry;
    covered = entry.end;
  }
  check(covered == data_size, where,
        "data: bytes [" + std::to_string(covered) + ", " + std::to_string(data_size) +
            ") of the data section belong to no tensor (trailing bytes after the last tensor)");
}

nlohmann::json parse_header(std::string_view text, const std::string& where) {
  nlohmann::json header = parse_json(text, where + ": header");
  check(header.is_object(), where, "header: not a JSON object");
  return header;
}

at::Tensor make_tensor(const Entry& entry, const std::shared_ptr<const MappedFile>& file, std::uint64_t data_start,
                       const std::string& where) {
  const char* bytes = file->bytes().data() + data_start + entry.begin;
  if (entry.dtype == at::kBool) {
    check(std::all_of(bytes, bytes + (entry.end - entry.begin), [](char byte) { return byte == 0 || byte == 1; }),
          where, entry.name + ": BOOL data holds a byte other than 0 or 1");
  }
  return mapped_tensor(file, data_start + entry.begin, entry.shape, entry.dtype, where + ": " + entry.name);
}

TensorMap cpu_contiguous(const TensorMap& tensors, const std::string& where) {
  TensorMap cpu;
  for (const auto& [name, tensor] : tensors) {
    check(name != metadata_key, where, name + ": reserved name, cannot be a tensor");
    check(tensor.defined(), where, name + ": undefined tensor");
    check(name_of_dtype(tensor.scalar_type()) != nullptr, where,
          name + ": unsupported dtype " + std::string(c10::toString(tensor.scalar_type())));
    cpu.emplace(name, tensor.to(at::kCPU).contiguous());
  }
  return cpu;
}

std::string header_text(const TensorMap& cpu, const Metadata& metadata, const std::string& where) {
  nlohmann::json header = nlohmann::json::object();
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : cpu) {
    const std::uint64_t end = offset + tensor.nbytes();
    header[name] = {{"dtype", name_of_dtype(tensor.scalar_type())},
                    {"shape", tensor.sizes().vec()},
                    {"data_offsets", {offset, end}}};
    offset = end;
  }
  if (!metadata.empty()) header[metadata_key] = metadata;
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::type_error& e) {
    fail(where, std::string("header: tensor names and metadata must be valid UTF-8: ") + e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

[[noreturn]] void discard_and_fail(const std::string& temp_path, const std::string& where, const std::string& what) {
  std::error_code ignored;
  std::filesystem::remove(temp_path, ignored);
  fail(where, "file: " + what);
}

}  // namespace

Safetensors read_safetensors(const std::string& path, std::size_t max_tensors) {
  const std::string where = "read_safetensors: " + path;
  const std::shared_ptr<const MappedFile> file = MappedFile::open(path, where);
  const std::string_view bytes = file->bytes();
  const std::uint64_t file_size = bytes.size();
  check(file_size >= 8, where,
        "header length: file has " + std::to_string(file_size) + " bytes, fewer than the 8-byte header length");
  const std::uint64_t header_size = decode_u64_le(reinterpret_cast<const unsigned char*>(bytes.data()));
  check(header_size <= max_header_size, where,
        "header length: " + std::to_string(header_size) + " bytes exceeds the limit of " +
            std::to_string(max_header_size));
  check(header_size <= file_size - 8, where,
        "header length: " + std::to_string(header_size) + " bytes runs past the end of the file (" +
            std::to_string(file_size - 8) + " bytes follow)");
  const nlohmann::json header = parse_header(bytes.substr(8, header_size), where);

  const std::size_t tensor_count = header.size() - header.count(metadata_key);
  check(tensor_count <= max_tensors, where,
        "header: " + std::to_string(tensor_count) + " tensors exceed the limit of " + std::to_string(max_tensors) +
            " tensors per file");

  const std::uint64_t data_start = 8 + header_size;
  const std::uint64_t data_size = file_size - data_start;
  Safetensors result;
  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == metadata_key) {
      result.metadata = parse_metadata(value, where);
    } else {
      entries.push_back(parse_entry(name, value, data_size, where));
    }
  }
  check_exact_cover(entries, data_size, where);
  for (const auto& entry : entries) result.tensors.emplace(entry.name, make_tensor(entry, file, data_start, where));
  return result;
}

void write_safetensors(const std::string& path, const TensorMap& tensors, const Metadata& metadata) {
  const std::string where = "write_safetensors: " + path;
  const TensorMap cpu = cpu_contiguous(tensors, where);
  const std::string header = header_text(cpu, metadata, where);
  check_replaceable(path, "write_safetensors");

  const std::string temp_path = temporary_path(path);
  std::ofstream out(temp_path, std::ios::binary | std::ios::trunc);
  if (!out) discard_and_fail(temp_path, where, "cannot create the temporary file " + temp_path);
  out << encode_u64_le(header.size()) << header;
  for (const auto& [name, tensor] : cpu) {
    if (tensor.nbytes() > 0) out.write(static_cast<const char*>(tensor.data_ptr()), tensor.nbytes());
  }
  out.close();
  if (!out) discard_and_fail(temp_path, where, "cannot write the temporary file " + temp_path);
  std::error_code ec;
  std::filesystem::rename(temp_path, path, ec);
  if (ec) discard_and_fail(temp_path, where, "cannot rename " + temp_path + " onto it: " + ec.message());
}

}  // namespace circuitcheck

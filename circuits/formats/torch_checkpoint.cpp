#include "circuits/formats/torch_checkpoint.h"

#include "circuits/formats/error.h"
#include "circuits/formats/json_input.h"
#include "circuits/formats/mapped_file.h"
#include "circuits/formats/pickle.h"
#include "circuits/formats/text_file.h"
#include "circuits/formats/zip_archive.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <vector>

namespace circuitcheck {
namespace {

using Kind = PickleValue::Kind;

struct StorageType {
  const char* name;
  at::ScalarType dtype;
};

constexpr StorageType kStorageTypes[] = {
    {"FloatStorage", at::kFloat}, {"DoubleStorage", at::kDouble}, {"HalfStorage", at::kHalf},
    {"BFloat16Storage", at::kBFloat16}, {"LongStorage", at::kLong}, {"IntStorage", at::kInt},
    {"ShortStorage", at::kShort}, {"CharStorage", at::kChar}, {"ByteStorage", at::kByte},
    {"BoolStorage", at::kBool},
};

// 0x1950a86a20f9469cfc6c as LONG1 stores it.
const std::string kLegacyMagic("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10);
constexpr std::int64_t kLegacyProtocol = 1001;
constexpr std::size_t kZipPidSize = 5;     // ('storage', type, key, location, numel)
constexpr std::size_t kLegacyPidSize = 6;  // ... plus view_metadata

struct StorageSpec {
  at::ScalarType dtype;
  std::int64_t numel;
};

struct TensorSpec {
  std::string name;
  std::string storage_key;
  std::int64_t storage_offset = 0;
  std::vector<std::int64_t> sizes, strides;
};

struct StateDictSpec {
  std::vector<TensorSpec> tensors;
  std::map<std::string, StorageSpec> storages;  // by key, as the tensors use them
};

PickleGlobals state_dict_globals() {
  PickleGlobals globals = {{"collections", "OrderedDict"},
                           {"torch._utils", "_rebuild_tensor_v2"},
                           {"torch._utils", "_rebuild_parameter"}};
  for (const StorageType& type : kStorageTypes) globals.insert({"torch", type.name});
  return globals;
}

bool is_global(const PickleValue& value, const char* module, const char* name) {
  return value.kind == Kind::Global && value.module == module && value.name == name;
}

const PickleValue& expect_kind(const PickleRef& value, Kind kind, const std::string& what,
                               const std::string& where) {
  check(value->kind == kind, where,
        what + " is a " + pickle_kind_name(value->kind) + ", expected a " + pickle_kind_name(kind));
  return *value;
}

std::int64_t expect_int(const PickleRef& value, const std::string& what, const std::string& where) {
  std::int64_t integer = expect_kind(value, Kind::Int, what, where).integer;
  check(integer >= 0, where, what + " is negative");
  return integer;
}

std::vector<std::int64_t> expect_ints(const PickleRef& value, const std::string& what, const std::string& where) {
  std::vector<std::int64_t> ints;
  for (const PickleRef& item : expect_kind(value, Kind::Tuple, what, where).items) {
    ints.push_back(expect_int(item, what + " element", where));
  }
  return ints;
}

at::ScalarType storage_dtype(const PickleRef& type, const std::string& what, const std::string& where) {
  for (const StorageType& known : kStorageTypes) {
    if (is_global(*type, "torch", known.name)) return known.dtype;
  }
  fail(where, what + " has an unsupported storage type");
}

std::string parse_storage(const PickleRef& value, std::size_t pid_size, StateDictSpec& spec,
                          const std::string& what, const std::string& where) {
  const PickleValue& id = expect_kind(value, Kind::PersistentId, what + " storage", where);
  const auto& pid = expect_kind(id.items[0], Kind::Tuple, what + " persistent id", where).items;
  check(pid.size() == pid_size, where,
        what + " persistent id has " + std::to_string(pid.size()) + " fields, expected " + std::to_string(pid_size));
  check(pid[0]->kind == Kind::String && pid[0]->text == "storage", where, what + " persistent id is not a storage");
  at::ScalarType dtype = storage_dtype(pid[1], what, where);
  std::string key = expect_kind(pid[2], Kind::String, what + " storage key", where).text;
  expect_kind(pid[3], Kind::String, what + " storage location", where);
  std::int64_t numel = expect_int(pid[4], what + " storage size", where);
  check(pid_size == kZipPidSize || pid[5]->kind == Kind::None, where,
        what + " uses a storage view (view_metadata), which is not supported");
  auto [it, inserted] = spec.storages.emplace(key, StorageSpec{dtype, numel});
  check(inserted || (it->second.dtype == dtype && it->second.numel == numel), where,
        "storage " + quote(key) + " is used with two different types or sizes");
  return key;
}

TensorSpec parse_tensor(const PickleRef& value, const std::string& name, std::size_t pid_size, StateDictSpec& spec,
                        const std::string& where) {
  const std::string what = "tensor " + quote(name);
  const PickleValue* call = &expect_kind(value, Kind::Call, what, where);
  if (is_global(*call->callable, "torch._utils", "_rebuild_parameter")) {
    check(call->args->items.size() == 3, where, what + ": _rebuild_parameter takes 3 arguments");
    call = &expect_kind(call->args->items[0], Kind::Call, what + " data", where);
  }
  check(is_global(*call->callable, "torch._utils", "_rebuild_tensor_v2"), where,
        what + " is not built by torch._utils._rebuild_tensor_v2");
  const auto& args = call->args->items;
  check(args.size() == 6 || args.size() == 7, where, what + ": _rebuild_tensor_v2 takes 6 or 7 arguments");
  TensorSpec tensor;
  tensor.name = name;
  tensor.storage_key = parse_storage(args[0], pid_size, spec, what, where);
  tensor.storage_offset = expect_int(args[1], what + " storage offset", where);
  tensor.sizes = expect_ints(args[2], what + " size", where);
  tensor.strides = expect_ints(args[3], what + " stride", where);
  check(tensor.sizes.size() == tensor.strides.size(), where,
        what + " has " + std::to_string(tensor.sizes.size()) + " sizes but " + std::to_string(tensor.strides.size()) +
            " strides");
  return tensor;
}

StateDictSpec parse_state_dict(const PickleRef& root, std::size_t pid_size, const std::string& where) {
  bool ordered_dict = root->kind == Kind::Call && is_global(*root->callable, "collections", "OrderedDict") &&
                      root->args->items.empty() && root->items.empty();
  check(root->kind == Kind::Dict || ordered_dict, where,
        std::string("the root is a ") + pickle_kind_name(root->kind) + ", not a dict of tensors");
  StateDictSpec spec;
  std::set<std::string> names;
  for (const auto& [key, value] : root->entries) {
    const std::string& name = expect_kind(key, Kind::String, "a state dict key", where).text;
    check(names.insert(name).second, where, "key " + quote(name) + " appears twice");
    check(is_utf8(name), where, "key " + quote(name) + " is not valid UTF-8");
    spec.tensors.push_back(parse_tensor(value, name, pid_size, spec, where));
  }
  return spec;
}

std::string limit_text() { return "the limit of " + std::to_string(kMaxTorchTensorBytes) + " bytes (kMaxTorchTensorBytes)"; }

std::int64_t storage_bytes(const StorageSpec& storage, const std::string& key, const std::string& where) {
  std::int64_t bytes = 0;
  check(!__builtin_mul_overflow(storage.numel, static_cast<std::int64_t>(c10::elementSize(storage.dtype)), &bytes),
        where, "storage " + quote(key) + " is too large");
  check(static_cast<std::uint64_t>(bytes) <= kMaxTorchTensorBytes, where,
        "storage " + quote(key) + " holds " + std::to_string(bytes) + " bytes, more than " + limit_text());
  return bytes;
}

at::Tensor make_storage(const StorageSpec& storage, const char* bytes, const std::string& key,
                        const std::string& where) {
  std::int64_t size = storage_bytes(storage, key, where);
  check(storage.dtype != at::kBool || std::all_of(bytes, bytes + size, [](char b) { return b == 0 || b == 1; }),
        where, "bool storage " + quote(key) + " holds a byte other than 0 and 1");
  at::Tensor tensor = at::empty({storage.numel}, at::TensorOptions().dtype(storage.dtype));
  if (size > 0) std::memcpy(tensor.data_ptr(), bytes, static_cast<std::size_t>(size));
  return tensor;
}

void check_view(const TensorSpec& tensor, std::int64_t storage_numel, at::ScalarType dtype, const std::string& where) {
  bool empty = std::count(tensor.sizes.begin(), tensor.sizes.end(), 0) > 0;
  std::int64_t numel = 1;
  std::int64_t last = tensor.storage_offset;
  bool overflow = false;
  for (std::size_t i = 0; i < tensor.sizes.size(); ++i) {
    std::int64_t step = 0;
    overflow = overflow || __builtin_mul_overflow(numel, tensor.sizes[i], &numel);
    overflow = overflow || (!empty && (__builtin_mul_overflow(tensor.sizes[i] - 1, tensor.strides[i], &step) ||
                                        __builtin_add_overflow(last, step, &last)));
  }
  std::int64_t bytes = 0;
  overflow = overflow || __builtin_mul_overflow(numel, static_cast<std::int64_t>(c10::elementSize(dtype)), &bytes);
  check(!overflow, where, "tensor " + quote(tensor.name) + " has a size or stride that overflows");
  check(static_cast<std::uint64_t>(bytes) <= kMaxTorchTensorBytes, where,
        "tensor " + quote(tensor.name) + " has " + std::to_string(numel) + " elements (" + std::to_string(bytes) +
            " bytes once materialised), more than " + limit_text());
  check(empty ? tensor.storage_offset <= storage_numel : last < storage_numel, where,
        "tensor " + quote(tensor.name) + " reaches element " + std::to_string(last) + " of storage '" +
            tensor.storage_key + "', which holds " + std::to_string(storage_numel) + " elements");
}

TensorMap build_tensors(const StateDictSpec& spec, const std::map<std::string, at::Tensor>& storages,
                        const std::string& where) {
  TensorMap tensors;
  for (const TensorSpec& tensor : spec.tensors) {
    const at::Tensor& storage = storages.at(tensor.storage_key);
    check_view(tensor, storage.numel(), storage.scalar_type(), where);
    tensors.emplace(tensor.name, storage.as_strided(tensor.sizes, tensor.strides, tensor.storage_offset));
  }
  return tensors;
}

std::string read_head(const std::string& path, std::size_t size) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes(size, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  bytes.resize(static_cast<std::size_t>(std::max<std::streamsize>(in.gcount(), 0)));
  return bytes;
}

bool is_zip_head(const std::string& head) { return head.rfind("PK\x03\x04", 0) == 0; }

bool is_pickle_head(const std::string& head) {
  return head.size() >= 2 && head[0] == '\x80' && head[1] >= 2 && head[1] <= 5;
}

std::string archive_folder(const ZipArchive& zip) {
  std::vector<std::string> folders;
  for (const auto& [name, entry] : zip.entries) {
    std::size_t slash = name.find('/');
    if (slash != std::string::npos && name.compare(slash, std::string::npos, "/data.pkl") == 0) {
      folders.push_back(name.substr(0, slash + 1));
    }
  }
  check(folders.size() == 1, zip.where,
        folders.empty() ? "no <archive>/data.pkl record" : "several <archive>/data.pkl records");
  return folders[0];
}

TensorMap read_zip_state_dict(const std::string& path, const std::string& where) {
  ZipArchive zip = read_zip_archive(path, where);
  std::string folder = archive_folder(zip);
  const std::string byteorder = folder + "byteorder";
  if (zip.entries.count(byteorder) == 1) {
    const std::string order = read_zip_entry(zip, byteorder);
    check(order == "little", where,
          "record " + quote(byteorder) + " says " + json_excerpt(order) +
              ", not \"little\" (big-endian files are not supported)");
  }
  std::string pickle = read_zip_entry(zip, folder + "data.pkl");
  std::size_t offset = 0;
  PickleRef root = unpickle(pickle, offset, state_dict_globals(), where + ": " + folder + "data.pkl");
  StateDictSpec spec = parse_state_dict(root, kZipPidSize, where);
  std::map<std::string, at::Tensor> storages;
  for (const auto& [key, storage] : spec.storages) {
    std::string record = folder + "data/" + key;
    check(zip.entries.count(record) == 1, where, "storage record " + quote(record) + " is missing");
    std::int64_t expected = storage_bytes(storage, key, where);
    std::string bytes = read_zip_entry(zip, record);
    check(static_cast<std::int64_t>(bytes.size()) == expected, where,
          "storage record " + quote(record) + " holds " + std::to_string(bytes.size()) + " bytes, expected " +
              std::to_string(expected));
    storages.emplace(key, make_storage(storage, bytes.data(), key, where));
  }
  return build_tensors(spec, storages, where);
}

bool little_endian(const PickleRef& sys_info) {
  for (const auto& [key, value] : sys_info->entries) {
    if (key->kind == Kind::String && key->text == "little_endian") return value->kind == Kind::Bool && value->boolean;
  }
  return false;
}

TensorMap read_legacy_state_dict(const std::string& path, const std::string& where) {
  const std::shared_ptr<const MappedFile> mapped = MappedFile::open(path, where);
  const std::string_view file = mapped->bytes();
  std::size_t offset = 0;
  PickleRef magic = unpickle(file, offset, {}, where);
  check(magic->kind == Kind::BigInt && magic->text == kLegacyMagic, where,
        "not a torch.save file (wrong magic number)");
  PickleRef protocol = unpickle(file, offset, {}, where);
  check(protocol->kind == Kind::Int && protocol->integer == kLegacyProtocol, where,
        "unsupported legacy protocol version (expected 1001)");
  PickleRef sys_info = unpickle(file, offset, {}, where);
  check(sys_info->kind == Kind::Dict && little_endian(sys_info), where,
        "sys_info does not say little_endian: True (big-endian files are not supported)");
  PickleRef root = unpickle(file, offset, state_dict_globals(), where);
  StateDictSpec spec = parse_state_dict(root, kLegacyPidSize, where);
  PickleRef keys = unpickle(file, offset, {}, where);
  std::map<std::string, at::Tensor> storages;
  for (const PickleRef& item : expect_kind(keys, Kind::List, "the storage key list", where).items) {
    const std::string& key = expect_kind(item, Kind::String, "a storage key", where).text;
    auto it = spec.storages.find(key);
    check(it != spec.storages.end(), where, "storage " + quote(key) + " is listed but no tensor uses it");
    check(storages.count(key) == 0, where, "storage " + quote(key) + " is listed twice");
    check(file.size() - offset >= 8, where, "storage " + quote(key) + " is truncated");
    std::uint64_t count = 0;
    for (int i = 7; i >= 0; --i) count = count << 8 | static_cast<unsigned char>(file[offset + i]);
    offset += 8;
    check(count == static_cast<std::uint64_t>(it->second.numel), where,
          "storage " + quote(key) + " holds " + std::to_string(count) + " elements, the pickle says " +
              std::to_string(it->second.numel));
    std::int64_t size = storage_bytes(it->second, key, where);
    check(static_cast<std::uint64_t>(size) <= file.size() - offset, where, "storage " + quote(key) + " is truncated");
    storages.emplace(key, make_storage(it->second, file.data() + offset, key, where));
    offset += static_cast<std::size_t>(size);
  }
  for (const auto& [key, storage] : spec.storages) {
    check(storages.count(key) == 1, where, "storage record " + quote(key) + " is missing");
  }
  return build_tensors(spec, storages, where);
}

}  // namespace

TensorMap read_torch_state_dict(const std::string& path) {
  const std::string where = "read_torch_state_dict: " + path;
  check(std::filesystem::is_regular_file(path_status(path, where)), where, "not a regular file");
  std::string head = read_head(path, 4);
  if (is_zip_head(head)) return read_zip_state_dict(path, where);
  check(is_pickle_head(head), where, "neither a zip archive nor a legacy torch.save pickle");
  return read_legacy_state_dict(path, where);
}

bool looks_like_torch_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  std::string head = read_head(path, 4);
  return is_zip_head(head) || is_pickle_head(head);
}

}  // namespace circuitcheck

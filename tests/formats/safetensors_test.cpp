#include "circuits/formats/safetensors.h"

#include "circuits/formats/error.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace circuitcheck {
namespace {

using testing_util::fixture;
using testing_util::read_file;
using testing_util::scratch_dir;
using testing_util::write_file;

const std::map<std::string, at::ScalarType>& supported_dtypes() {
  static const std::map<std::string, at::ScalarType> dtypes = {
      {"F32", at::kFloat}, {"F16", at::kHalf}, {"BF16", at::kBFloat16}, {"F64", at::kDouble},
      {"I64", at::kLong},  {"I32", at::kInt},  {"U8", at::kByte},       {"BOOL", at::kBool},
  };
  return dtypes;
}

std::string le64(std::uint64_t value) {
  std::string bytes;
  for (int i = 0; i < 8; ++i) bytes += static_cast<char>((value >> (8 * i)) & 0xff);
  return bytes;
}

std::uint64_t header_size_of(const std::string& file) {
  std::uint64_t size = 0;
  for (int i = 7; i >= 0; --i) size = (size << 8) | static_cast<unsigned char>(file[i]);
  return size;
}

// A safetensors file: the header length, `header` as given, then `data`.
std::string with_header(const std::string& header, const std::string& data = "") {
  return le64(header.size()) + header + data;
}

// The bytes of a tensor in C order.
std::string raw_bytes(const at::Tensor& tensor) {
  const at::Tensor contiguous = tensor.contiguous();
  if (contiguous.nbytes() == 0) return {};
  return {static_cast<const char*>(contiguous.data_ptr()), contiguous.nbytes()};
}

// Runs `action` and expects an InputError whose message contains `expected`.
void expect_input_error(const std::function<void()>& action, const std::string& expected) {
  try {
    action();
    ADD_FAILURE() << "no InputError; expected one containing: " << expected;
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << expected;
  }
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> golden_files() {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(testing_util::shared_dir() + "/fixtures")) {
    if (entry.path().extension() == ".safetensors") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(SafetensorsGoldenTest, EveryGoldenMatchesItsOwnHeader) {
  const std::vector<std::string> files = golden_files();
  ASSERT_GE(files.size(), 25u);
  for (const auto& path : files) {
    SCOPED_TRACE(path);
    const std::string bytes = read_file(path);
    const std::uint64_t header_size = header_size_of(bytes);
    const auto header = nlohmann::json::parse(bytes.substr(8, header_size));
    const std::string data = bytes.substr(8 + header_size);
    const Safetensors file = read_safetensors(path);

    EXPECT_EQ(file.metadata, header.value("__metadata__", nlohmann::json::object()).get<Metadata>());
    EXPECT_FALSE(file.metadata.empty());
    std::size_t tensor_count = 0;
    for (const auto& [name, entry] : header.items()) {
      if (name == "__metadata__") continue;
      ++tensor_count;
      SCOPED_TRACE(name);
      ASSERT_EQ(file.tensors.count(name), 1u);
      const at::Tensor& tensor = file.tensors.at(name);
      EXPECT_EQ(tensor.scalar_type(), supported_dtypes().at(entry.at("dtype").get<std::string>()));
      EXPECT_EQ(tensor.sizes().vec(), entry.at("shape").get<std::vector<std::int64_t>>());
      EXPECT_TRUE(tensor.device().is_cpu());
      EXPECT_TRUE(tensor.is_contiguous());
      const auto offsets = entry.at("data_offsets").get<std::vector<std::size_t>>();
      EXPECT_EQ(raw_bytes(tensor), data.substr(offsets[0], offsets[1] - offsets[0]));
    }
    EXPECT_EQ(file.tensors.size(), tensor_count);
  }
}

TEST(SafetensorsGoldenTest, ArrayIndexTokensAndLogits) {
  const Safetensors golden = read_safetensors(fixture("tl/array_index/golden.safetensors"));
  const at::Tensor& tokens = golden.tensors.at("tokens");
  const at::Tensor& logits = golden.tensors.at("logits");
  EXPECT_EQ(tokens.scalar_type(), at::kLong);
  EXPECT_EQ(tokens.sizes().vec(), (std::vector<std::int64_t>{4, 11}));
  EXPECT_EQ(logits.scalar_type(), at::kFloat);
  EXPECT_EQ(logits.sizes().vec(), (std::vector<std::int64_t>{4, 11, 50}));
  EXPECT_GE(tokens.min().item<std::int64_t>(), 0);
  EXPECT_LT(tokens.max().item<std::int64_t>(), 52);
  EXPECT_TRUE(logits.isfinite().all().item<bool>());
  EXPECT_EQ(golden.metadata.at("fixture"), "tl/array_index");
  EXPECT_EQ(golden.metadata.at("batch"), "4");
  EXPECT_EQ(golden.metadata.at("pos"), "11");
}

TEST(SafetensorsReadTest, AcceptsHandWrittenScalarZeroSizeAndPaddedHeader) {
  const std::string path = scratch_dir("SafetensorsReadTest_HandWritten") + "/hand.safetensors";
  const float one = 1.0f;
  const std::int64_t answer = 42;
  std::string data(reinterpret_cast<const char*>(&one), 4);
  data.append(reinterpret_cast<const char*>(&answer), 8);
  write_file(path, with_header(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                               R"("s":{"dtype":"I64","shape":[],"data_offsets":[4,12]},)"
                               R"("e":{"dtype":"F32","shape":[0,3],"data_offsets":[2,2]},)"
                               R"("__metadata__":{"k":"v"}}   )",
                               data));
  const Safetensors file = read_safetensors(path);
  EXPECT_EQ(file.tensors.at("x").item<float>(), 1.0f);
  EXPECT_EQ(file.tensors.at("s").dim(), 0);
  EXPECT_EQ(file.tensors.at("s").item<std::int64_t>(), 42);
  EXPECT_EQ(file.tensors.at("e").sizes().vec(), (std::vector<std::int64_t>{0, 3}));
  EXPECT_EQ(file.metadata, (Metadata{{"k", "v"}}));
}

TEST(SafetensorsReadTest, MissingFileAndDirectoryAreInputErrors) {
  const std::string dir = scratch_dir("SafetensorsReadTest_MissingAndDirectory");
  expect_input_error([&] { read_safetensors(dir + "/absent.safetensors"); },
                     "read_safetensors: " + dir + "/absent.safetensors: file: does not exist");
  expect_input_error([&] { read_safetensors(dir); }, "read_safetensors: " + dir + ": file: not a regular file");
}

// VmRSS of this process, in bytes.
std::int64_t resident_bytes() {
  const std::string status = read_file("/proc/self/status");
  const std::size_t at = status.find("VmRSS:");
  return at == std::string::npos ? 0 : std::stoll(status.substr(at + 6)) * 1024;
}

// A header declaring one F32 tensor of 64 GiB, followed by 64 GiB of holes
// (ftruncate: no disk used): the reader maps the file instead of reading it,
// so its memory does not grow; a read of the last element touches one page.
TEST(SafetensorsReadTest, A64GiBSparseFileIsMappedNotRead) {
  const std::string dir = scratch_dir("SafetensorsReadTest_Sparse64GiB");
  const std::uint64_t elements = std::uint64_t{1} << 34;
  const std::string path = dir + "/sparse.safetensors";
  std::string header = R"({"x":{"dtype":"F32","shape":[)" + std::to_string(elements) + R"(],"data_offsets":[0,)" +
                       std::to_string(elements * 4) + "]}}";
  header.append((8 - header.size() % 8) % 8, ' ');  // as writers pad it: the data is aligned, so mapped
  write_file(path, with_header(header));
  std::filesystem::resize_file(path, 8 + header.size() + elements * 4);
  const std::int64_t before = resident_bytes();
  const Safetensors file = read_safetensors(path);
  const at::Tensor& x = file.tensors.at("x");
  EXPECT_EQ(x.numel(), static_cast<std::int64_t>(elements));
  EXPECT_EQ(x[static_cast<std::int64_t>(elements) - 1].item<float>(), 0.0f);
  EXPECT_LT(resident_bytes() - before, std::int64_t{64} << 20);
}

// The same file with a header one byte longer: its data is not aligned to
// its 4-byte elements, so it would be copied, and 64 GiB is refused before it
// is allocated (before, the whole data section was always allocated and read).
TEST(SafetensorsReadTest, A64GiBUnalignedSparseTensorIsRefusedBeforeCopying) {
  const std::string dir = scratch_dir("SafetensorsReadTest_Sparse64GiBUnaligned");
  const std::uint64_t elements = std::uint64_t{1} << 34;
  const std::string path = dir + "/sparse.safetensors";
  std::string header = R"({"x":{"dtype":"F32","shape":[)" + std::to_string(elements) + R"(],"data_offsets":[0,)" +
                       std::to_string(elements * 4) + "]}}";
  header.append((8 - header.size() % 8) % 8 + 1, ' ');
  write_file(path, with_header(header));
  std::filesystem::resize_file(path, 8 + header.size() + elements * 4);
  expect_input_error([&] { read_safetensors(path); },
                     "read_safetensors: " + path + ": x: data_offsets: byte " + std::to_string(8 + header.size()) +
                         " of the file is not a multiple of the 4-byte element size, so the data would be copied: "
                         "68719476736 bytes, more than the limit of 4294967296 bytes");
}

// A mapped tensor is the file's memory copy-on-write: writing to it leaves the file as it was.
TEST(SafetensorsReadTest, WritingToAMappedTensorLeavesTheFile) {
  const std::string path = scratch_dir("SafetensorsReadTest_CopyOnWrite") + "/m.safetensors";
  write_safetensors(path, {{"x", at::ones({4})}});
  Safetensors file = read_safetensors(path);
  file.tensors.at("x").zero_();
  EXPECT_TRUE(at::equal(read_safetensors(path).tensors.at("x"), at::ones({4})));
}

struct BadFile {
  std::string name;
  std::string bytes;
  std::string expected;  // "<field>: <what is wrong>", after "read_safetensors: <path>: "
};

// Names the case in test listings (ctest) instead of a byte dump.
void PrintTo(const BadFile& c, std::ostream* os) { *os << c.name; }

std::string entry_x(const std::string& fields, const std::string& data = std::string(4, '\0')) {
  return with_header(R"({"x":{)" + fields + "}}", data);
}

// x, one F32 at [0, 4): its header, that header padded with spaces, and its four zero data bytes.
const std::string x_header = R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
const std::string x_padded = x_header + "   ";
const std::string x_data(4, '\0');

const std::vector<BadFile>& bad_files() {
  const std::string f32_one = R"("dtype":"F32","shape":[1],)";
  const std::string two_floats_at = R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                    R"("y":{"dtype":"F32","shape":[1],"data_offsets":)";
  static const std::vector<BadFile> cases = {
      {"empty", "", "header length: file has 0 bytes"},
      {"shorter_than_length", std::string("\x02\x00\x00", 3), "header length: file has 3 bytes"},
      {"length_absurd", le64(200'000'000) + "{}", "header length: 200000000 bytes exceeds the limit"},
      {"length_u64_max", le64(std::numeric_limits<std::uint64_t>::max()) + "{}",
       "header length: 18446744073709551615 bytes exceeds the limit"},
      {"length_past_end", le64(100'000) + "{}      ", "header length: 100000 bytes runs past the end"},
      {"length_one_past_end", le64(9) + "{}      ", "header length: 9 bytes runs past the end"},
      {"header_empty", le64(0), "header: not valid JSON"},
      {"header_truncated", with_header(R"({"x":)"), "header: not valid JSON"},
      {"header_trailing_garbage", with_header("{} x"), "header: not valid JSON"},
      {"header_bad_utf8", with_header("{\"\xff\":1}"), "header: not valid JSON"},
      {"header_array", with_header("[1,2]"), "header: not a JSON object"},
      {"header_deeply_nested", with_header(std::string(100000, '[') + std::string(100000, ']')),
       "header: nested deeper than 128 levels"},
      {"shape_deeply_nested",
       entry_x(R"("dtype":"F32","shape":[4294967296,4294967296,)" + std::string(5000, '[') + std::string(5000, ']') +
               R"(],"data_offsets":[0,4])"),
       "header: nested deeper than 128 levels"},
      {"shape_nested", entry_x(R"("dtype":"F32","shape":[[1]],"data_offsets":[0,4])"),
       "x: shape: [1] is not a non-negative integer"},
      {"entry_not_object", with_header(R"({"x":[1]})"), "x: not a JSON object"},
      {"dtype_missing", entry_x(R"("shape":[1],"data_offsets":[0,4])"), "x: dtype: missing"},
      {"dtype_not_string", entry_x(R"("dtype":7,"shape":[1],"data_offsets":[0,4])"), "x: dtype: not a string"},
      {"dtype_unknown", entry_x(R"("dtype":"I16","shape":[1],"data_offsets":[0,4])"),
       R"(x: dtype: unknown dtype "I16")"},
      {"dtype_lower_case", entry_x(R"("dtype":"f32","shape":[1],"data_offsets":[0,4])"),
       R"(x: dtype: unknown dtype "f32")"},
      {"shape_missing", entry_x(R"("dtype":"F32","data_offsets":[0,4])"), "x: shape: missing"},
      {"shape_not_array", entry_x(R"("dtype":"F32","shape":1,"data_offsets":[0,4])"), "x: shape: not an array"},
      {"shape_negative", entry_x(R"("dtype":"F32","shape":[-1],"data_offsets":[0,4])"),
       "x: shape: -1 is not a non-negative integer"},
      {"shape_fraction", entry_x(R"("dtype":"F32","shape":[1.5],"data_offsets":[0,4])"),
       "x: shape: 1.5 is not a non-negative integer"},
      {"shape_float", entry_x(R"("dtype":"F32","shape":[1.0],"data_offsets":[0,4])"),
       "x: shape: 1.0 is not a non-negative integer"},
      {"shape_string", entry_x(R"("dtype":"F32","shape":["1"],"data_offsets":[0,4])"),
       R"(x: shape: "1" is not a non-negative integer)"},
      {"shape_beyond_u64", entry_x(R"("dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,4])"),
       "x: shape: 1.8446744073709552e+19 is not a non-negative integer"},
      {"shape_dim_beyond_i64", entry_x(R"("dtype":"U8","shape":[9223372036854775808],"data_offsets":[0,4])"),
       "x: shape: [9223372036854775808] overflows the element count"},
      {"shape_product_overflow",
       entry_x(R"("dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4])"),
       "x: shape: [4294967296,4294967296] overflows the element count"},
      {"shape_overflow_behind_zero",
       entry_x(R"("dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0])"),
       "x: shape: [0,4294967296,4294967296] overflows the element count"},
      {"shape_byte_count_overflow",
       entry_x(R"("dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,4])"),
       "x: shape: [2305843009213693952] of F64 overflows the byte count"},
      {"offsets_missing", entry_x(R"("dtype":"F32","shape":[1])"), "x: data_offsets: missing"},
      {"offsets_string", entry_x(f32_one + R"("data_offsets":"0,4")"),
       R"(x: data_offsets: "0,4" is not two non-negative integers)"},
      {"offsets_one", entry_x(f32_one + R"("data_offsets":[4])"),
       "x: data_offsets: [4] is not two non-negative integers"},
      {"offsets_three", entry_x(f32_one + R"("data_offsets":[0,4,4])"),
       "x: data_offsets: [0,4,4] is not two non-negative integers"},
      {"offsets_negative", entry_x(f32_one + R"("data_offsets":[-4,0])"),
       "x: data_offsets: [-4,0] is not two non-negative integers"},
      {"offsets_float", entry_x(f32_one + R"("data_offsets":[0,4.0])"),
       "x: data_offsets: [0,4.0] is not two non-negative integers"},
      {"offsets_begin_after_end", entry_x(f32_one + R"("data_offsets":[4,0])", std::string(8, '\0')),
       "x: data_offsets: begin 4 > end 0"},
      {"offsets_past_data", entry_x(f32_one + R"("data_offsets":[0,4])", "ab"),
       "x: data_offsets: end 4 lies past the 2-byte data section"},
      {"offsets_u64_max", entry_x(f32_one + R"("data_offsets":[0,18446744073709551615])"),
       "x: data_offsets: end 18446744073709551615 lies past the 4-byte data section"},
      {"offsets_wrong_span", entry_x(R"("dtype":"F32","shape":[2],"data_offsets":[0,4])", std::string(8, '\0')),
       "x: data_offsets: span 4 bytes, but shape [2] of F32 needs 8"},
      {"offsets_overlap",
       with_header(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                   R"("y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                   std::string(12, '\0')),
       "y: data_offsets: [4, 12) overlaps x [0, 8)"},
      {"offsets_same_range",
       with_header(R"({"x":{"dtype":"I32","shape":[1],"data_offsets":[0,4]},)"
                   R"("y":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})",
                   std::string(4, '\0')),
       "y: data_offsets: [0, 4) overlaps x [0, 4)"},
      {"metadata_not_object", with_header(R"({"__metadata__":["a"]})"), "__metadata__: not a JSON object"},
      {"metadata_number", with_header(R"({"__metadata__":{"k":1}})"), "__metadata__: k: not a string"},
      {"metadata_null", with_header(R"({"__metadata__":{"a":"b","k":null}})"), "__metadata__: k: not a string"},
      {"bool_byte_two", entry_x(R"("dtype":"BOOL","shape":[2],"data_offsets":[0,2])", "\x01\x02"),
       "x: BOOL data holds a byte other than 0 or 1"},
      // The tensors must cover the data section exactly: a header length off by one, bytes slipped
      // into the header or appended to the data leave bytes that no tensor claims (and shift the tensors).
      {"length_one_short", le64(x_padded.size() - 1) + x_padded + x_data,
       "data: bytes [4, 5) of the data section belong to no tensor"},
      {"length_one_long", le64(x_padded.size() + 1) + x_padded + x_data,
       "header: holds a NUL byte at byte " + std::to_string(x_padded.size())},
      {"bytes_inserted_into_header", le64(x_padded.size()) + "  " + x_padded + x_data,
       "data: bytes [4, 6) of the data section belong to no tensor"},
      {"header_nul_then_garbage", with_header(x_header + std::string("\0{\"y\":", 6), x_data),
       "header: holds a NUL byte at byte " + std::to_string(x_header.size())},
      {"header_trailing_letters", with_header(x_header + " junk", x_data), "header: not valid JSON"},
      {"trailing_bytes_after_data", with_header(x_padded, x_data + "junk"),
       "data: bytes [4, 8) of the data section belong to no tensor"},
      {"data_but_no_tensor", with_header("{}", "junk"), "data: bytes [0, 4) of the data section belong to no tensor"},
      {"gap_before_the_first_tensor", entry_x(f32_one + R"("data_offsets":[4,8])", std::string(8, '\0')),
       "x: data_offsets: [4, 8) leaves a gap: bytes [0, 4) of the data section belong to no tensor"},
      {"gap_between_tensors", with_header(two_floats_at + "[8,12]}}", std::string(12, '\0')),
       "y: data_offsets: [8, 12) leaves a gap: bytes [4, 8) of the data section belong to no tensor"},
      {"duplicate_tensor_name",
       with_header(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                   R"("x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                   std::string(8, '\0')),
       R"(header: /x: key "x" appears twice)"},
      {"duplicate_field", entry_x(R"("dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4])"),
       R"(header: /x/dtype: key "dtype" appears twice)"},
      {"duplicate_metadata_key", with_header(R"({"__metadata__":{"k":"a","k":"b"}})"),
       R"(header: /__metadata__/k: key "k" appears twice)"},
  };
  return cases;
}

class SafetensorsBadInput : public testing::TestWithParam<BadFile> {};

TEST_P(SafetensorsBadInput, IsAnInputErrorNamingPathAndField) {
  const BadFile& bad = GetParam();
  const std::string path = scratch_dir("SafetensorsBadInput_" + bad.name) + "/bad.safetensors";
  write_file(path, bad.bytes);
  expect_input_error([&] { read_safetensors(path); }, "read_safetensors: " + path + ": " + bad.expected);
}

INSTANTIATE_TEST_SUITE_P(, SafetensorsBadInput, testing::ValuesIn(bad_files()),
                         [](const testing::TestParamInfo<BadFile>& info) { return info.param.name; });

TEST(SafetensorsReadTest, WhitespaceMayFollowTheHeaderObject) {
  const std::string path = scratch_dir("SafetensorsReadTest_Whitespace") + "/padded.safetensors";
  write_file(path, with_header(x_header + " \n\t\r  ", x_data));
  EXPECT_EQ(read_safetensors(path).tensors.at("x").item<float>(), 0.0f);
}

// A file of `count` one-element F32 tensors "t<i>" holding i, back to back, written by hand.
std::string many_tensors(int count) {
  std::string header = "{", data;
  for (int i = 0; i < count; ++i) {
    header += (i == 0 ? "\"t" : ",\"t") + std::to_string(i) + R"(":{"dtype":"F32","shape":[1],"data_offsets":[)" +
              std::to_string(4 * i) + "," + std::to_string(4 * i + 4) + "]}";
    const float value = static_cast<float>(i);
    data.append(reinterpret_cast<const char*>(&value), sizeof value);
  }
  return with_header(header + R"(,"__metadata__":{"k":"v"}})", data);
}

TEST(SafetensorsReadTest, ManyTensorsBelowTheLimitLoad) {
  const std::string path = scratch_dir("SafetensorsReadTest_Many") + "/many.safetensors";
  write_file(path, many_tensors(20'000));
  const Safetensors file = read_safetensors(path);
  ASSERT_EQ(file.tensors.size(), 20'000u);
  for (int i : {0, 1, 9'999, 19'999}) EXPECT_EQ(file.tensors.at("t" + std::to_string(i)).item<float>(), i);
}

TEST(SafetensorsReadTest, MoreTensorsThanTheLimitAreRefusedNamingIt) {
  const std::string dir = scratch_dir("SafetensorsReadTest_Limit");
  write_file(dir + "/three.safetensors", many_tensors(3));
  expect_input_error([&] { read_safetensors(dir + "/three.safetensors", 2); },
                     "read_safetensors: " + dir + "/three.safetensors: header: 3 tensors exceed the limit of 2 "
                     "tensors per file");
  EXPECT_EQ(read_safetensors(dir + "/three.safetensors", 3).tensors.size(), 3u);  // __metadata__ is no tensor

  write_file(dir + "/many.safetensors", many_tensors(200'000));
  expect_input_error([&] { read_safetensors(dir + "/many.safetensors"); },
                     "header: 200000 tensors exceed the limit of " + std::to_string(kMaxSafetensorsTensors));
}

TEST(SafetensorsWriteTest, LayoutIsSortedBackToBackWithPaddedHeader) {
  const std::string dir = scratch_dir("SafetensorsWriteTest_Layout");
  const TensorMap tensors = {
      {"b", at::arange(2, at::kFloat)},
      {"a", at::arange(3, at::kLong)},
      {"c", at::zeros({0, 2}, at::kByte)},
  };
  write_safetensors(dir + "/plain.safetensors", tensors);
  const std::string bytes = read_file(dir + "/plain.safetensors");
  const std::uint64_t header_size = header_size_of(bytes);
  EXPECT_EQ(header_size % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + header_size + 24 + 8);
  const std::string header_text = bytes.substr(8, header_size);
  const std::size_t json_end = header_text.find_last_not_of(' ') + 1;
  EXPECT_LT(header_text.size() - json_end, 8u);
  const auto header = nlohmann::json::parse(header_text);
  EXPECT_FALSE(header.contains("__metadata__"));
  EXPECT_EQ(header["a"]["data_offsets"], nlohmann::json({0, 24}));
  EXPECT_EQ(header["b"]["data_offsets"], nlohmann::json({24, 32}));
  EXPECT_EQ(header["c"]["data_offsets"], nlohmann::json({32, 32}));
  EXPECT_EQ(header["c"]["shape"], nlohmann::json({0, 2}));
  EXPECT_EQ(header["a"]["dtype"], "I64");
  EXPECT_EQ(bytes.substr(8 + header_size), raw_bytes(tensors.at("a")) + raw_bytes(tensors.at("b")));

  write_safetensors(dir + "/with_metadata.safetensors", tensors, {{"k", "v"}});
  const std::string with_metadata = read_file(dir + "/with_metadata.safetensors");
  const auto header2 = nlohmann::json::parse(with_metadata.substr(8, header_size_of(with_metadata)));
  EXPECT_EQ(header2["__metadata__"], nlohmann::json({{"k", "v"}}));
}

TEST(SafetensorsWriteTest, LargeTensorRoundTrips) {
  const std::string path = scratch_dir("SafetensorsWriteTest_Large") + "/large.safetensors";
  const at::Tensor big = at::randn({4096, 2048});
  write_safetensors(path, {{"big", big}});
  const Safetensors file = read_safetensors(path);
  EXPECT_TRUE(at::equal(file.tensors.at("big"), big));
}

TEST(SafetensorsWriteTest, ReplacesExistingTargetWholeAndLeavesNoTempFile) {
  const std::string dir = scratch_dir("SafetensorsWriteTest_Atomic");
  const std::string path = dir + "/out.safetensors";
  write_file(path, std::string(1 << 20, 'x'));
  write_safetensors(path, {{"big", at::ones({1000})}}, {{"run", "1"}});
  const TensorMap small = {{"small", at::arange(3, at::kInt)}};
  write_safetensors(path, small);
  const Safetensors file = read_safetensors(path);
  EXPECT_EQ(file.tensors.size(), 1u);
  EXPECT_TRUE(at::equal(file.tensors.at("small"), small.at("small")));
  EXPECT_TRUE(file.metadata.empty());
  const std::string bytes = read_file(path);
  EXPECT_EQ(bytes.size(), 8 + header_size_of(bytes) + 12);
  EXPECT_EQ(files_in(dir), std::vector<std::string>{"out.safetensors"});
}

TEST(SafetensorsWriteTest, FailuresAreInputErrorsAndLeaveNoTempFile) {
  struct Case {
    std::string name;
    std::string target;
    TensorMap tensors;
    Metadata metadata;
    std::string expected;  // after "write_safetensors: <path>: "
  };
  const TensorMap one = {{"x", at::ones({2})}};
  const std::vector<Case> cases = {
      {"missing_folder", "missing/out.safetensors", one, {}, "file: cannot create the temporary file"},
      {"target_is_folder", "folder", one, {}, "is a folder; refusing to replace it"},
      {"unsupported_dtype", "out.safetensors", {{"x", at::ones({2}, at::kShort)}}, {}, "x: unsupported dtype Short"},
      {"undefined_tensor", "out.safetensors", {{"x", at::Tensor()}}, {}, "x: undefined tensor"},
      {"reserved_name", "out.safetensors", {{"__metadata__", at::ones({2})}}, {}, "__metadata__: reserved name"},
      {"metadata_not_utf8", "out.safetensors", one, {{"k", "\xff"}}, "header: tensor names and metadata"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string dir = scratch_dir("SafetensorsWriteTest_Failures_" + c.name);
    std::filesystem::create_directory(dir + "/folder");
    const std::string path = dir + "/" + c.target;
    expect_input_error([&] { write_safetensors(path, c.tensors, c.metadata); },
                       "write_safetensors: " + path + ": " + c.expected);
    EXPECT_EQ(files_in(dir), std::vector<std::string>{"folder"});
  }
}

std::string random_text() {
  static const std::vector<std::string> pieces = {"a",  "Z",  "7",    ".", " ",    "\"",
                                                  "\\", "\n", "\x01", "é", "日本", "🙂"};
  std::string text;
  for (const auto& piece : *rc::gen::container<std::vector<std::string>>(rc::gen::elementOf(pieces))) text += piece;
  return text;
}

at::Tensor random_tensor() {
  std::vector<at::ScalarType> dtypes;
  for (const auto& [name, dtype] : supported_dtypes()) dtypes.push_back(dtype);
  const auto dtype = *rc::gen::elementOf(dtypes);
  const auto rank = *rc::gen::inRange<std::size_t>(0, 5);
  const auto shape = *rc::gen::container<std::vector<std::int64_t>>(rank, rc::gen::inRange<std::int64_t>(0, 5));
  at::Tensor tensor = at::empty(shape, at::TensorOptions().dtype(dtype));
  const std::size_t size = tensor.nbytes();
  const auto bytes = dtype == at::kBool
                         ? *rc::gen::container<std::vector<std::uint8_t>>(size, rc::gen::inRange<std::uint8_t>(0, 2))
                         : *rc::gen::container<std::vector<std::uint8_t>>(size, rc::gen::arbitrary<std::uint8_t>());
  std::copy(bytes.begin(), bytes.end(), static_cast<std::uint8_t*>(tensor.data_ptr()));
  return rank >= 2 && *rc::gen::arbitrary<bool>() ? tensor.transpose(0, rank - 1) : tensor;
}

RC_GTEST_PROP(SafetensorsProperty, WriteThenReadIsBitExact, ()) {
  static const std::string path = scratch_dir("SafetensorsProperty") + "/roundtrip.safetensors";
  TensorMap tensors;
  const int tensor_count = *rc::gen::inRange(0, 6);
  for (int i = 0; i < tensor_count; ++i) tensors[random_text()] = random_tensor();
  Metadata metadata;
  const int metadata_count = *rc::gen::inRange(0, 4);
  for (int i = 0; i < metadata_count; ++i) metadata[random_text()] = random_text();

  write_safetensors(path, tensors, metadata);
  const Safetensors file = read_safetensors(path);

  RC_ASSERT(file.metadata == metadata);
  RC_ASSERT(file.tensors.size() == tensors.size());
  for (const auto& [name, tensor] : tensors) {
    const auto it = file.tensors.find(name);
    RC_ASSERT(it != file.tensors.end());
    const at::Tensor& back = it->second;
    RC_ASSERT(back.scalar_type() == tensor.scalar_type());
    RC_ASSERT(back.sizes().vec() == tensor.sizes().vec());
    RC_ASSERT(back.is_contiguous());
    RC_ASSERT(back.device().is_cpu());
    RC_ASSERT(raw_bytes(back) == raw_bytes(tensor));
  }
  RC_ASSERT(header_size_of(read_file(path)) % 8 == 0u);
}

}  // namespace
}  // namespace circuitcheck

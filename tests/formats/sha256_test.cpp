#include "circuits/formats/sha256.h"

#include "circuits/formats/error.h"
#include "circuits/formats/safetensors.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace circuitcheck {
namespace {

using testing_util::fixture;
using testing_util::scratch_dir;
using testing_util::write_file;

struct DigestCase {
  std::string name;
  std::string message;
  std::string digest;
};

// Names the case in test listings (ctest) instead of a byte dump.
void PrintTo(const DigestCase& c, std::ostream* os) { *os << c.name; }

// FIPS 180-2 / NIST CAVP examples, then lengths around the 55/56/64-byte padding boundaries
// (digests from Python's hashlib).
const std::vector<DigestCase>& digest_cases() {
  static const std::vector<DigestCase> cases = {
      {"empty", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"bits448", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {"bits896",
       "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
       "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
       "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
      {"million_a", std::string(1000000, 'a'), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
      {"a55", std::string(55, 'a'), "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
      {"a56", std::string(56, 'a'), "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
      {"a63", std::string(63, 'a'), "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
      {"a64", std::string(64, 'a'), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
      {"a65", std::string(65, 'a'), "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
      {"a119", std::string(119, 'a'), "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
      {"a120", std::string(120, 'a'), "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
  };
  return cases;
}

class Sha256Vectors : public testing::TestWithParam<DigestCase> {};

TEST_P(Sha256Vectors, StringPointerAndFileAgree) {
  const DigestCase& c = GetParam();
  EXPECT_EQ(sha256_hex(c.message), c.digest);
  EXPECT_EQ(sha256_hex(c.message.data(), c.message.size()), c.digest);
  const std::string path = scratch_dir("Sha256Vectors_" + c.name) + "/message.bin";
  write_file(path, c.message);
  EXPECT_EQ(sha256_file(path), c.digest);
}

INSTANTIATE_TEST_SUITE_P(, Sha256Vectors, testing::ValuesIn(digest_cases()),
                         [](const testing::TestParamInfo<DigestCase>& info) { return info.param.name; });

TEST(Sha256Test, NullPointerWithZeroSizeIsTheEmptyDigest) {
  EXPECT_EQ(sha256_hex(nullptr, 0), digest_cases().front().digest);
}

TEST(Sha256Test, FileSpanningManyChunksMatchesInMemoryDigest) {
  std::string bytes(3 * 1024 * 1024 + 17, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 2654435761u) >> 13);
  const std::string path = scratch_dir("Sha256Test_ManyChunks") + "/big.bin";
  write_file(path, bytes);
  EXPECT_EQ(sha256_file(path), sha256_hex(bytes));
}

TEST(Sha256Test, FixtureCheckpointMatchesDigestRecordedInGolden) {
  const Safetensors golden = read_safetensors(fixture("tl/modadd/golden.safetensors"));
  EXPECT_EQ(sha256_file(fixture("tl/modadd/model.pt")), golden.metadata.at("model_sha256"));
}

TEST(Sha256Test, MissingFileAndDirectoryAreInputErrorsNamingTheFile) {
  const std::string dir = scratch_dir("Sha256Test_MissingAndDirectory");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {dir + "/absent.bin", "file: does not exist"},
      {dir, "file: is a directory"},
  };
  for (const auto& [path, expected] : cases) {
    try {
      sha256_file(path);
      ADD_FAILURE() << "no InputError for " << path;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("sha256_file: " + path + ": " + expected), std::string::npos) << e.what();
    }
  }
}

RC_GTEST_PROP(Sha256Property, FileDigestIsLowerHexAndMatchesInMemoryDigest, (const std::string& bytes)) {
  static const std::string path = scratch_dir("Sha256Property") + "/random.bin";
  write_file(path, bytes);
  const std::string digest = sha256_hex(bytes);
  RC_ASSERT(digest.size() == 64u);
  RC_ASSERT(digest.find_first_not_of("0123456789abcdef") == std::string::npos);
  RC_ASSERT(sha256_file(path) == digest);
}

}  // namespace
}  // namespace circuitcheck

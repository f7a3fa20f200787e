// Tests of the error helpers: a message is never cut short by a NUL byte, and a
// quoted value is cut to about 100 characters (issue 23, finding 8).
#include "circuits/formats/error.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace circuitcheck {
namespace {

using namespace std::string_literals;

struct QuoteCase {
  std::string name;
  std::string value;
  std::string quoted;   // quote(value)
  std::string excerpt;  // excerpt(value)
};

// Names the case in test listings (ctest) instead of a byte dump.
void PrintTo(const QuoteCase& c, std::ostream* os) { *os << c.name; }

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

const std::vector<QuoteCase>& quote_cases() {
  static const std::vector<QuoteCase> cases = {
      {"empty", "", "''", ""},
      {"short", "bogus", "'bogus'", "bogus"},
      {"nul", "bogus\0tail"s, "'bogus\\0tail'", "bogus\0tail"s},
      {"exactly_100", std::string(100, 'x'), "'" + std::string(100, 'x') + "'", std::string(100, 'x')},
      {"one_megabyte", std::string(1'000'000, 'x'), "'" + std::string(100, 'x') + "...'", std::string(100, 'x') + "..."},
      // 'é' is two bytes: the cut at byte 100 falls inside the 50th and moves before it.
      {"utf8_not_split", "x" + repeat("é", 60), "'x" + repeat("é", 49) + "...'", "x" + repeat("é", 49) + "..."},
      {"nul_after_the_cut", std::string(200, 'x') + '\0', "'" + std::string(100, 'x') + "...'",
       std::string(100, 'x') + "..."},
  };
  return cases;
}

class Quote : public testing::TestWithParam<QuoteCase> {};

TEST_P(Quote, CutsAtAbout100CharactersAndShowsNulBytes) {
  const QuoteCase& c = GetParam();
  EXPECT_EQ(quote(c.value), c.quoted);
  EXPECT_EQ(excerpt(c.value), c.excerpt);
}

INSTANTIATE_TEST_SUITE_P(, Quote, testing::ValuesIn(quote_cases()),
                         [](const testing::TestParamInfo<QuoteCase>& info) { return info.param.name; });

TEST(Fail, ANulByteDoesNotCutTheMessageShort) {
  try {
    fail("find_task: a\0b"s, "unknown system 'x\0y' (valid: s1)"s);
    ADD_FAILURE() << "fail() returned";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "find_task: a\\0b: unknown system 'x\\0y' (valid: s1)");
  }
}

}  // namespace
}  // namespace circuitcheck

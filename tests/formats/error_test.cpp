// Tests of the error helpers: a message is never cut short by a NUL byte, a
// quoted value is cut to about 100 characters (issue 23, finding 8), and bytes
// that are not UTF-8 print as \xNN (issue 23, finding 5); text for a terminal
// line has its control characters escaped too.
#include "circuits/formats/error.h"

#include <gtest/gtest.h>

#include <algorithm>
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
      {"invalid_utf8", "a\xff\xc3(b", "'a\\xff\\xc3(b'", "a\xff\xc3(b"},
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

struct PrintableCase {
  std::string name;
  std::string text;
  bool utf8;              // is_utf8(text)
  std::string printable;  // printable(text)
  std::string terminal;   // terminal_text(text); "" when the same as printable
};

void PrintTo(const PrintableCase& c, std::ostream* os) { *os << c.name; }

const std::vector<PrintableCase>& printable_cases() {
  static const std::vector<PrintableCase> cases = {
      {"empty", "", true, ""},
      {"ascii", "blocks.0.attn.W_Q", true, "blocks.0.attn.W_Q"},
      {"two_three_four_bytes", "é€😀", true, "é€😀"},
      {"nul", "a\0b"s, true, "a\\0b"},
      {"lone_continuation", "a\x80" "b", false, "a\\x80b"},
      {"latin1_file_name", "caf\xe9.json", false, "caf\\xe9.json"},
      {"truncated_at_the_end", "x\xe2\x82", false, "x\\xe2\\x82"},
      {"overlong_slash", "\xc0\xaf", false, "\\xc0\\xaf"},
      {"surrogate", "\xed\xa0\x80", false, "\\xed\\xa0\\x80"},
      {"above_u10ffff", "\xf4\x90\x80\x80", false, "\\xf4\\x90\\x80\\x80"},
      {"ff", "\xff", false, "\\xff"},
      {"newline_and_tab", "a\nb\tc", true, "a\nb\tc", "a\\x0ab\\x09c"},
      {"escape_sequence", "\x1b[2J\x7f", true, "\x1b[2J\x7f", "\\x1b[2J\\x7f"},
      {"c1_csi", "a\xc2\x9b" "2J \xc2\xa0", true, "a\xc2\x9b" "2J \xc2\xa0", "a\\u009b2J \xc2\xa0"},
  };
  return cases;
}

class Printable : public testing::TestWithParam<PrintableCase> {};

TEST_P(Printable, EscapesNulAndEveryByteThatIsNotUtf8) {
  const PrintableCase& c = GetParam();
  EXPECT_EQ(is_utf8(c.text), c.utf8);
  EXPECT_EQ(printable(c.text), c.printable);
  EXPECT_TRUE(is_utf8(printable(c.text)));
  const std::string terminal = terminal_text(c.text);
  EXPECT_EQ(terminal, c.terminal.empty() ? c.printable : c.terminal);
  EXPECT_TRUE(std::none_of(terminal.begin(), terminal.end(), [](char x) { return x >= 0 && (x < 0x20 || x == 0x7f); }));
}

INSTANTIATE_TEST_SUITE_P(, Printable, testing::ValuesIn(printable_cases()),
                         [](const testing::TestParamInfo<PrintableCase>& info) { return info.param.name; });

TEST(Fail, AFileNameThatIsNotUtf8PrintsEscaped) {
  try {
    fail("read_safetensors: caf\xe9.safetensors", "file: does not exist");
    ADD_FAILURE() << "fail() returned";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "read_safetensors: caf\\xe9.safetensors: file: does not exist");
  }
}

}  // namespace
}  // namespace circuitcheck

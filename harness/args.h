// Command-line arguments: positionals and `--flag value` / `--switch` options.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace circuitcheck {

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> flags;  // "--set" may repeat

  // The flag's last value, if given.
  std::optional<std::string> get(const std::string& flag) const;
  // The flag's value or `fallback`.
  std::string get_or(const std::string& flag, const std::string& fallback) const;
  // The flag's value as an integer in [lo, hi]; InputError naming the flag otherwise.
  int get_int(const std::string& flag, int fallback, int lo, int hi) const;
  std::int64_t get_int64(const std::string& flag, std::int64_t fallback, std::int64_t lo, std::int64_t hi) const;
  // The flag's value as a number strictly between lo and hi; InputError naming the flag otherwise.
  std::optional<double> get_open_interval(const std::string& flag, double lo, double hi) const;
  bool has(const std::string& flag) const { return flags.count(flag) > 0; }
};

// Parses argv[first..argc). `valued` flags take a value, `switches` take none;
// any other "--x" is an InputError naming `command`, as is a missing value.
Args parse_args(int argc, char** argv, int first, const std::string& command,
                const std::set<std::string>& valued, const std::set<std::string>& switches = {});

// Throws InputError unless there are between lo and hi positionals; `usage`
// is quoted in the message.
void expect_positionals(const Args& args, std::size_t lo, std::size_t hi, const std::string& usage);

}  // namespace circuitcheck

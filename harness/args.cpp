#include "harness/args.h"

#include "circuits/formats/error.h"

#include <sstream>

namespace circuitcheck {

std::optional<std::string> Args::get(const std::string& flag) const {
  auto it = flags.find(flag);
  if (it == flags.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::string Args::get_or(const std::string& flag, const std::string& fallback) const {
  return get(flag).value_or(fallback);
}

int Args::get_int(const std::string& flag, int fallback, int lo, int hi) const {
  return static_cast<int>(get_int64(flag, fallback, lo, hi));
}

std::int64_t Args::get_int64(const std::string& flag, std::int64_t fallback, std::int64_t lo, std::int64_t hi) const {
  auto v = get(flag);
  if (!v) return fallback;
  std::size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(*v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  check(used == v->size() && !v->empty() && n >= lo && n <= hi, flag,
        "expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + quote(*v));
  return n;
}

std::optional<double> Args::get_open_interval(const std::string& flag, double lo, double hi) const {
  auto v = get(flag);
  if (!v) return std::nullopt;
  std::size_t used = 0;
  double x = 0.0;
  try {
    x = std::stod(*v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  std::ostringstream range;
  range << "(" << lo << ", " << hi << ")";
  check(used == v->size() && !v->empty() && x > lo && x < hi, flag,
        "expected a number in " + range.str() + ", got " + quote(*v));
  return x;
}

Args parse_args(int argc, char** argv, int first, const std::string& command,
                const std::set<std::string>& valued, const std::set<std::string>& switches) {
  Args args;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || a == "--") {
      args.positional.push_back(a);
      continue;
    }
    std::string value;
    bool inline_value = false;
    if (auto eq = a.find('='); eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      inline_value = true;
    }
    if (switches.count(a)) {
      check(!inline_value, command + " " + a, "takes no value");
      args.flags[a];
      continue;
    }
    check(valued.count(a) > 0, command, "unknown option " + a);
    if (!inline_value) {
      check(i + 1 < argc, command + " " + a, "needs a value");
      value = argv[++i];
    }
    args.flags[a].push_back(value);
  }
  return args;
}

void expect_positionals(const Args& args, std::size_t lo, std::size_t hi, const std::string& usage) {
  check(args.positional.size() >= lo && args.positional.size() <= hi, "usage",
        usage + " (got " + std::to_string(args.positional.size()) + " arguments)");
}

}  // namespace circuitcheck

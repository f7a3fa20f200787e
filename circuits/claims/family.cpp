#include "circuits/claims/family.h"

#include <algorithm>

namespace circuitcheck {

void test_family(const std::vector<ClaimResult*>& results, double alpha) {
  struct Entry {
    ClaimResult* result;
    std::size_t index;  // in the result's FamilyOutcome::checks
    double p;
  };
  std::vector<Entry> entries;
  for (ClaimResult* r : results) {
    r->family = FamilyOutcome{alpha, 0, false, {}};
    for (const Check& c : r->checkpoint.checks) {
      const std::optional<double> p = p_value(c);
      if (!p) continue;
      entries.push_back({r, r->family->checks.size(), *p});
      r->family->checks.push_back({c.name, *p, 0.0, false});
    }
  }
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.p < b.p; });
  const std::size_t m = entries.size();
  bool rejecting = true;
  for (std::size_t rank = 0; rank < m; ++rank) {
    FamilyCheck& c = entries[rank].result->family->checks[entries[rank].index];
    c.level = alpha / static_cast<double>(m - rank);
    rejecting = rejecting && c.p_value <= c.level;
    c.rejected = rejecting;
  }
  for (ClaimResult* r : results) {
    r->family->tested = static_cast<int64_t>(m);
    r->family->pass = r->verdict == Verdict::kPass &&
                      std::all_of(r->family->checks.begin(), r->family->checks.end(),
                                  [](const FamilyCheck& c) { return c.rejected; });
  }
}

}  // namespace circuitcheck

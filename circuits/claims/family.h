// Family-wise error across a run: each sampled rate check alone is a test at
// level kCheckAlpha (check.h), so a run of dozens of claims passes some check
// by chance far more often. verify --family-alpha A applies Holm's step-down
// procedure (Holm 1979) to every deciding check of every claim of the run
// that has a p-value (p_value in check.h: sampled and exact rates):
// sorted by p-value, p_(1) <= ... <= p_(m), the r-th (1-based) is rejected
// while p_(r) <= A / (m - r + 1), and none after the first that is not. This
// bounds the probability that any claim passes at the family level while one
// of its rate checks' null hypotheses holds by A, whatever their dependence.
// A claim passes at the family level when its verdict is "pass" and every one
// of its checks in the family is rejected. Value checks (point estimates)
// carry no p-value and are not in the family: they decide only through the
// verdict.
#pragma once

#include "circuits/claims/verify.h"

#include <vector>

namespace circuitcheck {

// Gives every result its FamilyOutcome at family-wise level `alpha` in
// (0, 1). Ties in p-value keep the run's order (claims, then checks), so the
// outcome is deterministic.
void test_family(const std::vector<ClaimResult*>& results, double alpha);

}  // namespace circuitcheck

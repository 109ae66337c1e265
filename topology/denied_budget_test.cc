#include "topology/denied_budget.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "testing/fake_clock.h"

namespace cascade::topology {
namespace {

// Whether a refusal of `node` is shown now, and what it then says was left
// out before it (-1 when not shown).
int64_t Shown(DeniedBudget* budget, const std::string& node) {
  uint64_t not_shown = 0;
  return budget->Allow(node, &not_shown) ? static_cast<int64_t>(not_shown) : -1;
}

TEST(DeniedBudgetTest, BurstThenRateAndTheNextSaysHowManyWereLeftOut) {
  FakeClock clock;
  DeniedBudget budget(&clock, 1, 5);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Shown(&budget, "d1"), 0) << i;
  for (int i = 0; i < 95; ++i) EXPECT_EQ(Shown(&budget, "d1"), -1);
  EXPECT_EQ(budget.not_shown_total(), 95u);
  // A second later, one more: it carries the count, which starts over.
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(Shown(&budget, "d1"), 95);
  EXPECT_EQ(Shown(&budget, "d1"), -1);
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(Shown(&budget, "d1"), 1);
  EXPECT_EQ(budget.not_shown_total(), 96u);
}

TEST(DeniedBudgetTest, EachNodeHasItsOwn) {
  FakeClock clock;
  DeniedBudget budget(&clock, 1, 2);
  EXPECT_EQ(Shown(&budget, "d1"), 0);
  EXPECT_EQ(Shown(&budget, "d1"), 0);
  EXPECT_EQ(Shown(&budget, "d1"), -1);
  EXPECT_EQ(Shown(&budget, "d2"), 0);
  EXPECT_EQ(Shown(&budget, ""), 0);  // no node claimed
}

// The claimed id is the caller's: the budgets stay bounded however many
// ids, or however long, it claims.
TEST(DeniedBudgetTest, ClaimsCannotGrowItWithoutBound) {
  FakeClock clock;
  DeniedBudget budget(&clock, 1, 1);
  const std::string long_id(1000, 'x');
  EXPECT_EQ(Shown(&budget, long_id), 0);
  // Another claim with the same first 64 characters shares its budget.
  EXPECT_EQ(Shown(&budget, long_id + "y"), -1);
  // Ten thousand budgets in use at once: the next ids share one.
  for (int i = 1; i < 10000; ++i) {
    ASSERT_EQ(Shown(&budget, absl::StrCat("n", i)), 0) << i;
  }
  EXPECT_EQ(Shown(&budget, "late-1"), 0);
  EXPECT_EQ(Shown(&budget, "late-2"), -1);
  // Idle budgets make room again.
  clock.Advance(absl::Minutes(2));
  EXPECT_EQ(Shown(&budget, "late-3"), 0);
  EXPECT_EQ(Shown(&budget, "late-4"), 0);
}

}  // namespace
}  // namespace cascade::topology

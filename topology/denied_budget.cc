#include "topology/denied_budget.h"

namespace cascade::topology {
namespace {

// A claimed id is the caller's to choose: the map is bounded in entries
// and in key length (node ids are at most 64 characters; longer claims
// share the budget of their first 64).
constexpr size_t kMaxBudgets = 10000;
constexpr size_t kMaxKey = 64;
// A budget this long unused is full again: dropped when room is needed.
constexpr absl::Duration kIdle = absl::Minutes(1);
// When every entry is in use: one budget shared by the newcomers.
constexpr char kOverflow[] = "\x01overflow";

}  // namespace

DeniedBudget::DeniedBudget(const Clock* clock, double per_second, double burst)
    : clock_(clock != nullptr ? clock : &system_clock_),
      per_second_(per_second),
      burst_(burst) {}

bool DeniedBudget::Allow(absl::string_view node_id, uint64_t* not_shown) {
  const absl::Time now = clock_->Now();
  std::string key(node_id.substr(0, kMaxKey));
  absl::MutexLock lock(&mu_);
  auto it = budgets_.find(key);
  if (it == budgets_.end()) {
    if (budgets_.size() >= kMaxBudgets) {
      absl::erase_if(budgets_, [now](const auto& entry) {
        return now - entry.second.last > kIdle;
      });
    }
    if (budgets_.size() >= kMaxBudgets) key = kOverflow;
    it = budgets_
             .try_emplace(key, Budget{TokenBucket(per_second_, burst_), 0, now})
             .first;
  }
  Budget& budget = it->second;
  budget.last = now;
  if (!budget.events.Allow(now)) {
    ++budget.not_shown;
    ++not_shown_total_;
    return false;
  }
  *not_shown = budget.not_shown;
  budget.not_shown = 0;
  return true;
}

uint64_t DeniedBudget::not_shown_total() const {
  absl::MutexLock lock(&mu_);
  return not_shown_total_;
}

}  // namespace cascade::topology

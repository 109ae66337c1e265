#include "tools/sim/browser_edge.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cascade::sim {

absl::StatusOr<std::vector<std::string>> PickBrowserEdges(
    const NetworkPlan& plan, absl::string_view spec) {
  std::vector<std::string> districts;
  for (const PlanRelay& relay : plan.relays) {
    if (relay.tier == cascade::v1::TIER_DISTRICT && !relay.standby &&
        relay.sites_below > 0) {
      districts.push_back(relay.id);
    }
  }
  int count = 0;
  if (absl::SimpleAtoi(spec, &count)) {
    if (count < 1 || static_cast<size_t>(count) > districts.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("a number of districts within 1..", districts.size(),
                       " (the active districts with sites), not ", spec));
    }
    std::vector<std::string> picked;
    for (size_t i = 0; i < static_cast<size_t>(count); ++i) {
      picked.push_back(districts[i * districts.size() / count]);
    }
    return picked;
  }
  std::vector<std::string> picked;
  absl::flat_hash_set<std::string> seen;
  for (absl::string_view selector : absl::StrSplit(spec, ',')) {
    absl::StatusOr<std::string> id = plan.Resolve(std::string(selector));
    if (!id.ok()) return id.status();
    const PlanRelay* relay = plan.relay(*id);
    if (relay == nullptr || relay->tier != cascade::v1::TIER_DISTRICT) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", selector, "\" is not a district relay (sites watch there)"));
    }
    if (!seen.insert(*id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("district ", *id, " named twice"));
    }
    picked.push_back(*id);
  }
  return picked;
}

std::string EdgeListenAddress(const PlanRelay& relay) {
  return absl::StrCat(relay.address.substr(0, relay.address.rfind(':')), ":",
                      kEdgePort);
}

absl::StatusOr<std::string> PlainHttpUrl(
    const cascade::v1::MintEdgeTokenResponse& minted) {
  const std::string https =
      absl::StrCat("https://", minted.edge_address(), "/");
  if (minted.edge_address().empty() || !absl::StartsWith(minted.url(), https)) {
    return absl::InternalError(absl::StrCat("topologyd minted \"", minted.url(),
                                            "\", not a URL at https://",
                                            minted.edge_address()));
  }
  return absl::StrCat("http://", minted.url().substr(sizeof("https://") - 1));
}

}  // namespace cascade::sim

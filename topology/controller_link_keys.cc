// Link keys and their rotation: each link's key derives from the child's
// node key (LinkKey); a rotation gives nodes new keys and keeps each one's
// key before in the state, so both ends of its links are handed the link
// key before as well until the overlap ends.
#include <algorithm>
#include <string>
#include <utility>

#include "control/link_key.h"
#include "topology/controller.h"

namespace cascade::topology {

const Controller::LinkKeys& Controller::LinkKeyLocked(int child, int parent) {
  auto it = link_keys_.find({child, parent});
  if (it != link_keys_.end()) return it->second;
  const cascade::v1::Node& node = state_.topology().nodes(child);
  const std::string& parent_id = state_.topology().nodes(parent).id();
  LinkKeys keys;
  keys.key = control::LinkKey(node.key(), parent_id);
  if (auto previous = previous_keys_.find(node.id());
      previous != previous_keys_.end() &&
      clock_->Now() < previous->second.until) {
    keys.previous = control::LinkKey(previous->second.key, parent_id);
  }
  return link_keys_.emplace(std::make_pair(child, parent), std::move(keys))
      .first->second;
}

void Controller::ResolveLinkKeyRotationLocked(
    const cascade::v1::ControllerState& base,
    cascade::v1::RotateLinkKeysRequest* rotate) {
  // Whatever a caller sent, the keys are the controller's own.
  rotate->clear_keys();
  const absl::Time now = clock_->Now();
  rotate->set_unix_ms(absl::ToUnixMillis(now));
  rotate->set_overlap_until_unix_ms(
      absl::ToUnixMillis(now + options_.link_key_overlap));
  if (!rotate->node().empty()) {
    cascade::v1::NodeKey* key = rotate->add_keys();
    key->set_node(rotate->node());
    key->set_key(RandomNodeKey());
    return;
  }
  // Sites and plain endpoints are configured where they run: topologyd
  // could not hand them new keys.
  for (const cascade::v1::Node& node : base.topology().nodes()) {
    if (node.tier() == cascade::v1::TIER_SITE || node.plain_endpoint()) {
      continue;
    }
    cascade::v1::NodeKey* key = rotate->add_keys();
    key->set_node(node.id());
    key->set_key(RandomNodeKey());
  }
}

void Controller::RefreshPreviousKeysLocked() {
  const absl::Time now = clock_->Now();
  previous_keys_.clear();
  overlap_ends_ = absl::InfiniteFuture();
  for (const cascade::v1::PreviousNodeKey& entry :
       state_.previous_node_keys()) {
    const absl::Time until = absl::FromUnixMillis(entry.until_unix_ms());
    if (until <= now) continue;
    previous_keys_[entry.node()] = {entry.key(), until};
    overlap_ends_ = std::min(overlap_ends_, until);
  }
}

bool Controller::EndOverlapsLocked(absl::Time now) {
  if (now < overlap_ends_) return false;
  RefreshPreviousKeysLocked();
  link_keys_.clear();
  rebuild_all_ = true;
  return true;
}

}  // namespace cascade::topology

#include "tools/sim/standalone_config.h"

#include "absl/strings/match.h"

namespace cascade::sim {

cascade::v1::RelayConfig StandaloneConfig(
    const NetworkPlan& plan, const PlanRelay& relay,
    const std::vector<ExtraChild>& extra_children) {
  cascade::v1::RelayConfig config;
  config.set_node_id(relay.id);
  config.set_listen(relay.address);
  if (relay.parents.empty()) {
    cascade::v1::RelayParent* source = config.add_parents();
    source->set_id("source");
    source->set_address(plan.source_address);
  }
  for (const std::string& parent : relay.parents) {
    cascade::v1::RelayParent* entry = config.add_parents();
    entry->set_id(parent);
    entry->set_address(plan.relay(parent)->address);
    entry->set_key_hex(plan.LinkKey(parent, relay.id));
  }
  for (const std::string& child : relay.children) {
    cascade::v1::RelayChild* entry = config.add_children();
    entry->set_id(child);
    entry->set_key_hex(plan.LinkKey(relay.id, child));
  }
  for (const ExtraChild& child : extra_children) {
    cascade::v1::RelayChild* entry = config.add_children();
    entry->set_id(child.id);
    entry->set_key_hex(child.key_hex);
  }
  for (const cascade::v1::Stream& stream : plan.topology.streams()) {
    if (stream.direction() != cascade::v1::DIRECTION_DOWNSTREAM) continue;
    for (const cascade::v1::Track& track : stream.tracks()) {
      cascade::v1::RelayStream* entry = config.add_streams();
      entry->set_ssrc(track.ssrc());
      entry->set_direction(cascade::v1::RelayStream::DOWN);
      entry->set_h264(absl::StartsWithIgnoreCase(track.encoding(), "H264"));
    }
  }
  return config;
}

}  // namespace cascade::sim

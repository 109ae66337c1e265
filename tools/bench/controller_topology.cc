// The controller benchmark's topologies: a synthetic four-tier tree of any
// size, a reference one from topology/reference/generate, and its largest
// province (the failure that moves the most).
#include <algorithm>
#include <cstdio>
#include <string>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/text_format.h"
#include "tools/bench/controller_bench.h"

namespace cascade::bench {
namespace {

using cascade::v1::Node;

constexpr uint32_t kCommandKbps = 2600;  // as the reference topologies
constexpr int kDistrictsPerProvince = 27;
constexpr int kNodesPerProvince = 1650;  // its twin, districts and sites

Node MakeNode(const std::string& id, cascade::v1::Tier tier,
              const std::string& address, uint32_t max_children,
              const std::string& region) {
  Node node;
  node.set_id(id);
  node.set_tier(tier);
  node.set_media_address(absl::StrCat(address, ":5004"));
  if (max_children > 0) {
    node.mutable_capacity()->set_max_children(max_children);
    node.mutable_capacity()->set_uplink_kbps(
        static_cast<uint64_t>(max_children) * kCommandKbps);
  }
  node.set_role(cascade::v1::ROLE_ACTIVE);
  (*node.mutable_labels())["region"] = region;
  return node;
}

}  // namespace

cascade::v1::Topology SyntheticTopology(int nodes) {
  cascade::v1::Topology topology;
  cascade::v1::Stream* command = topology.add_streams();
  command->set_id("command");
  command->set_direction(cascade::v1::DIRECTION_DOWNSTREAM);
  command->set_bitrate_kbps(kCommandKbps);
  for (const auto& [ssrc, media, type, encoding] :
       {std::tuple<uint32_t, const char*, uint32_t, const char*>{
            0x43430001, "video", 96, "H264/90000"},
        {0x43430002, "audio", 111, "opus/48000/2"}}) {
    cascade::v1::Track* track = command->add_tracks();
    track->set_ssrc(ssrc);
    track->set_media(media);
    track->set_payload_type(type);
    track->set_encoding(encoding);
  }

  const int provinces =
      std::max(1, (nodes + kNodesPerProvince - 1) / kNodesPerProvince);
  const int districts = provinces * kDistrictsPerProvince;
  const int sites = std::max(0, nodes - 2 - 2 * provinces - districts);
  const int per_district = sites / districts;
  const int extra_sites = sites % districts;  // one more for the first few

  for (const char* id : {"nat-1", "nat-2"}) {
    Node node = MakeNode(id, cascade::v1::TIER_NATIONAL,
                         id[4] == '1' ? "127.1.0.1" : "127.1.0.2",
                         2 * provinces + 8, "national");
    if (id[4] == '2') node.set_role(cascade::v1::ROLE_STANDBY);
    *topology.add_nodes() = std::move(node);
  }
  int district_index = 0, site_index = 0;
  for (int p = 0; p < provinces; ++p) {
    const std::string province = absl::StrFormat("p%02d", p + 1);
    const std::string address = absl::StrCat("127.2.", p + 1, ".");
    // The primary also stands by for the sites of two failed districts.
    Node primary =
        MakeNode(province, cascade::v1::TIER_PROVINCIAL, address + "1",
                 kDistrictsPerProvince + 2 * (per_district + 1) + 4, province);
    Node standby = MakeNode(province + "-sb", cascade::v1::TIER_PROVINCIAL,
                            address + "2", kDistrictsPerProvince + 4, province);
    standby.set_role(cascade::v1::ROLE_STANDBY);
    for (Node* node : {&primary, &standby}) {
      node->set_parent("nat-1");
      node->add_standby_parents("nat-2");
      *topology.add_nodes() = std::move(*node);
    }
    for (int d = 0; d < kDistrictsPerProvince; ++d, ++district_index) {
      const int count = per_district + (district_index < extra_sites ? 1 : 0);
      const std::string district = absl::StrFormat("%s-d%02d", province, d + 1);
      Node node = MakeNode(district, cascade::v1::TIER_DISTRICT,
                           absl::StrCat("127.3.", district_index / 250, ".",
                                        district_index % 250 + 1),
                           count + 4, province);
      node.set_parent(province);
      node.add_standby_parents(province + "-sb");
      *topology.add_nodes() = std::move(node);
      for (int s = 0; s < count; ++s, ++site_index) {
        Node site = MakeNode(
            absl::StrFormat("%s-s%03d", district, s + 1),
            cascade::v1::TIER_SITE,
            absl::StrCat("127.", 10 + site_index / 62500, ".",
                         site_index / 250 % 250, ".", site_index % 250 + 1),
            0, province);
        site.set_parent(district);
        site.add_standby_parents(province);
        *topology.add_nodes() = std::move(site);
      }
    }
  }
  return topology;
}

absl::StatusOr<cascade::v1::Topology> ReferenceTopology(
    const std::string& generator, const std::string& profile) {
  FILE* pipe =
      popen((generator + " --profile=" + profile + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return absl::UnavailableError("cannot run " + generator);
  std::string text;
  char buffer[65536];
  for (size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) {
    text.append(buffer, n);
  }
  if (pclose(pipe) != 0) {
    return absl::UnavailableError(
        absl::StrCat(generator, " failed: ", text.substr(0, 300)));
  }
  cascade::v1::Topology topology;
  if (!google::protobuf::TextFormat::ParseFromString(text, &topology)) {
    return absl::InvalidArgumentError(
        absl::StrCat(generator, " printed no valid topology"));
  }
  return topology;
}

std::string LargestProvince(const cascade::v1::Topology& topology) {
  absl::flat_hash_map<std::string, int> children;
  for (const Node& node : topology.nodes()) ++children[node.parent()];
  std::string largest;
  int most = -1;
  for (const Node& node : topology.nodes()) {
    if (node.tier() == cascade::v1::TIER_PROVINCIAL &&
        node.role() == cascade::v1::ROLE_ACTIVE && children[node.id()] > most) {
      most = children[node.id()];
      largest = node.id();
    }
  }
  return largest;
}

}  // namespace cascade::bench

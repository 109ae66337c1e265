#include "tools/sim/test_topology.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace cascade::sim {
namespace {

using cascade::v1::Node;
using cascade::v1::Tier;
using cascade::v1::Topology;

std::string Slug(const std::string& name) {
  std::string slug = absl::AsciiStrToLower(name);
  for (char& c : slug) {
    if (!absl::ascii_isalnum(c)) c = '-';
  }
  return absl::StrReplaceAll(slug, {{"---", "-"}, {"--", "-"}});
}

}  // namespace

Topology GenerateTopology(absl::Span<const ProvinceShape> provinces,
                          uint32_t video_kbps) {
  Topology topology;
  auto add = [&](const std::string& id, Tier tier, const std::string& parent,
                 uint32_t max_children) {
    Node* node = topology.add_nodes();
    node->set_id(id);
    node->set_tier(tier);
    node->set_role(cascade::v1::ROLE_ACTIVE);
    node->set_parent(parent);
    node->mutable_capacity()->set_max_children(max_children);
    return node;
  };
  add("national", cascade::v1::TIER_NATIONAL, "",
      static_cast<uint32_t>(2 * provinces.size()));
  for (const ProvinceShape& province : provinces) {
    const std::string slug = Slug(province.name);
    const std::string active = "prov-" + slug;
    const std::string standby = active + "-standby";
    const uint32_t districts = static_cast<uint32_t>(province.districts);
    // Room for its districts and for the sites of any one of them standing
    // by on it (topologyd reserves standbys per failing parent).
    const uint32_t largest_district = static_cast<uint32_t>(
        (province.sites + province.districts - 1) / province.districts);
    add(active, cascade::v1::TIER_PROVINCIAL, "national",
        districts + largest_district)
        ->mutable_labels()
        ->insert({"region", slug});
    Node* spare =
        add(standby, cascade::v1::TIER_PROVINCIAL, "national", districts);
    spare->set_role(cascade::v1::ROLE_STANDBY);
    spare->mutable_labels()->insert({"region", slug});
    for (int d = 0; d < province.districts; ++d) {
      // Sites spread evenly, the first districts taking the remainder.
      const int sites = province.sites / province.districts +
                        (d < province.sites % province.districts ? 1 : 0);
      const std::string district = absl::StrFormat("dist-%s-%02d", slug, d + 1);
      Node* node = add(district, cascade::v1::TIER_DISTRICT, active,
                       static_cast<uint32_t>(sites));
      node->add_standby_parents(standby);
      node->mutable_labels()->insert({"region", slug});
      for (int s = 0; s < sites; ++s) {
        Node* site =
            add(absl::StrFormat("site-%s-%02d-%02d", slug, d + 1, s + 1),
                cascade::v1::TIER_SITE, district, 0);
        site->add_standby_parents(active);
        site->mutable_labels()->insert({"region", slug});
      }
    }
  }
  cascade::v1::Stream* stream = topology.add_streams();
  stream->set_id("command");
  stream->set_direction(cascade::v1::DIRECTION_DOWNSTREAM);
  stream->set_source_node("national");
  stream->set_bitrate_kbps(video_kbps);
  cascade::v1::Track* video = stream->add_tracks();
  video->set_ssrc(0x11110001);
  video->set_media("video");
  video->set_payload_type(96);
  video->set_encoding("H264/90000");
  cascade::v1::Track* audio = stream->add_tracks();
  audio->set_ssrc(0x11110002);
  audio->set_media("audio");
  audio->set_payload_type(111);
  audio->set_encoding("opus/48000/2");
  return topology;
}

}  // namespace cascade::sim
